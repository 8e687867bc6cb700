"""A root launcher's part in starting a container in a remapped user namespace
(``--userns-remap``: ``idmap.UserNamespace.by_parent``).

The init is cloned straight into its new user namespace (with its mount, PID and UTS
namespaces, which the namespace then owns: it mounts its own /proc, cgroups), so from its first
instruction it has capabilities there only. Its IPC namespace it makes itself once it is root
there (``child._own_ipc``: /dev/mqueue's owner is runc's then). What needs the initial namespace's root
is done here, by the launcher:

* the root file system: an overlay made as a detached mount (fsopen/fsmount) with the
  launcher's credentials — overlayfs works with its mounter's, and a root daemon's layers mark
  opaque directories with ``trusted.*`` xattrs, which only the initial namespace's root may
  read or write; the init attaches it in its mount namespace (``child.ChildContext.overlay_fd``);
* the network: the container's own (bridge or ``none``: ``spec.netns_pin``) is made by the
  clone, as runc makes it, so the user namespace owns it and root inside has its network
  capabilities there (raw sockets for ``ping``, ``--cap-add NET_ADMIN``); the launcher pins it
  at the daemon's path (:func:`pin_network`) and the daemon wires it (veth, addresses) before
  the init goes on. A ``container:`` network namespace is another's: the launcher's thread
  joins it for the clone (which then makes no network namespace) and returns to its own; and
  when that container's user namespace is given (``spec.userns_join``, dockerd's way: sharing
  a network namespace, they share its user namespace) the init is cloned in that one
  (``namespaces.clone_in``) rather than a new one. The launcher makes its sysfs there,
  detached, as the overlay. ``--pid``/``--ipc container:x`` join x's user namespace so too
  (``containers.nsmodes``): the clone goes into x's PID namespace from there, and the init,
  root in x's user namespace, enters x's IPC namespace itself rather than making its own. Either way the launcher sets dockerd's sysctls in it (``sysctls.NETNS_DEFAULTS``);
* before the init goes on (:func:`release`): its network pinned and wired, its cgroup
  (``cgroup.procs`` is root's), its rlimits (raising a hard limit needs ``CAP_SYS_RESOURCE``
  in the initial namespace), its ``--oom-score-adj`` (inside, ``/proc/self/oom_score_adj`` is
  not the init's to open: runc's nsexec writes it as the host's root too, before its clone)
  and the maps (no ``newuidmap``: root may write any).

* the bind mounts: detached copies of their sources, made here (``mounts.premade_bind``), as
  runc opens them outside since 1.1: a source in a directory only root may search (``/root``)
  is out of the init's reach.

The init's own mountpoint (``rootfs_dir``) is looked up by the namespace's root (the host's
first id of the range), as runc's is: each directory on the way must be searchable by it
(dockerd's remapped data root is ``0710 root:<remapped gid>``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..containers.spec import ContainerSpec
from ..errors import Unavailable
from . import child, idmap, mounts, namespaces, overlay, syscalls, sysctls
from .cgroups import Cgroup
from .launcher import StartFailed

if TYPE_CHECKING:
    from collections.abc import Callable


def clone(spec: ContainerSpec, ctx: child.ChildContext, flags: int) -> int:
    """``syscalls.clone(flags)`` for ``spec``, with its detached mounts made (and the network
    joined first): 0 in the child, whose ``ctx`` says what was done for it."""
    assert spec.userns is not None
    ctx.cgroup = None  # the launcher puts the init in it (release); ctx.cgroup is the init's
    flags &= ~namespaces.FLAGS["ipc"]  # the init's own to make or x's to join (child._own_ipc)
    joins = spec.network not in ("none", "host")
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC) if joins else None
    try:
        _premade(spec, ctx)
        if joins:
            namespaces.join_network(spec.network)
            ctx.net_joined = True
            sysctls.set_netns_defaults()
        if spec.network != "none":  # a sysfs showing that network's devices, as dockerd's
            ctx.sys_fd = mounts.premade_sys(read_only=not spec.privileged)
        if spec.userns_join:  # and x's PID namespace, for --pid container:x
            pid = namespaces.clone_in(spec.userns_join, spec.pid_ns,
                                      flags & ~namespaces.FLAGS["user"])
        else:
            pid = syscalls.clone(flags)
    except BaseException:
        _back(own)
        _close_made(ctx)
        raise
    if pid == 0:
        if own is not None:
            os.close(own)
        return 0
    _back(own)
    _close_made(ctx)
    return pid


def _premade(spec: ContainerSpec, ctx: child.ChildContext) -> None:
    """The root file system and the bind mounts' sources, which the init may not reach (its
    overlay's layers are root's to read, a source may be in a directory only root may search),
    as detached mounts."""
    ctx.overlay_fd = root_mount(spec)
    for i, m in enumerate(spec.mounts):
        if m.type == "bind":
            ctx.binds[i] = mounts.premade_bind(m.source, m.target, m.read_only,
                                               "norbind" not in m.options, m.subpath)


def _close_made(ctx: child.ChildContext) -> None:
    """The launcher's copies of the detached mounts (the init's own keep them alive)."""
    for fd in (ctx.overlay_fd, ctx.sys_fd, *(made.fd for made in ctx.binds.values())):
        if fd is not None:
            os.close(fd)


def _back(own: int | None) -> None:
    """Return the launcher's thread to its own network namespace."""
    if own is not None:
        try:
            syscalls.setns(own, namespaces.FLAGS["net"])
        finally:
            os.close(own)


