"""One conversation with one registry host over keep-alive HTTP/1.1 (urllib3 connection pools).

:class:`Registry` picks the scheme (TLS; plain HTTP only for insecure registries, after TLS
fails, as dockerd does), authenticates through :class:`~.auth.Authorizer`, and maps the OCI
``{"errors": [...]}`` bodies to typed errors worded like dockerd's (``"<code>: <message>"``,
e.g. ``manifest unknown: manifest unknown``). Request methods name the Distribution API calls
that pull and push make.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any, NoReturn

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError

from ..oci import mediatypes as mt
from .auth import Authorizer, _error_text, scope_for
from .credentials import AuthConfig
from .endpoints import Endpoint
from .errors import AccessDenied, LoginFailed, ManifestUnknown, RegistryError

MANIFEST_ACCEPT = f"{mt.OCI_INDEX}, {mt.DOCKER_MANIFEST_LIST}, {mt.OCI_MANIFEST}, {mt.DOCKER_MANIFEST}"
MANIFEST_LIMIT = 4 << 20
USER_AGENT = "dockyard (docker-compatible; python)"
_TIMEOUT = urllib3.Timeout(connect=10.0, read=300.0)


def new_pool(maxsize: int = 8, verify: bool = True) -> urllib3.PoolManager:
    """A pool shared by every Registry of one pull/push (connections reused across threads).

    ``verify=False`` is for insecure registries only: TLS without certificate checks, as
    dockerd talks to a registry listed in ``--insecure-registry`` (or on loopback). Its one
    SSL context is made here: left to urllib3, every new connection would load the system's
    CA bundle (~20 ms) only to ignore it.
    """
    if verify:
        return urllib3.PoolManager(maxsize=maxsize, block=False, timeout=_TIMEOUT, retries=False,
                                   headers={"User-Agent": USER_AGENT}, cert_reqs="CERT_REQUIRED")
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return urllib3.PoolManager(maxsize=maxsize, block=False, timeout=_TIMEOUT, retries=False,
                               headers={"User-Agent": USER_AGENT}, cert_reqs="CERT_NONE",
                               ssl_context=context)


def tls_pool(certs_dir: str) -> urllib3.PoolManager:
    """A pool trusting the system CAs plus ``certs_dir/*.crt``, presenting ``*.cert``/``*.key``."""
    import glob
    import ssl

    context = ssl.create_default_context()
    for ca in sorted(glob.glob(os.path.join(certs_dir, "*.crt"))):
        context.load_verify_locations(ca)
    for cert in sorted(glob.glob(os.path.join(certs_dir, "*.cert"))):
        context.load_cert_chain(cert, cert[: -len(".cert")] + ".key")
    return urllib3.PoolManager(maxsize=8, block=False, timeout=_TIMEOUT, retries=False,
                               headers={"User-Agent": USER_AGENT}, ssl_context=context)


_UNVERIFIED: list[urllib3.PoolManager] = []


def _unverified_pool() -> urllib3.PoolManager:
    if not _UNVERIFIED:
        import warnings

        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        _UNVERIFIED.append(new_pool(16, verify=False))
    return _UNVERIFIED[0]


class Registry:
    """The Distribution API of ``endpoint``, with ``auth``'s credentials."""

    def __init__(self, endpoint: Endpoint, auth: AuthConfig, pool: urllib3.PoolManager | None = None) -> None:
        self.endpoint = endpoint
        self.pool = self._shared_pool = tls_pool(endpoint.certs_dir) if endpoint.certs_dir else (pool or new_pool())
        self.authorizer = Authorizer(auth, self._token_fetch)
        self.base = ""
        self._lock = threading.Lock()

    # ---- connection set-up --------------------------------------------------------------

    def ping(self) -> int:
        """``GET /v2/``: choose the scheme, learn the auth challenge; return the status."""
        with self._lock:
            if self.base:
                return 200
            schemes = ["https", "http"] if self.endpoint.insecure else ["https"]
            last: Exception | None = None
            for scheme in schemes:
                url = self.endpoint.url(scheme)
                if scheme == "https" and self.endpoint.insecure:
                    self.pool = _unverified_pool()
                elif scheme == "http":
                    self.pool = self._shared_pool
                try:
                    resp = self.pool.request("GET", url + "/v2/", retries=False)
                except (SSLError, Urllib3Error) as exc:
                    last = exc
                    continue
                self.base = url
                if resp.status == 401:
                    self.authorizer.on_challenge(resp.headers.get("WWW-Authenticate", ""))
                return resp.status
            raise RegistryError(_connect_error(self.endpoint, last))

    def _token_fetch(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        try:
            resp = self.pool.request(method, url, headers=headers, body=body, retries=False)
        except Urllib3Error as exc:
            raise RegistryError(f"Get \"{url.split('?')[0]}\": {exc}") from None
        return resp.status, resp.data

    def check_login(self) -> None:
        """Prove the credentials work (``docker login``): /v2/ must answer 200 with them."""
        status = self.ping()
        if status == 200:
            return
        resp = self.request("GET", "/v2/", frozenset())
        if resp.status != 200:
            url = self.base + "/v2/"
            detail = _error_text(resp.data)
            raise LoginFailed(f"login attempt to {url} failed with status: {resp.status} {resp.reason}"
                              + (f": {detail}" if detail and resp.status != 401 else ""))

    # ---- requests -----------------------------------------------------------------------

    def request(self, method: str, path: str, scopes: frozenset[str], headers: dict[str, str] | None = None,
                body: Any = None, preload: bool = True, chunked: bool = False) -> urllib3.BaseHTTPResponse:
        """One request, retried once after a 401 whose challenge calls for new credentials."""
        self.ping()
        url = path if path.startswith(("http://", "https://")) else self.base + path
        replayable = body is None or isinstance(body, bytes)
        for attempt in (0, 1):
            sent = dict(headers or {})
            auth = self.authorizer.header(scopes)
            if auth and _same_host(url, self.base):
                sent["Authorization"] = auth
            try:
                resp = self.pool.request(method, url, headers=sent, body=body, preload_content=preload,
                                         chunked=chunked, redirect=method in ("GET", "HEAD"), retries=False)
            except Urllib3Error as exc:
                raise RegistryError(f"{method.title()} \"{url}\": {_reason(exc)}") from None
            if (resp.status == 401 and attempt == 0 and replayable
                    and self.authorizer.on_challenge(resp.headers.get("WWW-Authenticate", ""))):
                resp.drain_conn()
                continue
            return resp
        raise AssertionError("unreachable")

    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str]:
        """(bytes, media type, Docker-Content-Digest header or "") of a manifest by tag or digest."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}", _pull(repo),
                            {"Accept": MANIFEST_ACCEPT})
        if resp.status != 200:
            raise_for(resp, repo, reference)
        data = resp.data
        if len(data) > MANIFEST_LIMIT:
            raise RegistryError(f"manifest {repo}:{reference} exceeds {MANIFEST_LIMIT} bytes")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return data, media_type, resp.headers.get("Docker-Content-Digest", "")

    def blob_exists(self, repo: str, digest: str, push: bool = False) -> int | None:
        """Size of the blob if ``repo`` has it, else None."""
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", _push(repo) if push else _pull(repo))
        if resp.status == 200:
            return int(resp.headers.get("Content-Length", "-1"))
        if resp.status == 404:
            return None
        raise_for(resp, repo, digest)

    def get_blob(self, repo: str, digest: str, offset: int = 0) -> BlobStream:
        """A streaming body (from byte ``offset``); the caller reads it, then calls ``release``."""
        return BlobStream(self, repo, digest, self._open_blob(repo, digest, offset), offset)

    def _open_blob(self, repo: str, digest: str, offset: int) -> urllib3.BaseHTTPResponse:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", _pull(repo), headers, preload=False)
        if resp.status not in (200, 206):
            resp.read()
            raise_for(resp, repo, digest)
        if offset and resp.status == 200:  # Range ignored: skip what we already have
            skip = offset
            while skip:
                skip -= len(resp.read(min(skip, 1 << 20)) or _eof(resp))
        return resp

    def start_upload(self, repo: str, mount: str | None = None, source: str | None = None) -> str | None:
        """POST an upload session; None when the blob was mounted from ``source`` instead."""
        path, scopes = f"/v2/{repo}/blobs/uploads/", _push(repo)
        if mount and source:
            path += "?" + urllib.parse.urlencode({"mount": mount, "from": source})
            scopes = scopes | _pull(source)
        resp = self.request("POST", path, scopes, {"Content-Length": "0"}, body=b"")
        if resp.status == 201 and mount:
            return None
        if resp.status != 202:
            raise_for(resp, repo, "")
        return self._location(resp)

    def patch(self, repo: str, location: str, body: Iterable[bytes] | bytes, offset: int | None = None) -> str:
        """Send data to an upload: streamed (chunked encoding) or one Content-Range chunk."""
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(body, bytes) and offset is not None:
            headers["Content-Range"] = f"{offset}-{offset + len(body) - 1}"
            headers["Content-Length"] = str(len(body))
        resp = self.request("PATCH", location, _push(repo), headers, body=body, chunked=not isinstance(body, bytes))
        if resp.status != 202:
            raise_for(resp, repo, "")
        return self._location(resp)

    def finish_upload(self, repo: str, location: str, digest: str, body: bytes = b"") -> None:
        url = location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(body))}
        resp = self.request("PUT", url, _push(repo), headers, body=body)
        if resp.status != 201:
            raise_for(resp, repo, digest)

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{reference}", _push(repo),
                            {"Content-Type": media_type}, body=data)
        if resp.status not in (200, 201):
            raise_for(resp, repo, reference)
        return resp.headers.get("Docker-Content-Digest", "")

    def tags(self, repo: str) -> list[str]:
        resp = self.request("GET", f"/v2/{repo}/tags/list", _pull(repo))
        if resp.status != 200:
            raise_for(resp, repo, "")
        return list(json.loads(resp.data).get("tags") or [])

    def _location(self, resp: urllib3.BaseHTTPResponse) -> str:
        location = resp.headers.get("Location", "")
        if not location:
            raise RegistryError("registry answered an upload request without a Location")
        return urllib.parse.urljoin(self.base + "/", location)


class BlobStream:
    """A blob body that survives dropped connections, as dockerd's downloads do: a transport
    failure reopens the blob with ``Range`` from the current offset (``RETRIES`` times, with a
    short back-off); what the caller reads stays one contiguous byte stream, which its digest
    check then verifies. A failure past the retries is a :class:`RegistryError`."""

    RETRIES = 3

    def __init__(self, registry: Registry, repo: str, digest: str, resp: urllib3.BaseHTTPResponse,
                 offset: int = 0) -> None:
        self.registry, self.repo, self.digest = registry, repo, digest
        self.resp = resp
        self.offset = offset
        self.retries = self.RETRIES
        self.url = f"{registry.base}/v2/{repo}/blobs/{digest}"

    def read(self, n: int = -1, /) -> bytes:
        while True:
            try:
                chunk = self.resp.read(None if n < 0 else n)
                self.offset += len(chunk)
                return chunk
            except Urllib3Error as exc:
                self._retry(exc)

    def _retry(self, exc: Exception) -> None:
        if self.retries <= 0:
            raise RegistryError(f"Get \"{self.url}\": {_reason(exc)}") from None
        self.retries -= 1
        self.resp.close()
        self.resp.release_conn()
        time.sleep(0.2 * (self.RETRIES - self.retries))
        self.resp = self.registry._open_blob(self.repo, self.digest, self.offset)

    def release(self) -> None:
        """Back to the pool when fully read; a half-read connection is closed instead."""
        if not self.resp.closed and self.resp.tell() < int(self.resp.headers.get("Content-Length", "-1")):
            self.resp.close()
        self.resp.release_conn()


def _eof(resp: urllib3.BaseHTTPResponse) -> NoReturn:
    raise RegistryError(f"unexpected end of blob from {resp.geturl() or 'registry'}")


def _pull(repo: str) -> frozenset[str]:
    return frozenset({scope_for(repo, "pull")})


def _push(repo: str) -> frozenset[str]:
    return frozenset({scope_for(repo, "pull,push")})


def _same_host(url: str, base: str) -> bool:
    return urllib.parse.urlsplit(url).netloc == urllib.parse.urlsplit(base).netloc


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc)


def _connect_error(endpoint: Endpoint, exc: Exception | None) -> str:
    reason = _reason(exc) if exc else "no answer"
    if isinstance(exc, SSLError) and not endpoint.insecure:
        return (f"Get \"https://{endpoint.host}/v2/\": {reason} (a registry served over plain HTTP "
                "must be listed with the daemon's --insecure-registry)")
    return f"Get \"{endpoint.url('https' if not endpoint.insecure else 'http')}/v2/\": {reason}"


def error_codes(data: bytes) -> list[tuple[str, str]]:
    """[(code, message)] of an OCI error body."""
    try:
        body = json.loads(data)
        return [(str(e.get("code", "")), str(e.get("message", ""))) for e in body.get("errors") or []]
    except (ValueError, AttributeError, TypeError):
        return []


def raise_for(resp: urllib3.BaseHTTPResponse, repo: str, reference: str) -> NoReturn:
    """Raise the typed error for a failed Distribution API response."""
    codes = error_codes(resp.data or b"")
    text = ": ".join([f"{c.lower().replace('_', ' ')}: {m}" for c, m in codes[:1]]) if codes else ""
    status = resp.status
    if status == 401:
        raise LoginFailed(text or "unauthorized: authentication required")
    if status == 403:
        raise AccessDenied(text or "denied: requested access to the resource is denied")
    if status == 404:
        raise ManifestUnknown(text or f"{repo}: not found")
    raise RegistryError(text or f"{repo}{':' + reference if reference else ''}: registry answered "
                        f"{status} {resp.reason}")
