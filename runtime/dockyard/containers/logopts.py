"""Log drivers on the daemon's side: a create's ``--log-opt`` checks and a start's resolved
delivery, in dockerd 20.10's order and words (recorded on this machine, see
tests/unit/containers/test_logopts.py).

Why the work is split so: the shim delivers (``containers.logdrivers``), since it owns the
container's output and outlives the daemon; the daemon does what needs its knowledge and may
fail the start — the options checked at create (``validate``), then at the start the tag
template rendered, the address resolved and, for what can refuse a connection, dialled once
(``delivery``): an unreachable sink fails the start with dockerd's "failed to initialize
logging driver: …", as its logger's ``New`` does. The shim then connects on its own. A
container of the file drivers (``json-file``, ``local``, ``none``) pays one set lookup.

Drivers that cannot deliver from this machine (journald without its socket, the cloud
services) are refused at the start in the same words, naming what is missing — never taken
and dropped.
"""

from __future__ import annotations

import json
import os
import re
import socket
from typing import Any, Final

from .. import gostrconv
from ..errors import DockyardError, InvalidArgument

FILE_DRIVERS: Final = frozenset(("json-file", "local", "none"))
BUILTIN_OPTS: Final = ("mode", "max-buffer-size")
"""What dockerd's ``ValidateLogOpts`` checks for every driver and hides from the driver's own."""
DEFAULT_BUFFER: Final = 1 << 20
"""``mode=non-blocking``'s default ``max-buffer-size`` (dockerd's 1 MB ring)."""
_EXTRA: Final = ("env", "env-regex", "labels", "labels-regex", "tag")
DRIVER_OPTS: Final = {
    "syslog": (*_EXTRA, "syslog-address", "syslog-facility", "syslog-tls-ca-cert",
               "syslog-tls-cert", "syslog-tls-key", "syslog-tls-skip-verify", "syslog-format"),
    "fluentd": (*_EXTRA, "fluentd-address", "fluentd-async", "fluentd-async-connect",
                "fluentd-buffer-limit", "fluentd-retry-wait", "fluentd-max-retries",
                "fluentd-sub-second-precision", "fluentd-request-ack"),
}
FACILITIES: Final = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}
SYSLOG_FORMATS: Final = ("", "rfc3164", "rfc5424", "rfc5424micro")
_SYSLOG_SCHEMES: Final = ("tcp", "tcp+tls", "udp", "unix", "unixgram")
_UNIX_SYSLOG: Final = ("/dev/log", "/var/run/syslog", "/var/run/log")


# ---- create: the options' checks -----------------------------------------------------------


def validate(driver: str, options: dict[str, str]) -> None:
    """dockerd's ``ValidateLogOpts`` for the drivers that deliver (and the built-in options
    every driver but ``none`` takes): a 400 in its words."""
    if driver == "none":
        return
    try:
        _check_mode(options)
        opts = {k: v for k, v in options.items() if k not in BUILTIN_OPTS}
        if driver == "syslog":
            _syslog_settings(opts)
        elif driver == "gelf":
            _gelf_settings(opts)
        elif driver == "fluentd":
            _fluentd_settings(opts)
        elif driver == "awslogs" and not opts.get("awslogs-group"):
            raise ValueError("must specify a value for log opt 'awslogs-group'")
        elif driver == "logentries" and not opts.get("logentries-token"):
            raise ValueError("Missing logentries token")
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


def _check_mode(options: dict[str, str]) -> None:
    mode = options.get("mode", "")
    if mode not in ("", "blocking", "non-blocking"):
        raise ValueError(f"logger: logging mode not supported: {mode}")
    if "max-buffer-size" in options:
        if mode != "non-blocking":
            raise ValueError("logger: max-buffer-size option is only supported with "
                             "'mode=non-blocking'")
        ram_in_bytes(options["max-buffer-size"], "error parsing option max-buffer-size")


def _unknown(options: dict[str, str], driver: str, quote: str = "'") -> None:
    for key in options:
        if key not in DRIVER_OPTS[driver]:
            raise ValueError(f"unknown log opt {quote}{key}{quote} for {driver} log driver")


_RAM: Final = re.compile(r"(\d+(?:\.\d+)?) ?([kKmMgGtTpP]?)[iI]?[bB]?")


def ram_in_bytes(text: str, context: str) -> int:
    """go-units' ``RAMInBytes`` (binary units: ``1m`` is 1 MiB)."""
    found = _RAM.fullmatch(text)
    if found is None:
        raise ValueError(f"{context}: invalid size: '{text}'")
    return int(float(found.group(1)) * 1024 ** " kmgtp".index(found.group(2).lower() or " "))


