"""Registry credentials: the ``X-Registry-Auth`` header and ``~/.docker/config.json``.

The daemon never reads config.json: clients (docker CLI, docker-py, ``dockyard``) look the
credentials up and send them base64url-encoded JSON in ``X-Registry-Auth``. config.json
(``$DOCKER_CONFIG/config.json``, default ``~/.docker/config.json``) holds::

    {"auths": {"localhost:5000": {"auth": base64("user:password"), "identitytoken": "…"}},
     "credsStore": "pass",                      # every registry through docker-credential-pass
     "credHelpers": {"registry.example": "ecr-login"}}   # one registry through a helper

A helper speaks JSON on stdin/stdout: ``get`` (server in, ``{Username, Secret}`` out; Username
``<token>`` means Secret is an identity token), ``store``, ``erase``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument

TOKEN_USER = "<token>"


@dataclass(frozen=True)
class AuthConfig:
    """What a client sends in ``X-Registry-Auth`` (Docker's types.AuthConfig)."""

    username: str = ""
    password: str = ""
    serveraddress: str = ""
    identitytoken: str = ""
    registrytoken: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identitytoken or self.registrytoken)

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def header(self) -> str:
        return base64.urlsafe_b64encode(json.dumps(self.to_json()).encode()).decode()

    def __repr__(self) -> str:  # never show a secret in a log or traceback
        return f"AuthConfig(username={self.username!r}, serveraddress={self.serveraddress!r})"


def decode_header(value: str | None) -> AuthConfig:
    """Parse ``X-Registry-Auth`` (base64url JSON, padding optional; plain JSON too, as some old
    clients send it); empty → anonymous, and so is a header that does not decode, as dockerd
    20.10 takes it ("to increase compatibility to existing api it is defaulting to be empty")."""
    if not value or not value.strip():
        return AuthConfig()
    text = value.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        try:
            data = json.loads(text)
        except ValueError:
            return AuthConfig()
    return from_dict(data) if isinstance(data, dict) else AuthConfig()


def from_dict(data: dict[str, Any]) -> AuthConfig:
    keys = {k.lower(): v for k, v in data.items() if isinstance(v, str)}
    auth = AuthConfig(keys.get("username", ""), keys.get("password", ""), keys.get("serveraddress", ""),
                      keys.get("identitytoken", ""), keys.get("registrytoken", ""))
    if not auth.username and keys.get("auth"):
        user, password = _split_auth(keys["auth"])
        auth = AuthConfig(user, password, auth.serveraddress, auth.identitytoken, auth.registrytoken)
    return auth


def _split_auth(value: str) -> tuple[str, str]:
    try:
        user, sep, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("invalid auth configuration file: bad base64 in \"auth\"") from None
    if not sep:
        raise InvalidArgument("invalid auth configuration file: \"auth\" is not user:password")
    return user, password


# ---- config.json ---------------------------------------------------------------------------


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def config_path() -> Path:
    return config_dir() / "config.json"


def load_config(path: Path | None = None) -> dict[str, Any]:
    path = path or config_path()
    try:
        data = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise InvalidArgument(f"{path}: invalid JSON: {exc}") from None
    return data if isinstance(data, dict) else {}


def save_config(data: dict[str, Any], path: Path | None = None) -> None:
    """Write config.json atomically with mode 0600 (it may hold secrets)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.json.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _helper_for(config: dict[str, Any], server: str) -> str | None:
    helpers = config.get("credHelpers") or {}
    return helpers.get(server) or config.get("credsStore") or None


def lookup(server: str, path: Path | None = None) -> AuthConfig:
    """Credentials for ``server`` (a config.json key), anonymous when none are stored."""
    config = load_config(path)
    helper = _helper_for(config, server)
    if helper:
        return helper_get(helper, server)
    entry = (config.get("auths") or {}).get(server)
    if not entry:
        return AuthConfig(serveraddress=server)
    auth = from_dict(entry)
    return AuthConfig(auth.username, auth.password, server, auth.identitytoken)


def store(auth: AuthConfig, path: Path | None = None) -> None:
    """Remember ``auth`` for ``auth.serveraddress`` (``docker login``)."""
    config = load_config(path)
    helper = _helper_for(config, auth.serveraddress)
    if helper:
        user, secret = (TOKEN_USER, auth.identitytoken) if auth.identitytoken else (auth.username, auth.password)
        _run_helper(helper, "store", json.dumps({"ServerURL": auth.serveraddress, "Username": user,
                                                 "Secret": secret}))
        return
    entry: dict[str, str] = {"auth": base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()}
    if auth.identitytoken:
        entry = {"auth": base64.b64encode(f"{auth.username}:".encode()).decode(),
                 "identitytoken": auth.identitytoken}
    config.setdefault("auths", {})[auth.serveraddress] = entry
    save_config(config, path)


def erase(server: str, path: Path | None = None) -> bool:
    """Forget ``server``'s credentials (``docker logout``); False if none were stored."""
    config = load_config(path)
    helper = _helper_for(config, server)
    found = False
    if helper:
        found = _run_helper(helper, "erase", server, check=False) == 0
    auths = config.get("auths") or {}
    if server in auths:
        del auths[server]
        save_config(config, path)
        found = True
    return found


def helper_get(helper: str, server: str) -> AuthConfig:
    try:
        result = subprocess.run([f"docker-credential-{helper}", "get"], input=server.encode(),
                                capture_output=True, check=False)
    except FileNotFoundError:
        raise InvalidArgument(f"docker-credential-{helper}: executable file not found in $PATH") from None
    out = result.stdout.decode(errors="replace").strip()
    if result.returncode != 0:
        if "credentials not found" in out.lower():
            return AuthConfig(serveraddress=server)
        raise InvalidArgument(f"error getting credentials - err: exit status {result.returncode}, out: `{out}`")
    try:
        data = json.loads(out)
    except ValueError:
        raise InvalidArgument(f"error getting credentials - invalid output of docker-credential-{helper}") from None
    user, secret = str(data.get("Username", "")), str(data.get("Secret", ""))
    if user == TOKEN_USER:
        return AuthConfig(serveraddress=server, identitytoken=secret)
    return AuthConfig(user, secret, server)


def _run_helper(helper: str, verb: str, stdin: str, check: bool = True) -> int:
    try:
        result = subprocess.run([f"docker-credential-{helper}", verb], input=stdin.encode(),
                                capture_output=True, check=False)
    except FileNotFoundError:
        raise InvalidArgument(f"docker-credential-{helper}: executable file not found in $PATH") from None
    if check and result.returncode != 0:
        out = result.stdout.decode(errors="replace").strip()
        raise InvalidArgument(f"error storing credentials - err: exit status {result.returncode}, out: `{out}`")
    return result.returncode
