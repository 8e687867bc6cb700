"""Go's real-time signal names on Linux, as moby's ``signal.ParseSignal`` looks them up in its
SignalMap: exactly RTMIN, RTMIN+1 … RTMIN+15, RTMAX-14 … RTMAX-1 and RTMAX (34…64) —
``RTMIN+0``, ``RTMIN+16`` and ``RTMAX-15`` name none. Shared by a kill's and a create's
signal (``containers.create``) and a Dockerfile's STOPSIGNAL (``build.dockerfile``). Pure."""

from __future__ import annotations

from typing import Final

REALTIME: Final = {"RTMIN": 34, "RTMAX": 64, **{f"RTMIN+{n}": 34 + n for n in range(1, 16)},
                   **{f"RTMAX-{n}": 64 - n for n in range(1, 15)}}
