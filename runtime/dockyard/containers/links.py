"""Legacy container links (``docker run --link name[:alias]``), as dockerd 20.10 keeps them.

On the default bridge a create registers each ``HostConfig.Links`` entry as a link from the
new container (the parent) to an existing one (the child) under ``/<parent>/<alias>``; a
start then gives the parent the child's address in /etc/hosts (``alias hostname [name]``)
and dockerd's ``<ALIAS>_…`` environment (:func:`env`), and the child's next start rewrites
the address in its running parents' /etc/hosts. On a user-defined network the links are the
endpoint's (``EndpointsConfig[net].Links``: names only the parent resolves), none are
registered.

What dockerd 20.10 refuses, and when (checked against it, see
tests/interop/test_links_dockerd.py):

- at create: a linker on ``host`` or ``container:`` networking (400), a child that does not
  exist (400 "could not get container for x: No such container: x"), one on ``host``
  networking (400), an empty or ``a:b:c`` entry (500); a second link with an alias already
  taken is dropped without a word (the first stays);
- at the start (500, exit code 128), on the default bridge only: a child not on the default
  bridge ("Cannot link to /x, as it does not belong to the default network"), then a child
  not running ("Cannot link to a non running container: /x AS /parent/alias"), which an
  exec's create refuses as well (its environment has the links' variables);
- a removed child stays linked: dockerd's link index keeps the removed container, so its
  parent can neither start nor exec again (the child's name in the refusal), and ``docker rm
  --link`` no longer finds the link's name.

The containers manager keeps the links (``ContainerRecord.links``) through the functions at
the end, which look other containers up with its ``get``; a daemon's start registers them anew
by name (:func:`reregister`), and a child's ``ps`` Names carry the links' names
(:func:`names_by_child`); the network manager keeps a running parent's /etc/hosts lines
(``Sandbox.links``). The rest is pure.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from typing import Any, Final, NamedTuple

from ..errors import DockyardError, InvalidArgument, NotFound

HOST_AND_LINKS: Final = ("conflicting options: host type networking can't be used with links. "
                         "This would result in undefined behavior")
CONTAINER_AND_LINKS: Final = ("conflicting options: container type network can't be used with "
                              "links. This would result in undefined behavior")
DEFAULT_LINK: Final = "Conflict, cannot remove the default link name of the container"


class Link(NamedTuple):
    """One registered link, as the parent's record keeps it: the alias (its last path part),
    the child's id and the child's name when last seen (a removed child is named by it)."""

    alias: str
    child: str
    child_name: str


def parse(value: str) -> tuple[str, str]:
    """``name[:alias]`` → (name, alias), as dockerd's ``opts.ParseLink`` (an inspect's
    ``/child:/parent/alias`` form too)."""
    if not value:
        raise DockyardError("empty string specified for links")
    parts = value.split(":")
    if len(parts) > 2:
        raise DockyardError(f"bad format for links: {value}")
    if len(parts) == 1:
        return value, value
    if parts[0].startswith("/"):
        return parts[0][1:], posixpath.split(parts[1])[1]
    return parts[0], parts[1]


def user_defined(mode: str) -> bool:
    """dockerd's ``NetworkMode.IsUserDefined``: links are an endpoint's there, not registered."""
    return mode not in ("", "default", "bridge", "host", "none") and not mode.startswith("container:")


def full_name(parent: str, alias: str) -> str:
    """The link's name, ``/parent/alias`` (``parent`` with its "/")."""
    return posixpath.join(parent, alias)


def split_name(name: str) -> tuple[str, str]:
    """A link's name (``parent/alias``, with or without the leading "/") → ("/parent",
    "alias"); ("", name) for a plain container name, which no link has."""
    name = "/" + name.lstrip("/")
    parent, alias = posixpath.split(name)
    return ("" if parent == "/" else parent.rstrip("/")), alias


def inspect_form(links: Iterable[tuple[str, str]], parent: str) -> list[str] | None:
    """``HostConfig.Links`` as dockerd's inspect shows them: ``/child:/parent/alias`` from
    (child's name, alias) pairs; null without any."""
    out = [f"{child}:{full_name(parent, alias)}" for child, alias in links]
    return out or None


def not_linkable(child_name: str) -> DockyardError:
    return DockyardError(f"Cannot link to {child_name}, as it does not belong to the default network")


def not_running(child_name: str, link_name: str) -> DockyardError:
    return DockyardError(f"Cannot link to a non running container: {child_name} AS {link_name}")


