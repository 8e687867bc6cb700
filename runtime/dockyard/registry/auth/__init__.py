"""Who may do what: authentication (htpasswd Basic, Docker bearer tokens) and the access policy.

::

    policy.py         Policy: --public globs, per-account rules → actions granted on a repository
    htpasswd.py       Apache htpasswd files with bcrypt entries
    jwt.py            compact JWS signing/verification (ES256 / RS256) with ``cryptography``
    authenticator.py  Open | Basic | Token: who is asking, what they hold, the 401 challenge
    token.py          the bundled token endpoint (Docker token auth: realm, service, scope)

Every request goes through :func:`authenticator.authorize`, the one place that decides between
success, 401 UNAUTHORIZED (no or wrong credentials: the client should authenticate) and 403
DENIED (authenticated, but the account lacks the action).
"""
