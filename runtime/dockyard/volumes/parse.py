"""A container's mount requests, parsed and validated as dockerd's Linux parser does it.

Pure (no I/O except the existence check ``--mount type=bind`` asks for), so the rules and
their wording live in one place. Four sources feed one list of :class:`MountRequest`:

- ``HostConfig.Binds``   ``/host:/ctr[:mode]`` (bind) or ``name:/ctr[:mode]`` (named volume);
  a missing host directory is created later, as dockerd does for ``-v``;
- ``HostConfig.Mounts``  ``{"Type": "bind"|"volume"|"tmpfs", "Source", "Target", …}``; a bind
  source must exist;
- ``HostConfig.Tmpfs``   ``{"/run": "size=64m,mode=1777"}``;
- ``Config.Volumes``     ``{"/data": {}}`` — the image's VOLUMEs and ``-v /data``: anonymous
  volumes, skipped where another mount already covers the path.

Messages follow dockerd's (``invalid mount config for type "bind": …``,
``invalid volume specification: '…'``, ``Duplicate mount point: …``): clients match on them.

A bind whose source and the daemon's root are one inside the other (dockerd's
``validateBindDaemonRoot``: a plain string prefix, either way) must propagate: its propagation,
unless asked for, is ``rslave`` (:attr:`MountRequest.implied`), and one asked for that is
neither ``rslave`` nor ``rshared`` is refused (:func:`check_daemon_root`).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Final

from ..build.dockerignore import go_clean
from ..errors import InvalidArgument
from ..gostrconv import quote
from .subpath import is_local

# \Z where Go's regexp has $: Python's $ also takes a trailing newline
NAME_RE: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
PROPAGATIONS: Final = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
DEFAULT_PROPAGATION: Final = "rprivate"
DAEMON_ROOT_PROPAGATIONS: Final = ("rslave", "rshared")  # what a bind in the daemon's root may ask
_RW_MODES: Final = ("rw", "ro")
_LABEL_MODES: Final = ("z", "Z")
_COPY_MODES: Final = ("nocopy",)
_CONSISTENCY: Final = ("consistent", "cached", "delegated")
# tmpfs option words that are mount flags, not tmpfs data
TMPFS_FLAGS: Final = ("ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "sync",
                      "async", "atime", "noatime", "diratime", "nodiratime", "relatime",
                      "norelatime", "strictatime", "nostrictatime", "mand", "nomand")


@dataclass
class MountRequest:
    """One mount as dockerd's ``MountPoint`` holds it before the volume is looked up."""

    type: str                      # bind | volume | tmpfs
    destination: str
    source: str = ""               # host path (bind)
    name: str = ""                 # volume name; "" for a new anonymous volume
    read_only: bool = False
    mode: str = ""
    propagation: str = ""
    copy_data: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    driver: str = ""
    driver_opts: dict[str, str] = field(default_factory=dict)
    tmpfs_data: list[str] = field(default_factory=list)
    create_source: bool = False    # a -v bind whose host directory may be made
    listed: bool = True            # shown in the container's Mounts (not for HostConfig.Tmpfs)
    registered: bool = False       # named in Binds or Mounts, not Config.Volumes: dockerd's
    #                                registerMountPoints gives a local volume's Mode "z"
    recursive: bool = True         # a bind's submounts too (BindOptions.NonRecursive: false)
    inherited: bool = False        # from HostConfig.VolumesFrom (no volume "create" event)
    subpath: str = ""              # VolumeOptions.Subpath, lexically checked (.subpath)
    spec_source: str = ""          # a bind's source as written (dockerd's Spec.Source)
    asked: bool = False            # a bind's propagation was asked for (a -v mode word,
    #                                BindOptions.Propagation): dockerd's Spec.BindOptions
    implied: bool = False          # rslave given for a bind in the daemon's root, not asked
    mounted: bool = True           # False: a --mount under a HostConfig.Tmpfs one (shown only)


class InvalidMount(InvalidArgument):
    pass


class InvalidBind(InvalidMount):
    """A ``HostConfig.Binds`` entry its parser refuses: dockerd 20.10 parses them while it
    registers the mounts, after its create checks, and returns the error as it is — a 500."""

    status = 500


def invalid_spec(raw: str) -> str:
    return f"invalid volume specification: '{raw}'"