def host_names(alias: str, hostname: str, child_name: str) -> str:
    """The names of a link's /etc/hosts line: the alias, the child's hostname, and its name
    when the alias is not that name (dockerd's order)."""
    names = f"{alias} {hostname}"
    return names if alias == child_name.lstrip("/") else f"{names} {child_name.lstrip('/')}"


class _Port(NamedTuple):
    number: int
    proto: str

    @property
    def key(self) -> str:
        return f"{self.number}_{self.proto.upper()}"


def _ports(exposed: Iterable[str]) -> list[_Port]:
    """ExposedPorts' keys ("80/tcp") in nat.Sort's order with dockerd's links comparison:
    by number, tcp first among equal numbers."""
    out = []
    for key in exposed:
        port, _, proto = str(key).partition("/")
        try:
            out.append(_Port(int(port), proto or "tcp"))
        except ValueError:
            continue
    return sorted(out, key=lambda p: (p.number, p.proto.lower() != "tcp", p.proto))


def _next_contiguous(ports: list[_Port], value: int, index: int) -> int:
    """dockerd's nextContiguous: the index of the last port of the run starting at
    ``index`` (counting one per entry, so 7000/tcp, 7000/udp, 7001/tcp is a run)."""
    if index + 1 == len(ports):
        return index
    for i in range(index + 1, len(ports)):
        if ports[i].number > value + 1:
            return i - 1
        value += 1
    return len(ports) - 1


def env(link_name: str, child_ip: str, child_env: Iterable[str], exposed: Iterable[str]) -> list[str]:
    """dockerd's ``Link.ToEnv``: ``<ALIAS>_PORT`` (the lowest port), a range's ``_START``/
    ``_END`` variables for three or more contiguous ports, each port's ``_PORT_<n>_<PROTO>``
    with ``_ADDR``/``_PORT``/``_PROTO``, ``<ALIAS>_NAME`` and the child's own variables as
    ``<ALIAS>_ENV_<name>`` (not HOME nor PATH, nor a bare name). Duplicates are left in, as
    dockerd's list has them: the process keeps the first place and the last value."""
    alias = posixpath.split(link_name)[1].upper().replace("-", "_")
    ports = _ports(exposed)
    out = []
    if ports:
        first = ports[0]
        out.append(f"{alias}_PORT={first.proto}://{child_ip}:{first.number}")
    i = 0
    while i < len(ports):
        p = ports[i]
        j = _next_contiguous(ports, p.number, i)
        if j > i + 1:
            q, base = ports[j], f"{alias}_PORT_{p.number}"
            out += [f"{base}_{p.proto.upper()}_START={p.proto}://{child_ip}:{p.number}",
                    f"{base}_{p.proto.upper()}_ADDR={child_ip}",
                    f"{base}_{p.proto.upper()}_PROTO={p.proto}",
                    f"{base}_{p.proto.upper()}_PORT_START={p.number}",
                    f"{base}_{q.proto.upper()}_END={q.proto}://{child_ip}:{q.number}",
                    f"{base}_{q.proto.upper()}_PORT_END={q.number}"]
            i = j + 1
        else:
            i += 1
    for p in ports:
        base = f"{alias}_PORT_{p.key}"
        out += [f"{base}={p.proto}://{child_ip}:{p.number}", f"{base}_ADDR={child_ip}",
                f"{base}_PORT={p.number}", f"{base}_PROTO={p.proto}"]
    out.append(f"{alias}_NAME={link_name}")
    for item in child_env:
        key, eq, value = str(item).partition("=")
        if eq and key not in ("HOME", "PATH"):
            out.append(f"{alias}_ENV_{key}={value}")
    return out


# ---- a parent's links, kept in its record ---------------------------------------------------

Get = Callable[[str], Any]
"""The containers manager's ``get``: a record by name or id, else :class:`NotFound`."""


class HostEntry(NamedTuple):
    """A link's /etc/hosts lines in a running parent: the child's addresses then, the alias
    (what a child's start finds its lines by, as dockerd's etchosts.Update) and the names."""

    ip: str
    ip6: str
    alias: str
    names: str
    child: str


class Resolved(NamedTuple):
    env: list[str]
    hosts: list[HostEntry]


def register(record: Any, get: Get) -> None:
    """At create: each ``HostConfig.Links`` entry checked and kept as a :class:`Link` (none
    on a user-defined network); a child sharing another's network is that one."""
    hc = record.host_config
    if user_defined(str(hc.get("NetworkMode") or "")):
        return
    for value in hc.get("Links") or []:
        name, alias = parse(str(value))
        child = _child(get, name, "could not get container for")
        while str(child.host_config.get("NetworkMode") or "").startswith("container:"):
            child = _child(get, str(child.host_config["NetworkMode"]).split(":", 1)[1],
                           "Could not get container for")
        if child.host_config.get("NetworkMode") == "host":
            raise InvalidArgument(HOST_AND_LINKS)
        if all(link[0] != alias for link in record.links):  # dockerd ignores a taken alias
            record.links.append(list(Link(alias, child.id, child.name)))


