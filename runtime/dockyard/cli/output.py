"""Error funnel and shared output helpers for CLI verbs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..errors import DockyardError


def fail(message: str) -> int:
    """Print a one-line error the way docker does and return the exit status."""
    print(f"dockyard: {message.strip()}", file=sys.stderr)
    return 1


def run_verb(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one verb, turning every expected failure into one line on stderr."""
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): quiet, and 141 as SIGPIPE gives
        _drop_stdout()
        return 141
    except DockyardError as exc:
        return fail(str(exc))
    except Exception as exc:  # noqa: BLE001 — docker-py and connection errors: one line, never a traceback
        return fail(_client_error_message(exc))


def _drop_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _client_error_message(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return str(explanation)
    name = type(exc).__name__
    if "ConnectionError" in name or isinstance(exc, (ConnectionRefusedError, FileNotFoundError)):
        return f"cannot connect to the dockyard daemon: {exc}. Is the daemon running?"
    return f"{name}: {exc}"
