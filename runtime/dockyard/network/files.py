"""The per-container ``/etc/hosts``, ``/etc/resolv.conf`` and ``/etc/hostname``.

They live in the container's directory and are bind-mounted over the image's files, as dockerd
does. Name resolution on user-defined networks works through ``/etc/hosts``: each container's
file lists its peers (name, aliases, short id) on every user-defined network it shares, and is
rewritten *in place* (the bind mount pins the inode) when a peer joins or leaves. No DNS server
runs, so resolv.conf keeps the host's non-loopback nameservers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Final

LOCALHOST: Final = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
DEFAULT_DNS: Final = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
"""dockerd's fallback when the host only has loopback resolvers (unreachable from a netns)."""


def hosts(own: Iterable[tuple[str, str]], peers: Iterable[tuple[str, list[str]]],
          extra: Iterable[tuple[str, str]] = (), linked: Iterable[tuple[str, str]] = ()) -> str:
    """Docker's localhost block, ``--add-host`` lines, its legacy links' lines, the
    container's own ``ip names`` lines, then its peers (dockerd's order)."""
    lines = [LOCALHOST, added_hosts(extra), added_hosts(linked)]
    lines += [f"{ip}\t{name}\n" for ip, name in own]
    lines += [f"{ip}\t{' '.join(names)}\n" for ip, names in peers]
    return "".join(lines)


def host_mode_hosts(extra: Iterable[tuple[str, str]], host_file: str = "/etc/hosts") -> str:
    """``--network host``: the host's own /etc/hosts (Docker's localhost block if it cannot be
    read), then the ``--add-host`` lines, as dockerd writes it."""
    try:
        text = Path(host_file).read_text()
    except OSError:
        text = LOCALHOST
    return text + added_hosts(extra)


def added_hosts(extra: Iterable[tuple[str, str]]) -> str:
    """``--add-host`` entries as /etc/hosts lines, ``ip<TAB>name`` (every network mode)."""
    return "".join(f"{ip}\t{name}\n" for ip, name in extra)


def resolv_conf(host_file: str = "/etc/resolv.conf", keep_loopback: bool = False) -> str:
    """The host's resolv.conf minus loopback nameservers (they mean nothing in another netns)."""
    try:
        text = Path(host_file).read_text()
    except OSError:
        text = ""
    out, servers = [], 0
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and len(words) > 1:
            if not keep_loopback and (words[1].startswith("127.") or words[1] == "::1"):
                continue
            servers += 1
        out.append(line + "\n")
    text = "".join(out)
    return text if servers else text + DEFAULT_DNS


def own_names(hostname: str, domainname: str) -> str:
    """The names of the container's own /etc/hosts line: ``host.domain host`` with a
    ``--domainname``, as dockerd writes it."""
    return f"{hostname}.{domainname} {hostname}" if domainname else hostname


def resolv_conf_with(host_text: str, dns: list[str], search: list[str], options: list[str]) -> str:
    """``--dns``/``--dns-search``/``--dns-option``: each replaces the host's (already filtered)
    nameservers, search domains or options; the file is rebuilt as dockerd's resolvconf.Build
    writes it (``--dns-search .`` means no search line)."""
    words = [line.split() for line in host_text.splitlines()]
    servers = dns or [w[1] for w in words if w[:1] == ["nameserver"] and len(w) > 1]
    domains = search or next((w[1:] for w in reversed(words) if w[:1] == ["search"]), [])
    opts = options or [o for w in words if w[:1] == ["options"] for o in w[1:]]
    out = []
    if domains and " ".join(domains).strip() != ".":
        out.append("search " + " ".join(domains) + "\n")
    out += [f"nameserver {server}\n" for server in servers]
    if opts and " ".join(opts).strip():
        out.append("options " + " ".join(opts) + "\n")
    return "".join(out)


def container_resolv_conf(host_mode: bool, dns: list[str], search: list[str],
                          options: list[str]) -> str:
    """A container's resolv.conf: the host's (its loopback nameservers kept only for a
    container sharing the host's network), each of ``--dns``/``--dns-search``/``--dns-option``
    given replacing its part."""
    text = resolv_conf(keep_loopback=host_mode)
    if dns or search or options:
        text = resolv_conf_with(text, dns, search, options)
    return text


def write(path: Path, text: str, owner: tuple[int, int] | None = None) -> None:
    """Rewrite in place: a running container has the inode bind-mounted, a rename would
    leave it looking at the old file. ``owner``: a ``--userns-remap`` daemon's remapped root,
    whose files they are (dockerd's: root inside may write them, as without the remap)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        data = text.encode()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def ensure(path: Path, owner: tuple[int, int] | None = None) -> None:
    """The file, empty, where there is none yet: a remapped start's launcher copies its bind
    mounts' sources before the network is wired, and :func:`write` then fills that inode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
    finally:
        os.close(fd)