# ---- syslog ----------------------------------------------------------------------------------


def _syslog_settings(opts: dict[str, str]) -> dict[str, Any]:
    """syslog's ``ValidateLogOpt``: the keys, the address (a unix socket must exist), the
    facility and the format; what the shim needs from them."""
    _unknown(opts, "syslog")
    scheme, address = _syslog_address(opts.get("syslog-address", ""))
    facility = _facility(opts.get("syslog-facility", ""))
    fmt = opts.get("syslog-format", "")
    if fmt not in SYSLOG_FORMATS:
        raise ValueError("Invalid syslog format")
    settings = {"scheme": scheme, "address": address, "facility": facility, "format": fmt}
    if scheme == "tcp+tls":
        settings["tls"] = {"ca": opts.get("syslog-tls-ca-cert", ""),
                           "cert": opts.get("syslog-tls-cert", ""),
                           "key": opts.get("syslog-tls-key", ""),
                           "skip_verify": _parse_bool(opts.get("syslog-tls-skip-verify")
                                                      or "false")}
        settings["octets"] = fmt in ("rfc5424", "rfc5424micro")  # RFC 5425's framing
    return settings


def _syslog_address(text: str) -> tuple[str, str]:
    if not text:
        return "", ""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in _SYSLOG_SCHEMES:
        raise ValueError(f"syslog-address should be in form proto://address, got {text}")
    if scheme in ("unix", "unixgram"):
        path = rest if rest.startswith("/") else ""  # url.Parse: unix://x has Host x, no Path
        try:
            os.stat(path)
        except OSError as exc:
            raise ValueError(f"stat {path}: {_os_words(exc)}") from None
        return scheme, path
    host = rest.split("/", 1)[0]
    if not re.search(r":\d*$", host) or host.endswith("]"):
        host += ":514"  # dockerd: a missing port is syslog's
    return scheme, host


def _facility(text: str) -> int:
    if not text:
        return FACILITIES["daemon"]
    if text in FACILITIES:
        return FACILITIES[text]
    number = _atoi(text)
    if number is None or not _in_range(number, 0, 23):
        raise ValueError("invalid syslog facility")
    return number


def _in_range(number: int | None, low: int, high: int) -> bool:
    return number is not None and low <= number <= high


def _atoi(text: str) -> int | None:
    """Go's ``strconv.Atoi``, None where it fails (the drivers word their own refusal)."""
    try:
        return gostrconv.atoi(text)
    except gostrconv.NumError:
        return None


# ---- gelf --------------------------------------------------------------------------------------


def _gelf_settings(opts: dict[str, str]) -> dict[str, Any]:
    """gelf's ``ValidateLogOpt``: a required ``proto://host:port`` address (udp or tcp),
    compression for UDP only, reconnect options for TCP only."""
    address = opts.get("gelf-address", "")
    if not address:
        raise ValueError("gelf-address is a required parameter")
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in _SYSLOG_SCHEMES:  # urlutil.IsTransportURL
        raise ValueError(f"gelf-address should be in form proto://address, got {address}")
    if scheme not in ("udp", "tcp"):
        raise ValueError("gelf: endpoint needs to be TCP or UDP")
    host = rest.split("/", 1)[0]
    if not re.search(r"^(\[[^]]*\]|[^:]*):\d*$", host):
        raise ValueError("gelf: please provide gelf-address as proto://host:port")
    settings: dict[str, Any] = {"scheme": scheme, "address": host, "compression": "gzip",
                                "level": 1}
    for key, value in opts.items():
        if key in ("gelf-address", *_EXTRA):
            continue
        if key in ("gelf-compression-level", "gelf-compression-type"):
            if scheme != "udp":
                raise ValueError("compression is only supported on UDP")
            level = _atoi(value) if key == "gelf-compression-level" else None
            if key == "gelf-compression-type" and value in ("gzip", "zlib", "none"):
                settings["compression"] = value
            elif _in_range(level, -1, 9):
                settings["level"] = level
            else:
                raise ValueError(f"unknown value {gostrconv.quote(value)} for log opt "
                                 f"{gostrconv.quote(key)} for gelf log driver")
        elif key in ("gelf-tcp-max-reconnect", "gelf-tcp-reconnect-delay"):
            if scheme != "tcp":
                raise ValueError(f'"{key}" is only valid for TCP')
            number = _atoi(value)
            if number is None or number < 0:
                raise ValueError(f'"{key}" must be a positive integer')
            if key == "gelf-tcp-reconnect-delay":
                settings["retry"] = float(number)
        else:
            raise ValueError(f'unknown log opt "{key}" for gelf log driver')
    return settings


