"""An unprivileged user for rootless tests, made by a root test run and removed after it.

``UnprivilegedUser.create(subids=True)`` adds a user (``useradd``; with subordinate ids in
/etc/subuid and /etc/subgid, or none for the single-id map) with a private home directory,
and makes this interpreter usable by it: a root-only install (pyenv under ``/root``) is
bind-mounted read-only at a path the user can reach. ``run``/``popen`` start commands as the
user (``setuid`` in the child, so the pid is the command's own), with ``env()`` as the
environment: HOME, the interpreter first on PATH, this checkout's dockyard importable
(``PYTHONPATH``: a worktree's, not the installed one) and ``XDG_RUNTIME_DIR`` when one was
asked for.
``run_python`` runs a script's source as the user with this checkout's dockyard importable.
``cleanup()`` kills what still runs as the user (by pid), deletes the user, its subid lines,
its directories and the bind mount; ``made()`` is create and cleanup around a ``with`` block.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from ..linux import remap
from ..linux.idmap import SUBGID, SUBUID, subid_entries

RUNTIME_DIR: Path = Path(__file__).resolve().parents[2]  # the directory dockyard is imported from


def _reachable_by_others(path: Path) -> bool:
    """Every directory on the way is searchable by "other" (the user is in no group of ours)."""
    for part in [path, *path.parents]:
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


@dataclass
class UnprivilegedUser:
    name: str
    uid: int
    gid: int
    home: Path
    runtime_dir: Path | None
    python: str
    python_mount: Path | None = None
    library_path: str = ""
    extra_dirs: list[Path] = field(default_factory=list)

    @classmethod
    def create(cls, subids: bool = True, runtime_dir: bool = True, prefix: str = "dy") -> Self:
        if os.geteuid() != 0:
            raise PermissionError("creating a test user needs root")
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        home = Path(tempfile.mkdtemp(prefix=f"dytest-{name}-home-", dir="/tmp"))
        extra = [] if subids else ["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]
        subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/sh", *extra, name],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(name)
        user = cls(name, entry.pw_uid, entry.pw_gid, home, None, sys.executable)
        try:
            os.chown(home, user.uid, user.gid)
            home.chmod(0o700)
            if runtime_dir:
                user.runtime_dir = Path(tempfile.mkdtemp(prefix=f"dytest-{name}-run-", dir="/tmp"))
                os.chown(user.runtime_dir, user.uid, user.gid)
            user._python_for_user()
        except BaseException:
            user.cleanup()
            raise
        return user

    @classmethod
    @contextlib.contextmanager
    def made(cls, subids: bool = True, runtime_dir: bool = True, prefix: str = "dy") -> Iterator[Self]:
        """A user for the ``with`` block, removed after it however the block ends."""
        user = cls.create(subids, runtime_dir, prefix)
        try:
            yield user
        finally:
            user.cleanup()

    def _python_for_user(self) -> None:
        """This interpreter, reachable by the user: as it is, or its installation bind-mounted
        read-only under /tmp (a venv is not handled: its base would be out of reach too)."""
        base = Path(sys.base_prefix)
        if _reachable_by_others(base) and _reachable_by_others(Path(sys.executable).parent):
            return
        mount = Path(tempfile.mkdtemp(prefix=f"dytest-{self.name}-python-", dir="/tmp"))
        mount.chmod(0o755)
        subprocess.run(["mount", "--bind", str(base), str(mount)], check=True, capture_output=True)
        self.python_mount = mount
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], check=True, capture_output=True)
        executable = Path(sys.executable).resolve()
        self.python = str(mount / executable.relative_to(base.resolve()))
        self.library_path = str(mount / "lib")

    def env(self, **extra: str) -> dict[str, str]:
        path = [str(Path(self.python).parent), "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        env = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "LANG": "C.UTF-8",
               "PATH": ":".join(path), "SHELL": "/bin/sh"}
        if self.library_path:
            env["LD_LIBRARY_PATH"] = self.library_path
        env["PYTHONPATH"] = str(RUNTIME_DIR)  # a daemon the user runs: this checkout's code
        if self.runtime_dir is not None:
            env["XDG_RUNTIME_DIR"] = str(self.runtime_dir)
        env.update(extra)
        return env

    def daemon_socket(self) -> Path:
        """Where the user's rootless daemon listens by default: under ``$XDG_RUNTIME_DIR``, or
        without one under ``/tmp/dockyard-<uid>`` (cleared first: a deleted user with the same
        uid may have left it; removed again by ``cleanup``)."""
        if self.runtime_dir is not None:
            return self.runtime_dir / "dockyard" / "dockyard.sock"
        fallback = Path(f"/tmp/dockyard-{self.uid}")
        if fallback not in self.extra_dirs:
            shutil.rmtree(fallback, ignore_errors=True)
            self.extra_dirs.append(fallback)
        return fallback / "dockyard" / "dockyard.sock"

    def _as_user(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        env = self.env()
        env.update(kwargs.pop("env", None) or {})
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "env": env,
                "cwd": str(self.home), **kwargs}

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(argv, check=False, **self._as_user(kwargs))

    def run_python(self, source: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``source`` saved as ``script.py`` in the user's home and run there by this
        interpreter as the user, ``args`` after it, with dockyard importable from
        :data:`RUNTIME_DIR`; stdout and stderr captured as text."""
        script = self.home / "script.py"
        script.write_text(source)
        script.chmod(0o644)
        return self.run([self.python, str(script), *args], timeout=timeout)

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        return subprocess.Popen(argv, **self._as_user(kwargs))

    def pids(self) -> list[int]:
        """Processes whose real uid is the user's."""
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == self.uid:
                            out.append(int(entry.name))
                        break
        return out

    def kill_all(self, timeout: float = 5.0) -> list[int]:
        """SIGKILL, by pid, whatever still runs as the user; returns the pids found."""
        found = self.pids()
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def cleanup(self) -> None:
        self.kill_all()
        subprocess.run(["userdel", self.name], check=False, capture_output=True)
        with remap.pwd_locked():  # userdel may leave them; others' lines kept, as the tools do
            for path in (SUBUID, SUBGID):
                if any(owner == self.name for owner, _, _ in subid_entries(path)):
                    remap.remove_ranges(path, self.name)
        if self.python_mount is not None:
            subprocess.run(["umount", str(self.python_mount)], check=False, capture_output=True)
            with contextlib.suppress(OSError):
                self.python_mount.rmdir()
        for directory in [self.home, self.runtime_dir, *self.extra_dirs]:
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)


__all__ = ["RUNTIME_DIR", "UnprivilegedUser"]
