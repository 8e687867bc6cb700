"""File-system work a rootless daemon cannot do in its own namespaces, done in a helper process
that enters the rootless user namespace (the map its containers get) and a private mount
namespace.

Why: a non-root daemon may not mount anything (an overlay view of an image for a build's COPY,
a stopped container's root for ``docker cp``) and may not give a file an owner other than
itself. Inside a user namespace it owns, a process is root: it mounts overlays (with
``userxattr``) in its own mount namespace, and ``chown`` to an id of the map lands on the
subordinate id outside — the same owners a container of that daemon sees and makes.

* :func:`enter` moves the calling, single-threaded process there (``cparchive`` uses it);
* :func:`call` runs a picklable callable in a fresh helper that entered there, and returns its
  result or raises its exception (the builder's WORKDIR and COPY steps, a layer's owners);
* :func:`remove_tree` deletes a tree the daemon cannot empty alone (a directory of another
  owner, 0750 of the container's 1000, say, is not the daemon's to write).

Subordinate ids are mapped by ``newuidmap``/``newgidmap``, which must run *outside* the new
namespace for its process: :func:`enter` forks that small job before it unshares.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any, Final, TypeVar

from ..errors import Unavailable
from . import idmap, mounts, syscalls

T = TypeVar("T")
log = logging.getLogger(__name__)
_PACKAGE_ROOT: Final = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOT: Final = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
                "from dockyard.linux.userns import _serve; _serve()")


def inside() -> bool:
    """True in a user namespace other than the initial one (whose map is the identity)."""
    try:
        with open("/proc/self/uid_map", encoding="ascii") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def current() -> idmap.UserNamespace:
    """The calling process's own maps (inside a user namespace: which ids a chown may use).
    Who wrote them, as far as they tell: several ranges, a rootless daemon's helpers; one range
    with setgroups allowed, a root launcher (``--userns-remap``)."""
    uids, gids = _own_map("uid_map"), _own_map("gid_map")
    with open("/proc/self/setgroups", encoding="ascii") as f:
        setgroups = f.read().strip() != "deny"
    several = len(uids) > 1
    return idmap.UserNamespace(uids, gids, use_helpers=several,
                               by_parent=setgroups and not several)


def _own_map(name: str) -> list[idmap.Mapping]:
    with open(f"/proc/self/{name}", encoding="ascii") as f:
        return [(int(a), int(b), int(c)) for a, b, c in
                (line.split() for line in f if line.strip())]


def enter(ns: idmap.UserNamespace | None = None) -> None:
    """Unshare a user namespace with the rootless map and become its root. The caller must be
    single-threaded (the kernel refuses ``CLONE_NEWUSER`` otherwise)."""
    ns = ns or idmap.rootless()
    if not ns.use_helpers:
        _unshare_user()
        idmap.write_own(ns)
    else:
        _enter_with_helpers(ns)
        os.setgroups([])  # the host's supplementary groups would show up as nobody
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _unshare_user() -> None:
    try:
        syscalls.unshare(syscalls.CLONE_NEWUSER)
    except OSError as exc:
        reason = idmap.userns_unavailable_reason()
        raise Unavailable(f"cannot create a user namespace ({exc.strerror}): "
                          f"{reason or 'unprivileged user namespaces are not allowed here'}") from None


def _enter_with_helpers(ns: idmap.UserNamespace) -> None:
    me = os.getpid()
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()
    child = os.fork()
    if child == 0:  # stays outside: maps its parent once the parent has unshared
        os.close(go_w)
        os.close(err_r)
        code = 1
        try:
            if os.read(go_r, 1) == b"1":
                idmap.write_for(me, ns)
                code = 0
        except BaseException as exc:  # noqa: BLE001 — reported through the pipe
            os.write(err_w, str(exc).encode()[:4000])
        finally:
            os._exit(code)
    os.close(go_r)
    os.close(err_w)
    try:
        _unshare_user()
    except BaseException:
        os.close(go_w)
        os.waitpid(child, 0)
        os.close(err_r)
        raise
    os.write(go_w, b"1")
    os.close(go_w)
    _, status = os.waitpid(child, 0)
    message = os.read(err_r, 4096).decode(errors="replace")
    os.close(err_r)
    if status != 0:
        raise Unavailable(message or "newuidmap/newgidmap failed to map the user namespace")


def call(fn: Callable[..., T], *args: Any, stdlib_only: bool = False) -> T:
    """``fn(*args)`` in a helper inside the rootless user namespace with a private mount
    namespace (mounts made there vanish with it). Arguments and result cross as pickles.
    ``stdlib_only``: ``fn`` needs nothing from site-packages, so the helper starts without
    ``site`` (``-S``, as the launcher), about half of its start-up."""
    flags = ["-S"] if stdlib_only else []
    proc = subprocess.Popen([sys.executable, *flags, "-c", _BOOT, _PACKAGE_ROOT],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(pickle.dumps((fn, args)))
    if not out:
        text = err.decode(errors="replace").strip()
        raise Unavailable(f"rootless helper failed: {text.splitlines()[-1] if text else proc.returncode}")
    ok, value = pickle.loads(out)
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def remove_tree(where: str | os.PathLike[str]) -> None:
    """``rmtree``, finished in a helper when a rootless daemon could not do it alone (a
    container's or a layer's directories of mode 0 or of another owner). Never raises: what
    is left is logged, for the caller's next clean-up (a daemon's start, a store's clean)."""
    path = os.fspath(where)
    shutil.rmtree(path, ignore_errors=True)
    if os.geteuid() == 0 or not os.path.lexists(path):
        return
    try:
        call(shutil.rmtree, path, True, stdlib_only=True)
    except (Unavailable, OSError) as exc:
        log.warning("cannot remove %s: %s", path, exc)


def _serve() -> None:
    """The helper's side of :func:`call`."""
    fn, args = pickle.loads(sys.stdin.buffer.read())
    try:
        enter()
        syscalls.unshare(syscalls.CLONE_NEWNS)
        mounts.make_private()
        result: tuple[bool, Any] = (True, fn(*args))
    except BaseException as exc:  # noqa: BLE001 — handed back to the caller
        result = (False, exc)
    try:
        data = pickle.dumps(result)
    except Exception:  # noqa: BLE001 — an exception that does not pickle
        data = pickle.dumps((False, Unavailable(f"{type(result[1]).__name__}: {result[1]}")))
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
