"""Log driver options that are numbers, read as dockerd 20.10 reads them — Go's strconv —
side by side with a private dockerd: a create's status and words.

dockerd's, recorded here: gelf's TCP reconnect options and compression level, syslog's facility
and fluentd's address port are ``strconv.Atoi`` (``-0`` and ``+9`` are numbers, a value past
int64 out of range, an Arabic-Indic ``٣`` no number), fluentd's retries ``strconv.ParseUint``
(``+3`` invalid syntax); their values in its errors quoted as Go's ``%q``. (dockyard's own
patterns refused ``-0``, took values past int64 and ``٣``, and quoted with bare ``"``.)
"""

from __future__ import annotations

from typing import Any

import pytest

GELF_TCP = {"gelf-address": "tcp://127.0.0.1:12201"}
GELF_UDP = {"gelf-address": "udp://127.0.0.1:12201"}
FLUENTD = {"fluentd-address": "127.0.0.1:24224", "fluentd-async": "true"}
SYSLOG = {"syslog-address": "udp://127.0.0.1:514"}
HUGE = "99999999999999999999"

CASES = [
    ("gelf", {**GELF_TCP, "gelf-tcp-max-reconnect": "-0"}),
    ("gelf", {**GELF_TCP, "gelf-tcp-reconnect-delay": HUGE}),
    ("gelf", {**GELF_UDP, "gelf-compression-level": "+9"}),
    ("gelf", {**GELF_UDP, "gelf-compression-level": '\t"'}),
    ("fluentd", {**FLUENTD, "fluentd-address": f"127.0.0.1:{HUGE}"}),
    ("fluentd", {**FLUENTD, "fluentd-address": "127.0.0.1:x\ty"}),
    ("fluentd", {**FLUENTD, "fluentd-max-retries": HUGE}),
    ("fluentd", {**FLUENTD, "fluentd-max-retries": "+3"}),
    ("fluentd", {**FLUENTD, "fluentd-max-retries": "a\tb"}),
    ("syslog", {**SYSLOG, "syslog-facility": "+3"}),
    ("syslog", {**SYSLOG, "syslog-facility": "\u0663"}),
]


def _create(api: Any, driver: str, options: dict[str, str]) -> tuple[int, str]:
    body = {"Image": "busybox", "Cmd": ["true"],
            "HostConfig": {"NetworkMode": "none", "LogConfig": {"Type": driver, "Config": options}}}
    done = api._post_json(api._url("/containers/create"), data=body)
    if done.status_code == 201:
        api.remove_container(done.json()["Id"], force=True)
        return 201, ""
    return done.status_code, done.json()["message"]


@pytest.mark.parametrize(("driver", "options"), CASES, ids=[str(n) for n in range(len(CASES))])
def test_a_log_options_number_as_dockerd(both: dict[str, Any], driver: str,
                                         options: dict[str, str]) -> None:
    answers = {side: _create(client.api, driver, options) for side, (_cli, client) in both.items()}
    assert answers["dockyard"] == answers["dockerd"]
