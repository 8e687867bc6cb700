"""``ADD <URL>``: the file fetched by the daemon, as the classic builder fetches it.

The download lands in a private directory of the build as ``<dir>/<filename>`` (the URL
path's last component, else the ``Content-Disposition`` filename) with mode 0600 and the
``Last-Modified`` time, and is never extracted. The step's cache key and its history name
(the bare tarsum, without ``file:``, checked against dockerd 20.10) come from that file, so the URL is fetched on every build, as dockerd does,
and an unchanged download is a cache hit. Only http and https are fetched; git URLs are refused.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import posixpath
import shutil
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path

from .errors import BuildError

TIMEOUT = 60.0
UNNAMED = "__unnamed__"  # dockerd's name for a download whose URL names no file


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://", "git@", "git://"))


def download(url: str, parent: Path) -> Path:
    """Fetch ``url`` into a new directory below ``parent``; the file's path."""
    if not url.startswith(("http://", "https://")):
        raise BuildError(f"ADD from a git repository is not supported by this builder: {url}")
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        raise BuildError(f"failed to GET {url} with status {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BuildError(f"error downloading {url}: {reason}") from None
    with response:
        name = filename(url, response.headers)
        directory = Path(_mkdtemp(parent))
        path = directory / (name or UNNAMED)
        _save(response, path)
    os.chmod(path, 0o600)
    modified = _last_modified(response.headers)
    if modified is not None:
        os.utime(path, (modified, modified))
    return path


def filename(url: str, headers: Message) -> str:
    """The classic builder's choice: the URL path's base name, else Content-Disposition's."""
    path = urllib.parse.urlparse(url).path
    if path and not path.endswith("/"):
        return posixpath.basename(path)
    disposition = headers.get("Content-Disposition", "")
    if disposition:
        msg = Message()
        msg["Content-Disposition"] = disposition
        name = msg.get_param("filename", header="Content-Disposition")
        if isinstance(name, str) and name and not name.endswith("/"):
            return posixpath.basename(name)
    return ""


def _mkdtemp(parent: Path) -> str:
    import tempfile

    parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix="add-url-", dir=parent)


def _save(response: object, path: Path) -> None:
    with open(path, "wb") as f:
        while chunk := response.read(1 << 20):  # type: ignore[attr-defined]
            f.write(chunk)


def verify(path: Path, checksum: str) -> None:
    """``ADD --checksum=sha256:…``: BuildKit's wording when the download differs."""
    if not checksum:
        return
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    digest = "sha256:" + h.hexdigest()
    if checksum != digest:
        raise BuildError(f"digest mismatch {digest}: {checksum}")


def _last_modified(headers: Message) -> float | None:
    value = headers.get("Last-Modified")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def remove(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)