def _config_error(kind: str, message: str) -> InvalidMount:
    return InvalidMount(f'invalid mount config for type "{kind}": {message}')


def check_volume_name(name: str) -> None:
    """The local driver's rule: a name can never be a path (no "/", no "..")."""
    if len(name) == 1:
        raise InvalidMount(f"create {name}: volume name is too short, names should be at least "
                           "two alphanumeric characters")
    if not NAME_RE.match(name):
        raise InvalidMount(f'create {name}: {quote(name)} includes invalid characters for a local '
                           'volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you '
                           "intended to pass a host directory, use absolute path")


def valid_mode(mode: str) -> bool:
    """dockerd's ``validMountMode``: comma-separated words, at most one of each kind."""
    if not mode:
        return True
    counts = {"rw": 0, "label": 0, "prop": 0, "copy": 0, "cons": 0}
    for word in mode.split(","):
        kind = ("rw" if word in _RW_MODES else "label" if word in _LABEL_MODES
                else "prop" if word in PROPAGATIONS else "copy" if word in _COPY_MODES
                else "cons" if word in _CONSISTENCY else None)
        if kind is None:
            return False
        counts[kind] += 1
        if counts[kind] > 1:
            return False
    return True


def _is_root(path: str) -> bool:
    """Whether Go's ``path.Clean`` makes ``path`` the root (``/x/..``, ``//``: normpath keeps
    a leading ``//``)."""
    return posixpath.normpath(path) in ("/", "//")


def _check_target(kind: str, target: str) -> None:
    if not target:
        raise _config_error(kind, "field Target must not be empty")
    if _is_root(target):
        raise _config_error(kind, "invalid specification: destination can't be '/'")
    if not target.startswith("/"):
        raise _config_error(kind, f"invalid mount path: '{target}' mount path must be absolute")


def parse_bind(raw: str, check_name: bool = True) -> MountRequest:
    """One ``HostConfig.Binds`` entry (``ParseMountRaw``); a named volume's name is checked
    as the volume's create checks it (a 400 in its words, after the parse; ``check_name``
    False: the caller does, after its duplicate check, as dockerd)."""
    if raw.count(":") > 2 or not raw.split(":", 1)[0]:
        raise InvalidBind(invalid_spec(raw))
    parts = raw.split(":")
    if len(parts) == 1:
        source, target, mode = "", parts[0], ""
    elif len(parts) == 2:
        if valid_mode(parts[1]):  # "/foo:rw": a mode but no destination
            raise InvalidBind(invalid_spec(raw))
        (source, target), mode = parts, ""
    else:
        source, target, mode = parts
    if not valid_mode(mode):
        raise InvalidBind(f"invalid mode: {mode}")
    words = mode.split(",") if mode else []
    kind = "bind" if source.startswith("/") else "volume"
    try:
        _check_target(kind, target)
        if kind == "bind" and "nocopy" in words:  # the parser's VolumeOptions on a bind
            raise _config_error(kind, "field VolumeOptions must not be specified")
        if kind == "volume" and any(w in PROPAGATIONS for w in words):  # … BindOptions on a volume
            raise _config_error(kind, "field BindOptions must not be specified")
    except InvalidMount as exc:
        raise InvalidBind(f"{invalid_spec(raw)}: {exc}") from None
    if kind == "volume" and source and check_name:
        check_volume_name(source)
    req = MountRequest(type=kind, destination=go_clean(target), mode=mode,
                       read_only="ro" in words, copy_data="nocopy" not in words, registered=True)
    if kind == "bind":
        req.source, req.spec_source = go_clean(source), source
        req.create_source = True
        asked = next((w for w in words if w in PROPAGATIONS), "")
        req.propagation, req.asked = asked or DEFAULT_PROPAGATION, bool(asked)
    else:
        req.name = source
    return req


def _extra(kind: str, spec: dict[str, Any], *names: str) -> None:
    for name in names:
        if spec.get(name) is not None:
            raise _config_error(kind, f"field {name} must not be specified")


