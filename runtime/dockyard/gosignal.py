"""Go's signal names on Linux as moby 20.10's ``signal.ParseSignal`` reads them, the one reading
of a kill's and a create's signal (``containers.create``), a stop's (the container's
``StopSignal``) and a Dockerfile's STOPSIGNAL (``build.steps``). Pure.

Its SignalMap: the names Linux gives 1…31 (with ``IOT``, ``POLL`` and ``CLD`` beside ``ABRT``,
``IO`` and ``CHLD``; no ``UNUSED``), and the real-time ones exactly RTMIN, RTMIN+1 … RTMIN+15,
RTMAX-14 … RTMAX-1 and RTMAX (34…64) — ``RTMIN+0``, ``RTMIN+16`` and ``RTMAX-15`` name none.
"""

from __future__ import annotations

import signal
from typing import Final

from .gostrconv import atoi

REALTIME: Final = {"RTMIN": 34, "RTMAX": 64, **{f"RTMIN+{n}": 34 + n for n in range(1, 16)},
                   **{f"RTMAX-{n}": 64 - n for n in range(1, 15)}}
NAMES: Final = {**{s.name.removeprefix("SIG"): int(s) for s in signal.Signals},
                "IOT": int(signal.SIGIOT), "POLL": int(signal.SIGPOLL), "CLD": int(signal.SIGCHLD),
                **REALTIME}


def parse(text: str) -> int:
    """``ParseSignal``: any nonzero integer Go's Atoi reads (``+9``, ``09``, ``65``, ``-1`` —
    whether Linux has it is its user's question), else a name of the map with or without
    ``SIG``, in any case; nothing trimmed. ValueError ``Invalid signal: <text>``."""
    try:
        number = atoi(text)
    except ValueError:
        number = NAMES.get(text.upper().removeprefix("SIG"), 0)
    if not number:
        raise ValueError(f"Invalid signal: {text}")
    return number


def deliverable(number: int) -> bool:
    """Whether kill(2) takes the number (runc passes it on): 1…64; dockerd refuses a kill of
    32 and 33 itself, and a stop's signal beyond them fails at runc."""
    return 1 <= number <= 64