# ---- fluentd -------------------------------------------------------------------------------------


def _fluentd_settings(opts: dict[str, str]) -> dict[str, Any]:
    """fluentd's ``ValidateLogOpt``: the keys, then its ``parseConfig`` (address, booleans,
    buffer limit)."""
    _unknown(opts, "fluentd")
    scheme, address = _fluentd_address(opts.get("fluentd-address", ""))
    flags = {}
    for key in ("fluentd-async", "fluentd-async-connect", "fluentd-sub-second-precision",
                "fluentd-request-ack"):
        flags[key] = _parse_bool(opts[key]) if opts.get(key) else False
    limit = None
    if opts.get("fluentd-buffer-limit"):
        found = _RAM.fullmatch(opts["fluentd-buffer-limit"])
        if found is None:
            raise ValueError(f"invalid size: '{opts['fluentd-buffer-limit']}'")
        limit = ram_in_bytes(opts["fluentd-buffer-limit"], "")
    wait = opts.get("fluentd-retry-wait", "")
    if wait and not re.fullmatch(r"[+-]?(0|(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+", wait):
        raise ValueError(f'time: invalid duration "{wait}"')
    retries = opts.get("fluentd-max-retries", "")
    if retries:
        gostrconv.parse_uint(retries)  # its NumError is dockerd's answer
    settings = {"scheme": scheme, "address": address,
                "async": flags["fluentd-async"] or flags["fluentd-async-connect"],
                "subsecond": flags["fluentd-sub-second-precision"]}
    if limit is not None:
        settings["limit"] = limit
    if wait:
        settings["retry"] = _seconds(wait)
    return settings


_UNITS: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}


def _seconds(duration: str) -> float:
    """A Go duration (checked already) in seconds."""
    sign = -1.0 if duration.startswith("-") else 1.0
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", duration)
    return sign * sum(float(n) * _UNITS[u] for n, u in parts)


def _fluentd_address(text: str) -> tuple[str, str]:
    """dockerd 20.10's ``parseAddress``: ``host[:port]``, or a transport URL (tcp, udp, unix,
    unixgram); the port defaults to 24224."""
    if not text:
        return "tcp", "127.0.0.1:24224"
    scheme, sep, rest = text.partition("://")
    address = text
    if sep and scheme in _SYSLOG_SCHEMES:
        host, slash, path = rest.partition("/")
        if scheme in ("unix", "unixgram"):
            return scheme, slash + path
        address = host
    else:
        scheme = "tcp"
    if address.count(":") > 1 and not address.startswith("["):
        raise ValueError(f"invalid fluentd-address {text}: address {address}: too many "
                         "colons in address")
    name, colon, port = address.rpartition(":") if ":" in address else (address, "", "")
    if colon:
        try:
            gostrconv.atoi(port)
        except gostrconv.NumError as e:
            raise ValueError(f"invalid fluentd-address {text}: {e}") from None
    return scheme, f"{name}:{port or 24224}"


def _parse_bool(text: str) -> bool:
    from .create import go_parse_bool  # create imports this module
    return go_parse_bool(text)


# ---- the start: what the shim is given ---------------------------------------------------------


class Info:
    """What a tag template and the messages may name (dockerd's ``logger.Info``)."""

    def __init__(self, record: Any, options: dict[str, str] | None = None,
                 daemon_name: str = "docker") -> None:
        from .create import command
        args = command(record.config)
        self.fields: dict[str, str] = {
            "ID": record.id[:12], "FullID": record.id, "Name": record.name.lstrip("/"),
            "ContainerID": record.id, "ContainerName": record.name,
            "ImageName": record.image, "ContainerImageName": record.image,
            "ImageID": record.image_id[:12], "ImageFullID": record.image_id,
            "ContainerImageID": record.image_id, "DaemonName": daemon_name,
            "Hostname": socket.gethostname(), "Command": " ".join(args),
            "ContainerEntrypoint": args[0] if args else "", "LogPath": record.log_path,
        }
        self.created = record.created
        from .logs import extra_attrs
        self.extra = extra_attrs(record.config, {"LogConfig": {"Config": options or {}}})
        """``labels``/``env`` (and their regexes) picked from the container, as dockerd's
        ``ExtraAttributes``: fields of each GELF message and fluentd record."""