def check_mount(spec: dict[str, Any]) -> None:
    """One ``HostConfig.Mounts`` entry as dockerd's ``ValidateMountConfig`` checks it, at a
    create before the image is looked up (and at each ``docker start``): the target, then the
    type and the fields it takes; a bind's source must exist. A volume's name and a tmpfs size
    are refused later, once the image is found (:func:`parse_mount`)."""
    kind = str(spec.get("Type") or "")
    source = str(spec.get("Source") or "")
    _check_target(kind, str(spec.get("Target") or ""))
    if kind == "bind":
        _check_bind(spec, source)
    elif kind == "volume":
        _check_volume(spec, source)
    elif kind == "tmpfs":  # dockerd 20.10 takes (and ignores) a tmpfs' VolumeOptions
        _extra(kind, spec, "BindOptions")
        if source:
            raise _config_error(kind, "field Source must not be specified")
    else:
        raise _config_error(kind, "mount type unknown")


def parse_mount(spec: dict[str, Any], checked: bool = False,
                check_name: bool = True) -> MountRequest:
    """One ``HostConfig.Mounts`` entry (``parseMountSpec``); ``checked``: :func:`check_mount`
    has passed it (a create's, before the image), so its work is not done twice;
    ``check_name``: a volume's name is checked here (else by the caller, as in
    :func:`parse_bind`)."""
    if not checked:
        check_mount(spec)
    kind = str(spec.get("Type") or "")
    source = str(spec.get("Source") or "")
    req = MountRequest(type=kind, destination=go_clean(str(spec.get("Target") or "")),
                       read_only=bool(spec.get("ReadOnly")), registered=True)
    if kind == "bind":
        options = spec.get("BindOptions") or {}
        req.create_source = bool(options.get("CreateMountpoint"))
        req.source, req.spec_source = go_clean(source), source
        asked = str(options.get("Propagation") or "")
        req.propagation, req.asked = asked or DEFAULT_PROPAGATION, bool(asked)
        req.recursive = not options.get("NonRecursive")
    elif kind == "volume":
        _volume_mount(spec, req, source, check_name)
    else:
        req.tmpfs_data = tmpfs_options(spec.get("TmpfsOptions") or {})
    return req


def _check_bind(spec: dict[str, Any], source: str) -> None:
    """dockerd 20.10's order: the source given, the propagation, no ``VolumeOptions``, the
    source absolute, then there (``TmpfsOptions`` are taken, and ignored)."""
    if not source:
        raise _config_error("bind", "field Source must not be empty")
    options = spec.get("BindOptions") or {}
    propagation = str(options.get("Propagation") or "")
    if propagation and propagation not in PROPAGATIONS:
        raise _config_error("bind", f"invalid propagation mode: {propagation}")
    _extra("bind", spec, "VolumeOptions")
    if not source.startswith("/"):
        raise _config_error("bind", f"invalid mount path: '{source}' mount path must be absolute")
    if not options.get("CreateMountpoint"):
        _check_bind_source(source)


def _check_bind_source(source: str) -> None:
    """dockerd's ``fileInfo``: an ``os.Stat`` of the source, through its links (one to nowhere
    does not exist), another refusal in Go's words."""
    try:
        os.stat(source)
    except FileNotFoundError:
        raise _config_error("bind", f"bind source path does not exist: {source}") from None
    except OSError as exc:
        raise _config_error("bind", f"stat {source}: {os.strerror(exc.errno or 0).lower()}") from None


def _check_volume(spec: dict[str, Any], source: str) -> None:
    """No ``BindOptions`` (dockerd 20.10 takes, and ignores, ``TmpfsOptions``), a subpath
    (dockerd 26's) in the volume, no ``ReadOnly`` for an anonymous one."""
    _extra("volume", spec, "BindOptions")
    subpath = str((spec.get("VolumeOptions") or {}).get("Subpath") or "")
    if subpath and not source:
        raise _config_error("volume", "must not set Subpath when using anonymous volumes")
    if subpath and not is_local(subpath):
        raise _config_error("volume", "subpath must be a relative path within the volume")
    if spec.get("ReadOnly") and not source:
        raise _config_error("volume", "must not set ReadOnly mode when using anonymous volumes")


def _volume_mount(spec: dict[str, Any], req: MountRequest, source: str,
                  check_name: bool) -> None:
    if source and check_name:
        check_volume_name(source)
    options = spec.get("VolumeOptions") or {}
    driver = options.get("DriverConfig") or {}
    req.name = source
    req.subpath = str(options.get("Subpath") or "")
    req.copy_data = not options.get("NoCopy")
    req.labels = dict(options.get("Labels") or {})
    req.driver = str(driver.get("Name") or "")
    req.driver_opts = dict(driver.get("Options") or {})


