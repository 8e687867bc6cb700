"""Apache htpasswd files with bcrypt entries (``htpasswd -B``), as distribution accepts them.

Checking a bcrypt hash costs tens of milliseconds by design; a client sending Basic credentials
on every request would pay it every time, so successful checks are remembered by a keyed
digest of the password (never the password itself) until the file changes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

import bcrypt

log = logging.getLogger(__name__)


class Htpasswd:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._mtime = -1.0
        self._entries: dict[str, bytes] = {}
        self._verified: set[tuple[str, bytes]] = set()
        self._key = secrets.token_bytes(32)
        self._load()

    def _load(self) -> None:
        mtime = os.stat(self.path).st_mtime
        if mtime == self._mtime:
            return
        entries: dict[str, bytes] = {}
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                log.warning("%s:%d: not a bcrypt entry; ignored", self.path, number)
                continue
            entries[user] = hashed.encode()
        self._entries, self._mtime, self._verified = entries, mtime, set()

    def verify(self, user: str, password: str) -> bool:
        self._load()
        hashed = self._entries.get(user)
        if hashed is None:
            return False
        token = (user, hmac.new(self._key, password.encode(), hashlib.sha256).digest())
        if token in self._verified:
            return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False
        if ok:
            self._verified.add(token)
        return ok


def entry(user: str, password: str, rounds: int = 5) -> str:
    """One htpasswd line (used by tests and docs; ``htpasswd -nbB`` writes the same)."""
    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()}"
