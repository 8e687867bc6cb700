"""``%docker VERB …`` and ``%%dockerfile``: thin entry points over :mod:`verbs`.

Interpolation is IPython's (``{expr}``, ``$var``, ``$$`` for a literal ``$``) with one
difference from ``!``: docker's Go templates (``{{.ID}}``) pass through untouched.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
)
from IPython.utils.text import DollarFormatter
from traitlets import Bool, Unicode

from dockyard.errors import DockyardError

from . import client as clients
from . import parsers, reprs, verbs
from .errors import CommandUsage
from .lockfile import LockFile

USAGE = ("usage: %docker [--host URL] VERB [OPTIONS] …   (docker's own syntax)\n"
         f"verbs: {', '.join(sorted(parsers.PARSERS))}\n"
         "%docker VERB --help shows a verb's options; {expr} and $var are interpolated.")
_TEMPLATE = re.compile(r"\{\{.*?\}\}")


def interpolate(line: str, namespace: dict[str, Any]) -> str:
    """IPython's ``!`` expansion, keeping ``{{…}}`` spans literal (swapped for placeholders
    while expanding). As in IPython, a line whose expansion fails is used as written."""
    spans: list[str] = []

    def mask(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"\0{len(spans) - 1}\0"

    masked = _TEMPLATE.sub(mask, line)
    try:
        expanded = DollarFormatter().vformat(masked, args=[], kwargs=namespace)
    except Exception:  # noqa: BLE001 - IPython's rule: leave the line as written
        return line
    return re.sub(r"\0(\d+)\0", lambda m: spans[int(m.group(1))], expanded)


def split_global(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--host URL`` / ``-H URL`` before the verb, as docker's global flags."""
    host = None
    while argv and (argv[0] in {"--host", "-H"} or argv[0].startswith("--host=")):
        flag = argv.pop(0)
        if "=" in flag:
            host = flag.split("=", 1)[1]
        elif not argv:
            raise CommandUsage(f"%docker: flag needs an argument: {flag}")
        else:
            host = argv.pop(0)
    return host, argv


#: The verbs whose outcome goes into dockyard.lock.json.
RECORDING = frozenset({verbs.VERBS["run"], verbs.VERBS["build"], verbs.VERBS["push"],
                       verbs.build_from_text})


@magics_class
class DockerMagics(Magics):
    host = Unicode(
        None, allow_none=True,
        help="Engine API address the magics use when neither --host nor DOCKYARD_HOST is "
             "given (default: the bundled dockyard daemon).",
    ).tag(config=True)

    lock_file = Bool(
        None, allow_none=True,
        help="Record builds, pushes and runs in dockyard.lock.json beside the notebook (the "
             "kernel's working directory). None: only in notebook kernels.",
    ).tag(config=True)

    def _lock(self, func: Any) -> LockFile | None:
        """Loaded only for a verb that records: a damaged lock file stops those (rather than be
        overwritten) but never ``ps``, ``logs`` or ``rm``, which have nothing to record."""
        if func not in RECORDING:
            return None
        record = self.lock_file
        if record is None:
            record = type(self.shell).__name__ == "ZMQInteractiveShell"
        return LockFile.load(Path(os.getcwd())) if record else None

    def _namespace(self, local_ns: dict[str, Any] | None) -> dict[str, Any]:
        ns = dict(self.shell.user_ns) if self.shell else {}
        ns.update(local_ns or {})
        return ns

    def _call(self, host: str | None, user_ns: dict[str, Any], func: Any, *args: Any) -> Any:
        """The magics' error edge: every expected failure becomes one line."""
        chosen = clients.resolve_host(host, self.host)
        try:
            with clients.daemon_errors(chosen):
                ctx = verbs.Context(clients.get_client(chosen), chosen, Path(os.getcwd()), user_ns,
                                    lock=self._lock(func))
                result = func(ctx, *args)
        except DockyardError as exc:
            raise UsageError(str(exc)) from None
        if ctx.exit_code is not None and self.shell is not None:
            self.shell.user_ns["_exit_code"] = ctx.exit_code
        return result

    @no_var_expand  # type: ignore[untyped-decorator]
    @needs_local_scope  # type: ignore[untyped-decorator]
    @line_magic  # type: ignore[untyped-decorator]
    def docker(self, line: str, local_ns: dict[str, Any] | None = None) -> Any:
        """Run a docker command: ``%docker [--host URL] VERB [OPTIONS] …`` (docker's syntax)."""
        user_ns = self._namespace(local_ns)
        try:
            argv = shlex.split(interpolate(line, user_ns))
            host, argv = split_global(argv)
            if argv[:1] in (["--help"], ["help"]):
                print(USAGE)
                return None
            if not argv:
                raise CommandUsage("usage: %docker [--host URL] VERB [OPTIONS] … (verbs: "
                                   f"{', '.join(sorted(parsers.PARSERS))})")
            ns = parsers.parse(argv[0], argv[1:])
        except parsers.HelpShown:
            return None
        except (CommandUsage, ValueError) as exc:
            raise UsageError(str(exc)) from None
        return self._call(host, user_ns, verbs.VERBS[argv[0]], ns)

    @no_var_expand  # type: ignore[untyped-decorator]
    @needs_local_scope  # type: ignore[untyped-decorator]
    @cell_magic  # type: ignore[untyped-decorator]
    def dockerfile(self, line: str, cell: str, local_ns: dict[str, Any] | None = None) -> Any:
        """Build the cell (a Dockerfile) into an image: ``%%dockerfile [-t NAME[:TAG]] …``."""
        user_ns = self._namespace(local_ns)
        try:
            host, argv = split_global(shlex.split(interpolate(line, user_ns)))
            ns: argparse.Namespace = parsers.dockerfile().parse_args(argv)
        except parsers.HelpShown:
            return None
        except (CommandUsage, ValueError) as exc:
            raise UsageError(str(exc)) from None
        return self._call(host, user_ns, verbs.build_from_text, cell, ns)


def load(ipython: Any) -> None:
    reprs.install()
    ipython.register_magics(DockerMagics)