def tmpfs_options(options: dict[str, Any]) -> list[str]:
    """``TmpfsOptions`` → tmpfs data (``ConvertTmpfsOptions``: size with the largest unit
    that divides it, mode in octal)."""
    out = []
    mode = int(options.get("Mode") or 0)
    if mode:
        out.append(f"mode={mode:o}")
    size = int(options.get("SizeBytes") or 0)
    if size < 0:
        raise _config_error("tmpfs", f"invalid tmpfs size: {size}")
    if size:
        for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % divisor == 0:
                out.append(f"size={size // divisor}{suffix}")
                break
        else:
            out.append(f"size={size}")
    return out


def check_tmpfs_destination(destination: str) -> None:
    """A ``HostConfig.Tmpfs`` key as dockerd's ``ValidateTmpfsMountDestination`` checks it, at
    a create before the image is looked up: its words name no mount type."""
    if _is_root(destination):
        raise InvalidMount("invalid specification: destination can't be '/'")
    if not destination.startswith("/"):
        raise InvalidMount(f"invalid mount path: '{destination}' mount path must be absolute")


def parse_tmpfs(destination: str, data: str, checked: bool = False) -> MountRequest:
    """One ``HostConfig.Tmpfs`` entry; flag words (``ro``, ``exec``…) are kept for the mount.
    ``checked``: :func:`check_tmpfs_destination` has passed it."""
    if not checked:
        check_tmpfs_destination(destination)
    words = [w for w in (data or "").split(",") if w]
    return MountRequest(type="tmpfs", destination=go_clean(destination),
                        read_only="ro" in words, tmpfs_data=[w for w in words if w != "ro"],
                        listed=False)


def parse_config_volume(path: str) -> MountRequest:
    """A ``Config.Volumes`` key: an anonymous volume. dockerd takes any key, cleaned: a
    relative one (``docker run -v data``, or ``-v v:/x``, which the docker CLI reads as a
    Windows drive's path) is the path below the container's root, and shown as given. Only
    the root itself, which no container could start with, is refused here."""
    destination = go_clean(path) if path else ""
    if destination in ("", "/", "."):
        try:
            _check_target("volume", destination.replace(".", "/"))
        except InvalidMount as exc:
            raise InvalidMount(f"{invalid_spec(path)}: {exc}") from None
    return MountRequest(type="volume", destination=destination)


def in_daemon_root(source: str, daemon_root: str) -> bool:
    """dockerd's test, a string prefix either way (``/tmp`` holds ``/tmp2/data`` too)."""
    return bool(daemon_root) and (source.startswith(daemon_root) or daemon_root.startswith(source))


def check_daemon_root(req: MountRequest, daemon_root: str) -> None:
    """dockerd's ``validateBindDaemonRoot`` for one bind (its source as written, the daemon's
    root — ``DockerRootDir`` — each a string prefix of the other): a mount inside the root,
    held privately by a container, would keep the daemon from removing it; so the bind gets
    ``rslave`` unless a propagation was asked for, and one asked for must be ``rslave`` or
    ``rshared`` — else dockerd's 400. The start falls back to private for an implied one
    whose source's mount neither is shared nor receives (``volumes.propagation``)."""
    source = req.spec_source
    if req.type != "bind" or not in_daemon_root(source, daemon_root):
        return
    if not req.asked:
        req.propagation, req.implied = "rslave", True
    elif req.propagation not in DAEMON_ROOT_PROPAGATIONS:
        raise InvalidMount('invalid mount config: must use either propagation mode "rslave" or '
                           '"rshared" when mount source is within the daemon root, daemon root: '
                           f"{quote(daemon_root)}, bind mount source: {quote(source)}, "
                           f"propagation: {quote(req.propagation)}")