def reregister(record: Any, get: Get) -> str | None:
    """At a daemon's start, as dockerd's restore (``registerLinks`` again): the links made
    anew from ``HostConfig.Links`` by their children's names now, so a child removed and
    re-created (or renamed, and another given its name) is that one, and a removed one is
    dropped; the first entry it cannot link ends the registration there (the entries after
    it are dropped too). ``docker rm --link`` left ``HostConfig.Links`` as it was: its link
    comes back. Returns dockerd's error for the log, or None."""
    record.links = []
    try:
        register(record, get)
    except DockyardError as exc:
        return str(exc)
    return None


def _child(get: Get, name: str, words: str) -> Any:
    try:
        return get(name)
    except (NotFound, InvalidArgument) as exc:  # dockerd: an invalid parameter (400)
        raise InvalidArgument(f"{words} {name}: {exc}") from None


def _found(get: Get, link: list[str]) -> Any | None:
    """The link's child, or None once it was removed (its id is not taken again)."""
    try:
        return get(link[1])
    except (NotFound, InvalidArgument):
        return None


def shown(record: Any, get: Get) -> list[str] | None:
    """``HostConfig.Links`` in inspect: the children's names now (a removed one's last)."""
    pairs = []
    for link in record.links:
        child = _found(get, link)
        pairs.append((child.name if child is not None else link[2], link[0]))
    return inspect_form(pairs, record.name)


def on_default_bridge(record: Any) -> bool:
    """Whether a start (or exec) has its links: the container is on the default bridge."""
    return "bridge" in ((record.network_settings or {}).get("Networks") or {})


def _bridge_entry(child: Any) -> dict[str, Any]:
    return dict(((child.network_settings or {}).get("Networks") or {}).get("bridge") or {})


def resolve(record: Any, get: Get) -> Resolved:
    """A start's links, refused in dockerd's order (every child on the default bridge, then
    every child running): the variables and the /etc/hosts entries."""
    if not record.links or not on_default_bridge(record):
        return Resolved([], [])
    children = [(link, _found(get, link)) for link in record.links]
    for _link, child in children:
        if child is not None and not on_default_bridge(child):
            raise not_linkable(child.name)
    variables, hosts = linked_env(record, children), []
    for link, child in children:
        if child is None:  # refused above: a removed child is not running
            continue
        entry = _bridge_entry(child)
        ip, ip6 = str(entry.get("IPAddress") or ""), str(entry.get("GlobalIPv6Address") or "")
        if ip or ip6:
            names = host_names(link[0], str(child.config.get("Hostname") or ""), child.name)
            hosts.append(HostEntry(ip, ip6, link[0], names, child.id))
    return Resolved(variables, hosts)


def exec_env(record: Any, get: Get) -> list[str]:
    """An exec's links' variables (dockerd makes them at its create, refusing as a start);
    none for a record without links (a stand-in's too)."""
    if not getattr(record, "links", None) or not on_default_bridge(record):
        return []
    return linked_env(record, [(link, _found(get, link)) for link in record.links])


def linked_env(record: Any, children: list[tuple[list[str], Any | None]]) -> list[str]:
    out: list[str] = []
    for link, child in children:
        name = full_name(record.name, link[0])
        if child is None or not child.running:
            raise not_running(child.name if child is not None else link[2], name)
        link[2] = child.name
        ip = str(_bridge_entry(child).get("IPAddress") or "")
        out += env(name, ip, child.config.get("Env") or [], child.config.get("ExposedPorts") or {})
    return out


def names_by_child(records: Iterable[Any]) -> dict[str, list[str]]:
    """The registered links' names (``/parent/alias``) by child id: dockerd's name index
    names the child by them too, so ``GET /containers/json`` lists them among its Names."""
    out: dict[str, list[str]] = {}
    for record in records:
        for link in record.links:
            out.setdefault(link[1], []).append(full_name(record.name, link[0]))
    return out


def unlink(parent: Any, alias: str) -> bool:
    """``docker rm --link /parent/alias``: the link goes from the parent's record."""
    kept = [link for link in parent.links if link[0] != alias]
    found = len(kept) != len(parent.links)
    parent.links = kept
    return found
