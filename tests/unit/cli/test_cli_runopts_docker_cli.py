"""The shared ``run``/``create`` flag table (``dockyard.cli.runopts``, which ``dockyard run``
and the notebook's ``%docker run`` both use) against the real docker CLI 28: for the same
flags, the body ``runopts.create_body`` builds is the body ``docker create`` sends (recorded
through :mod:`dockyard.testing.createcapture`, a listener posing as a daemon), and bad values
are refused in the CLI's words."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from dockyard.cli import runopts
from dockyard.errors import InvalidArgument
from dockyard.testing.createcapture import CreateCapture

# values that are maps in the API: an entry with an empty value ("/x": "", "80/tcp": {}) counts
_MAPS = {"Labels", "Sysctls", "Tmpfs", "ExposedPorts", "Volumes", "PortBindings", "Config", "DriverOpts"}
# where an empty list differs from none (systempaths=unconfined sends [])
_KEEP_EMPTY = {"MaskedPaths", "ReadonlyPaths"}


def _zero(value: Any) -> bool:
    return value in ("", 0, False, None, [], {}) or value == [0, 0]  # [0, 0]: ConsoleSize


def normalised(value: Any, is_map: bool = False) -> Any:
    """The body without the zero values Go marshals for every unset field (the daemon reads
    an absent field and a zero one alike); ``Binds`` in order (the CLI sends a map's order);
    ``Env`` in order too: the docker 28 CLI's order of ``-e`` entries varies from run to run
    (three orders in 20 runs here), so our own order is checked on its own."""
    if isinstance(value, dict):
        out = {k: normalised(v, k in _MAPS) for k, v in value.items()}
        if is_map:
            return out
        kept = {k: v for k, v in out.items() if k in _KEEP_EMPTY and v is not None or not _zero(v)}
        for key in ("Binds", "Env"):
            if key in kept:
                kept[key] = sorted(kept[key])
        return kept
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CreateCapture]:
    with CreateCapture(tmp_path_factory.mktemp("capture") / "capture.sock") as listener:
        yield listener


def ours(argv: list[str], cwd: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
         ) -> tuple[dict[str, Any], dict[str, str]]:
    p = argparse.ArgumentParser(add_help=False)
    runopts.add_create_flags(p)
    args = p.parse_args(argv)
    with monkeypatch.context() as patched:
        for name in ("FROM_ENV", "UNSET"):
            patched.delenv(name, raising=False)
        for name, value in env.items():
            patched.setenv(name, value)
        body = runopts.create_body(args, detach=False, cwd=cwd)
    query = {k: v for k, v in (("name", args.name), ("platform", args.platform)) if v}
    return body, query


def _profile(tmp: Path) -> Path:
    path = tmp / "profile.json"
    path.write_text('{\n  "defaultAction": "SCMP_ACT_ERRNO",\n  "syscalls": [\n'
                    '    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}\n  ]\n}\n')
    return path


CASES = {
    "bare": ["busybox"],
    "terminal": ["-i", "-t", "busybox", "sh"],
    "network": ["--rm", "--name", "n1", "--platform", "linux/amd64", "-p", "8080:80",
                "-p", "127.0.0.1::53/udp", "-p", "9000-9001:90-91", "-P", "--expose", "100-101",
                "--network", "net1", "--network-alias", "al", "--network-alias", "al2",
                "--ip", "10.0.0.5", "--mac-address", "02:42:ac:11:00:02", "busybox"],
    "resources": ["-m", "64m", "--memory-swap", "128m", "--shm-size", "1g", "--cpus", "1.5",
                  "-c", "512", "--cpu-period", "100000", "--cpu-quota", "50000",
                  "--cpuset-cpus", "0-1", "--cpuset-mems", "0", "--pids-limit", "10", "busybox"],
    "unlimited": ["-m", "10m", "--memory-swap", "-1", "--pids-limit", "-1", "--network", "none",
                  "--restart", "unless-stopped", "busybox"],
    "security": ["--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges",
                 "--security-opt", "systempaths=unconfined", "--security-opt", "label=disable",
                 "--cap-add", "all", "--cap-add", "net_admin", "--cap-add", "CAP_CHOWN",
                 "--cap-drop", "chown", "--privileged", "--read-only", "--init", "busybox"],
    "profile": ["--security-opt", "seccomp={profile}", "busybox"],
    "logs": ["--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
             "--log-opt", "bare", "busybox"],
    "log-opts-alone": ["--log-opt", "tag=x", "busybox"],
    "ulimits-devices-groups": ["--ulimit", "nproc=5", "--ulimit", "core=1:2", "--ulimit", "nproc=7",
                               "--ulimit", "nofile=-1", "--group-add", "10", "--group-add", "audio",
                               "--device", "/dev/null", "--device", "/dev/zero:/z:r",
                               "--device", "/dev/full:rw", "busybox"],
    "names": ["--dns", "1.1.1.1", "--dns", "0:0::1", "--dns-search", "ex.com", "--dns-search", ".",
              "--dns-option", "ndots:2", "--add-host", "a:1.2.3.4", "--add-host", "b=5.6.7.8",
              "--add-host", "v6:[::1]", "--add-host", "gw:host-gateway", "--domainname",
              "example.org", "-h", "hn", "busybox"],
    "files": ["-v", "/data", "-v", "/h:/c:ro", "-v", "./rel:/r", "-v", "../up:/u", "-v", "named:/n",
              "--mount", "type=bind,src=/a,dst=/b,readonly", "--mount",
              "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=01777", "--mount",
              "type=volume,src=v,dst=/v,volume-nocopy",
              "--tmpfs", "/run:size=1m", "--tmpfs", "/x", "--volumes-from", "other:ro",
              "-e", "A=1", "-e", "FROM_ENV", "-e", "UNSET", "--env-file", "vars.env", "-w", "/w",
              "-u", "1:2", "-l", "k=v", "-l", "k2", "--entrypoint", "", "busybox", "ls", "-l"],
    "lifecycle": ["--restart", "on-failure:3", "--stop-signal", "SIGINT", "--stop-timeout", "5",
                  "--health-cmd", "true", "--health-interval", "1s", "--health-timeout", "100ms",
                  "--health-start-period", "1m", "--health-start-interval", "2s",
                  "--health-retries", "3", "busybox"],
    "pflag-ints": ["--stop-timeout", "0x10", "--health-cmd", "true", "--health-retries", "0o7",
                   "-c", "010", "--pids-limit=-0b11", "--cpu-period", "1_000",
                   "--restart", "on-failure:+3", "busybox"],
    "restart-minus-one": ["--restart", "on-failure:-1", "busybox"],
    "port-numbers": ["--expose", "0", "-p", "0", "-p", "1-2-3", "--expose", "7-8-9",
                     "--expose", "10/udp", "-p", "011:12", "busybox"],
    "no-healthcheck": ["--no-healthcheck", "--log-driver", "none", "busybox"],
    "links": ["--link", "a", "--link", "b:al", "--link", "/x:/p/y", "--link", "a:", "busybox"],
    "links-user-defined": ["--network", "net1", "--network-alias", "q", "--link", "a:b",
                           "--link", "c", "busybox"],
    "links-host": ["--network", "host", "--link", "a", "busybox"],
    "links-none": ["--network", "none", "--link", "a", "busybox"],
    "joined": ["--network", "container:abc", "--mac-address", "02:42:ac:11:00:03", "busybox"],
    "userns-host": ["--userns", "host", "--privileged", "--network", "host", "busybox"],
    "userns-empty": ["--userns=", "busybox"],
    "cgroupns-host": ["--cgroupns", "host", "busybox"],
    "cgroupns-private": ["--cgroupns=private", "busybox"],
    "cgroupns-empty": ["--cgroupns=", "busybox"],
    "sysctls": ["--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=100",
                "--sysctl", "fs.mqueue.msg_max=20", "--sysctl", "kernel.sem=250 32000 32 200",
                "--sysctl", "net.a=b=c", "--sysctl", "net.x=1", "--sysctl", "net.x=2",
                "--sysctl", "net.empty=", "busybox"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_body_is_the_docker_clis(case: str, capture: CreateCapture, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "vars.env").write_text("# comment\nF=1\n\n  G=two words\n")
    argv = [a.replace("{profile}", str(_profile(tmp_path))) for a in CASES[case]]
    env = {"FROM_ENV": "from the environment"}
    theirs, query = capture.create(*argv, env=env, cwd=work)
    body, our_query = ours(argv, work, env, monkeypatch)
    assert normalised(body) == normalised(theirs), json.dumps(theirs, indent=1)
    assert our_query == dict(parse_qsl(query))
    if case == "files":  # the CLI's usual order: the env files' lines, then each -e as given
        assert body["Env"] == ["F=1", "G=two words", "A=1", "FROM_ENV=from the environment", "UNSET"]


def test_the_comparison_can_tell(capture: CreateCapture, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A flag the table dropped or spelled otherwise shows up as a difference."""
    theirs = capture.create_body("--ulimit", "nofile=10:20", "--cap-add", "net_admin", "busybox")
    body, _ = ours(["--ulimit", "nofile=10:20", "--cap-add", "net_admin", "busybox"], tmp_path, {},
                   monkeypatch)
    assert normalised(body) == normalised(theirs)
    body["HostConfig"]["CapAdd"] = ["NET_ADMIN"]
    assert normalised(body) != normalised(theirs)
    del body["HostConfig"]["Ulimits"]
    body["HostConfig"]["CapAdd"] = ["CAP_NET_ADMIN"]
    assert normalised(body) != normalised(theirs)


REFUSALS = [
    ["--ulimit", "nofile"], ["--ulimit", "nofile=a"], ["--ulimit", "nofile=20:10"],
    ["--ulimit", "bogus=1"], ["--ulimit", "nofile=1:2:3"], ["--device", "/dev/null:rel"],
    ["--device", "/dev/null:/n:x"], ["--add-host", "noaddr"], ["--add-host", "h:notanip"],
    ["--memory-swap", "x"], ["--shm-size", "2q"], ["-m", "lots"], ["--memory=-1m"], ["-m", "1MiBs"],
    ["--shm-size", "1.2.3m"], ["--dns", "notip"],
    ["--dns-search", "bad_domain!"], ["--cpu-period", "x"], ["--pids-limit", "1.5"],
    ["-c", "x"], ["--stop-timeout", "x"], ["--health-retries", "x"], ["--mac-address", "zz"],
    ["--security-opt", "bogus"], ["--log-driver", "none", "--log-opt", "a=b"],
    ["--health-timeout", "5"], ["--no-healthcheck", "--health-retries", "1"],
    ["--userns", "private"], ["--userns=HOST"], ["--userns", "container:x"],
    ["--cgroupns", "foo"], ["--cgroupns", "HOST"], ["--cgroupns", "container:x"],
    ["--sysctl", "vm.swappiness=10"], ["--sysctl", "net.ipv4.ip_forward"],
    ["--link", "a:b:c"], ["--link="], ["--network", "net1", "--link", "x:y:z"],
    ["--sysctl", "kernel.domainname=x"], ["--sysctl", "kernel.hostname=x"], ["--sysctl", "=1"],
    ["--ulimit", "nofile=0x10"], ["--ulimit", "nofile=99999999999999999999a"],
    ["--ulimit", "nofile=\u0663"], ["--restart", "on-failure:0x3"], ["--restart", "on-failure:\u00b2"],
    ["--stop-timeout", "99999999999999999999a"], ["--stop-timeout", "1__0"],
    ["--expose", "x"], ["--expose", "\u0668\u0660"], ["--expose", "80-70"], ["--expose", " 80"],
    ["--expose", "1:2"], ["--expose", "/udp"], ["-p", "\u0668\u0660"], ["-p", "8080:\u0668\u0660"],
    ["-p", "+80"], ["-p", "80-70"], ["-p", "65536"], ["-p", "x:80"], ["-p", "80-81:90-92"],
    *(["--mount", f"type=tmpfs,dst=/t,tmpfs-mode={mode}"]
      for mode in ("9", "1_7", " 17", "+17", "0o17", "0x1", "-1", "40000000000")),
    ["--mount", "type=tmpfs"], ["--mount", "bogus=1,dst=/x"], ["--mount", "dst=/x,nokey"],
]


@pytest.mark.parametrize("flags", REFUSALS, ids=" ".join)
def test_refusals_in_the_docker_clis_words(flags: list[str], capture: CreateCapture,
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said = capture.refusal(*flags, "busybox").splitlines()[0].removeprefix("docker: ")
    with pytest.raises(InvalidArgument) as refused:
        ours([*flags, "busybox"], tmp_path, {}, monkeypatch)
    assert str(refused.value) == said