def delivery(config: dict[str, Any], record: Any) -> dict[str, Any]:
    """The shim's delivery settings for ``record``'s log driver (empty for the file drivers),
    checked as dockerd's logger starts: a bad tag or an unreachable sink fails the start."""
    driver = config.get("Type") or "json-file"
    if driver in FILE_DRIVERS:
        return {}
    options = {k: v for k, v in (config.get("Config") or {}).items()}
    try:
        return _start(driver, options, Info(record, options))
    except (ValueError, OSError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DockyardError(f"failed to initialize logging driver: {message}") from None


def _start(driver: str, options: dict[str, str], info: Info) -> dict[str, Any]:
    if driver not in ("syslog", "gelf", "fluentd"):
        raise ValueError(_cannot(driver, options))
    opts = {k: v for k, v in options.items() if k not in BUILTIN_OPTS}
    settings = {"syslog": _syslog_settings, "gelf": _gelf_settings,
                "fluentd": _fluentd_settings}[driver](opts)
    settings.update(driver=driver, tag=render_tag(options.get("tag") or "{{.ID}}", info),
                    id=info.fields["FullID"], name=info.fields["ContainerName"])
    settings.setdefault("limit", _buffer(options))
    if driver == "fluentd":
        settings["extra"] = info.extra
    if driver == "syslog":
        settings["hostname"] = info.fields["Hostname"]
        _reach_syslog(settings)
    elif driver == "gelf":
        settings["extra"] = _gelf_extra(info, settings["tag"])
        settings["hostname"] = info.fields["Hostname"]
        if settings["scheme"] == "tcp":
            try:
                _reach(socket.SOCK_STREAM, "tcp", settings["address"])
            except ValueError as exc:
                raise ValueError(f"gelf: cannot connect to GELF endpoint: "
                                 f"{settings['address']} {exc}") from None
    elif settings["scheme"] not in ("tcp", "unix"):
        raise ValueError(f"fluentd over {settings['scheme']} is not supported by dockyard")
    elif _parse_bool(opts.get("fluentd-request-ack") or "false"):
        raise ValueError("fluentd-request-ack is not supported by dockyard (no acknowledged, "
                         "retried delivery here)")
    elif settings["scheme"] == "unix" and not settings["address"]:
        raise ValueError("dial unix: missing address")
    elif not settings["async"]:
        _reach(socket.SOCK_STREAM, settings["scheme"], settings["address"])
    return settings


def _buffer(options: dict[str, str]) -> int:
    if "max-buffer-size" in options:
        return ram_in_bytes(options["max-buffer-size"], "error parsing option max-buffer-size")
    return DEFAULT_BUFFER


def _gelf_extra(info: Info, tag: str) -> dict[str, str]:
    """The fields every GELF message carries — the container's, then its ``labels``/``env``
    attributes with a ``_`` before them — sorted, as Go's JSON writes a map."""
    f = info.fields
    extra = {("" if k.startswith("_") else "_") + k: v for k, v in info.extra.items()}
    extra.update({"_command": f["Command"], "_container_id": f["FullID"],
                  "_container_name": f["Name"], "_created": info.created,
                  "_image_id": f["ImageFullID"], "_image_name": f["ImageName"], "_tag": tag})
    return dict(sorted(extra.items()))


def _cannot(driver: str, options: dict[str, str]) -> str:
    """Why a driver dockerd has cannot deliver from here (dockerd's own words where it has
    them on this machine, recorded)."""
    if driver == "journald":
        return "journald is not enabled on this host"
    if driver == "awslogs" and not options.get("awslogs-group"):
        return "must specify a value for log opt 'awslogs-group'"
    if driver == "splunk" and not options.get("splunk-url"):
        return "splunk: splunk-url is expected"
    if driver == "logentries" and not options.get("logentries-token"):
        return "Missing logentries token"
    return f"the {driver} log driver cannot deliver from dockyard (no {driver} client here)"


def _reach_syslog(settings: dict[str, Any]) -> None:
    """As srslog's dial: a network address is dialled (a refused TCP connection fails the
    start; UDP only needs the name resolved), a unix socket connected; no address is the
    local syslog socket, the first of dockerd's three that takes a connection."""
    scheme, address = settings["scheme"], settings["address"]
    if scheme == "tcp+tls":
        _reach_tls(settings["tls"], address)
        return
    if scheme:
        kind = socket.SOCK_DGRAM if scheme in ("udp", "unixgram") else socket.SOCK_STREAM
        _reach(kind, scheme, address)
        return
    for scheme in ("unixgram", "unix"):  # srslog's order: each type over the three paths
        for path in _UNIX_SYSLOG:
            kind = socket.SOCK_DGRAM if scheme == "unixgram" else socket.SOCK_STREAM
            try:
                _reach(kind, scheme, path)
            except ValueError:
                continue
            settings.update(scheme=scheme, address=path)
            return
    raise ValueError("Unix syslog delivery error")


def _reach_tls(tls: dict[str, Any], address: str) -> None:
    """A TCP dial, then the handshake (a certificate the CA does not sign fails the start,
    in Go's words)."""
    import ssl

    from .logdrivers import tls_context
    context = tls_context(tls)
    host, _, port = address.rpartition(":")
    try:
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
    except OSError as exc:
        raise ValueError(f"dial tcp {address}: connect: {_os_words(exc)}") from None
    try:
        context.wrap_socket(sock, server_hostname=host.strip("[]")).close()
    except ssl.SSLCertVerificationError as exc:
        unknown = exc.verify_code in (18, 19, 20)  # self-signed, or an issuer not known
        raise ValueError("x509: " + ("certificate signed by unknown authority" if unknown
                                     else str(exc.verify_message))) from None
    except (ssl.SSLEOFError, ConnectionResetError):
        raise ValueError("EOF") from None  # the peer hung up (Go's io.EOF)
    except OSError as exc:
        raise ValueError(f"tls: {exc}") from None
    finally:
        sock.close()


def _reach(kind: int, scheme: str, address: str) -> None:
    """One dial, in Go's words when it fails (``dial tcp 127.0.0.1:1: connect: connection
    refused``); a UDP "connection" only resolves its name."""
    target: Any = address
    family = socket.AF_UNIX
    if scheme not in ("unix", "unixgram"):
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        try:
            found = socket.getaddrinfo(host or None, int(port), type=kind)
        except (socket.gaierror, ValueError):
            net = "udp" if kind == socket.SOCK_DGRAM else "tcp"
            raise ValueError(f"dial {net}: lookup {host}: no such host") from None
        family, target = found[0][0], found[0][4]
        if kind == socket.SOCK_DGRAM:
            return
    sock = socket.socket(family, kind | socket.SOCK_CLOEXEC)
    sock.settimeout(5)
    try:
        sock.connect(target)
    except OSError as exc:
        net = scheme if scheme in ("unix", "unixgram") else "tcp"
        raise ValueError(f"dial {net} {address}: connect: {_os_words(exc)}") from None
    finally:
        sock.close()


def _os_words(exc: OSError) -> str:
    """Go's error text for an errno (its strings are lower-case, as strerror's)."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:] if text else text


# ---- tag templates --------------------------------------------------------------------------------

_ACTION: Final = re.compile(r"\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}", re.DOTALL)


def _json(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


_FUNCS: Final = {"lower": str.lower, "upper": str.upper, "title": str.title, "json": _json}


def render_tag(template: str, info: Info) -> str:
    """Go's text/template for what log tags use: text, ``{{.Field}}`` (``logger.Info``'s
    fields and methods that give a string) and ``{{lower .Field}}``/``upper``/``title``;
    errors in Go's words. Whatever else a Go template could do is refused by name."""
    out, pos = [], 0
    for found in _ACTION.finditer(template):
        out.append(template[pos:found.start()])
        pos = found.end()
        out.append(_action(found, template, info))
    rest = template[pos:]
    if "{{" in rest:
        line = template.count("\n", 0, pos + rest.index("{{")) + 1
        raise ValueError(f"template: log-tag:{line}: unclosed action")
    out.append(rest)
    return "".join(out)


def _action(found: re.Match[str], template: str, info: Info) -> str:
    words = found.group(2).split()
    line = template.count("\n", 0, found.start()) + 1
    if len(words) == 2 and words[0] in _FUNCS:
        func, words = _FUNCS[words[0]], words[1:]
    elif len(words) == 2:
        raise ValueError(f'template: log-tag:{line}: function "{words[0]}" not defined')
    else:
        func = str
    if len(words) != 1 or not words[0].startswith("."):
        raise ValueError(f"unsupported tag template action {found.group(0)!r} (dockyard "
                         "takes {{.Field}}, {{lower .Field}}, {{upper .Field}}, "
                         "{{title .Field}})")
    name, *more = words[0][1:].split(".")
    col = found.start(2) - (template.rfind("\n", 0, found.start()) + 1)
    col += found.group(2).index(words[0])
    if name not in info.fields or more:
        where, kind = ("*logger.Info", name) if name not in info.fields else ("string", more[0])
        col += 0 if name not in info.fields else len(name) + 1
        raise ValueError(f'template: log-tag:{line}:{col}: executing "log-tag" at '
                         f"<{words[0]}>: can't evaluate field {kind} in type {where}")
    return func(info.fields[name])