def requests(config: dict[str, Any], host_config: dict[str, Any], checked: bool = False,
             daemon_root: str = "", inherited: frozenset[str] | set[str] = frozenset()
             ) -> list[MountRequest]:
    """Every mount a container asks for, duplicates refused, image volumes filling the gaps,
    sorted parents first (as dockerd mounts them). A volume of ``Binds`` or of
    ``Config.Volumes`` (``-v NAME:/x``, ``-v /x``, the image's) is ``--volume-driver``'s, as
    dockerd's; a ``--mount`` names its own. ``checked``: the ``Mounts`` and ``Tmpfs`` have
    passed :func:`check_mount` and :func:`check_tmpfs_destination` (a create's, before the
    image); else they are checked here, first. Then dockerd's ``registerMountPoints`` order:
    each ``Binds`` entry parsed, its daemon-root rule (``daemon_root``: a create's, see
    :func:`check_daemon_root`), its duplicate (of a bind or a ``Tmpfs`` one), its volume's
    name; then each ``Mounts`` entry likewise (its duplicate, of a bind or a ``--mount``, named
    by its ``Target`` as written).

    A ``--mount`` where a ``Tmpfs`` one is, dockerd 20.10 takes (its duplicate check skips
    them): a tmpfs is mounted over the ``Tmpfs`` one (the two sort in this order), a bind or a
    volume is shown (and a volume made and filled) but not mounted (``mounted``): dockerd's
    start skips a mount point where a tmpfs is.

    dockerd compares a ``Tmpfs`` key as sent with the other mounts' cleaned destinations: a
    bind or a ``--mount`` at ``/data`` beside a ``Tmpfs`` key ``/data/`` is neither refused
    nor skipped (it is mounted, the tmpfs over it), and two keys that clean to one path are
    each mounted, in the order sent. A ``Config.Volumes`` path (an image's ``VOLUME``, ``-v
    /x``) where another mount is, or a ``--volumes-from`` one (``inherited``), is left out:
    dockerd's ``HasMountFor``."""
    mount_specs = host_config.get("Mounts") or []
    tmpfs_specs = host_config.get("Tmpfs") or {}
    if not checked:
        for spec in mount_specs:
            check_mount(spec)
        for destination in tmpfs_specs:
            check_tmpfs_destination(str(destination))
    tmpfs = [parse_tmpfs(d, str(v or ""), True) for d, v in tmpfs_specs.items()]
    under_tmpfs = {str(d) for d in tmpfs_specs}
    taken: dict[str, MountRequest] = {}
    binds = []
    for raw in host_config.get("Binds") or []:
        req = parse_bind(str(raw), check_name=False)
        check_daemon_root(req, daemon_root)
        _take(taken, req, req.destination, under_tmpfs)
        binds.append(req)
    for spec in mount_specs:
        req = parse_mount(spec, checked=True, check_name=False)
        check_daemon_root(req, daemon_root)
        _take(taken, req, str(spec.get("Target") or ""))
        req.mounted = req.type == "tmpfs" or req.destination not in under_tmpfs
    driver = str(host_config.get("VolumeDriver") or "")
    for path in sorted(config.get("Volumes") or {}):
        req = parse_config_volume(str(path))
        if (req.destination not in under_tmpfs and req.destination not in inherited
                and taken.setdefault(req.destination, req) is req):
            binds.append(req)
    for req in binds:
        if req.type == "volume" and not req.driver:
            req.driver = driver
    return sorted([*tmpfs, *taken.values()], key=mount_order)


def mount_order(req: MountRequest) -> tuple[int, str, int]:
    """The order dockerd's ``sortMounts`` gives a container's mounts: parents first; at one
    path, its mount points (binds, volumes) before the ``Tmpfs`` ones, and those before a
    tmpfs ``--mount`` (``TmpfsMounts`` lists them so)."""
    rank = 0 if req.type != "tmpfs" else 1 if not req.listed else 2
    return _depth(req.destination), req.destination, rank


def _take(taken: dict[str, MountRequest], req: MountRequest, shown: str,
          tmpfs: frozenset[str] | set[str] = frozenset()) -> None:
    """``req`` taken at its destination, unless one is there, or a ``Tmpfs`` one for a bind
    (``shown`` names it then); a volume's name checked after (dockerd's volume create, once
    the duplicate is ruled out)."""
    if req.destination in taken or req.destination in tmpfs:
        raise InvalidMount(f"Duplicate mount point: {shown}")
    if req.type == "volume" and req.name:
        check_volume_name(req.name)
    taken[req.destination] = req


def _depth(path: str) -> int:
    return len([p for p in path.split("/") if p])


__all__ = ["InvalidBind", "InvalidMount", "MountRequest", "check_daemon_root", "check_mount",
           "check_tmpfs_destination", "check_volume_name", "in_daemon_root", "mount_order",
           "parse_bind", "parse_config_volume", "parse_mount", "parse_tmpfs", "requests",
           "tmpfs_options", "valid_mode"]