def root_mount(spec: ContainerSpec) -> int:
    """The container's overlay, not attached anywhere: its fd. Its upper dir — the
    container's ``/`` — belongs to the namespace's root, as dockerd's remapped ``diff`` dirs."""
    assert spec.userns is not None
    uid, gid = spec.userns.outside(0, 0)
    st = os.stat(spec.upper_dir)
    if (st.st_uid, st.st_gid) != (uid, gid) and uid >= 0 and gid >= 0:
        os.chown(spec.upper_dir, uid, gid)
    layers = ",".join(f"lowerdir+={overlay.check_path(d)}" for d in reversed(spec.lower_dirs))
    options = (f"{layers},upperdir={overlay.check_path(spec.upper_dir)},"
               f"workdir={overlay.check_path(spec.work_dir)}")
    try:
        return syscalls.new_mount("overlay", "overlay", options, 0)
    except OSError as exc:
        raise Unavailable(f"cannot mount the container's root file system: {exc.strerror}") \
            from None


def pin_network(pid: int, path: str) -> None:
    """Pin the network namespace the clone of ``pid`` made at ``path`` (a bind mount of its
    ``ns/net``, as the daemon pins the ones it makes: the daemon's veth, port proxy, ``network
    connect`` and teardown find it there), with dockerd's sysctls (``sysctls.NETNS_DEFAULTS``)."""
    ns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    own = None
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))
        syscalls.mount(f"/proc/self/fd/{ns}", path, None, syscalls.MS_BIND)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        syscalls.setns(ns, namespaces.FLAGS["net"])
        sysctls.set_netns_defaults()
        sysctls.set_ipv6_off()  # before the daemon wires it: its own, just made
    finally:
        os.close(ns)
        _back(own)


def release(pid: int, spec: ContainerSpec, cg: Cgroup | None,
            network_wired: Callable[[], None] | None = None) -> None:
    """What the init waits for before it goes on: its network pinned (``spec.netns_pin``) and
    wired (``network_wired``: the daemon's endpoints, through the shim), its cgroup, rlimits,
    OOM score and maps."""
    assert spec.userns is not None
    if spec.netns_pin:
        pin_network(pid, spec.netns_pin)
        if network_wired is not None:
            network_wired()
    if cg is not None:
        cg.join(pid)
    for resource, soft, hard in spec.rlimits:
        try:
            syscalls.setrlimit(resource, soft, hard, pid)
        except OSError as exc:
            raise Unavailable("error during container init: error setting rlimits for ready "
                              f"process: {exc.strerror}") from None
    try:
        child.set_oom_score_adj(spec.oom_score_adj, pid)
    except OSError as exc:  # as the init's own refusal (child.run's report)
        raise StartFailed(str(exc.strerror), "setup", child.SETUP_FAILED) from None
    if not spec.userns_join:  # a joined namespace has its maps
        idmap.write_for(pid, spec.userns)
