"""Container verbs other than run: ps, logs, exec, lifecycle, top, stats, cp, diff, commit,
export, prune, inspect — against real daemons, with the real docker CLI's output as the
reference where dockerd is the daemon."""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from cliengines import Engine, engines

CONTAINERS = engines("containers")
DOCKER = shutil.which("docker")


def _docker(engine: Engine, *argv: str) -> str:
    assert DOCKER, "the docker CLI is the reference"
    env = {"DOCKER_HOST": engine.host, "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run([DOCKER, *argv], env=env, capture_output=True, text=True, check=True).stdout


@CONTAINERS
def test_ps_matches_the_docker_cli(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "sleeper", "-l", "a=b", "busybox", "sleep", "30")
    assert engine.cli("run", "--name", "done", "busybox", "false", "an-argument-to-truncate")[0] == 1
    header = engine.ok("ps").splitlines()[0]
    assert re.split(r"\s{2,}", header) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                                          "PORTS", "NAMES"]
    fmt = "{{.ID}}|{{.Image}}|{{.Command}}|{{.Names}}|{{.Ports}}|{{.State}}|{{.Labels}}|{{.Networks}}"
    for flags in ([], ["-a"], ["-a", "--no-trunc"], ["-n", "1"], ["-l"], ["-a", "--filter", "name=sleep"]):
        assert engine.ok("ps", *flags, "--format", fmt) == _docker(engine, "ps", *flags, "--format", fmt)
    rows = {line.split()[-1]: line for line in engine.ok("ps", "-a").splitlines()[1:]}
    assert re.search(r'"sleep 30"\s+\S.* ago\s+Up \d+ seconds?|Up Less than a second', rows["sleeper"])
    assert '"false an-argument-t…"' in rows["done"]
    assert re.search(r"Exited \(1\) (\d+ seconds?|Less than a second) ago", rows["done"])
    assert engine.ok("ps", "-q").split() == [engine.ok("inspect", "-f", "{{.Id}}", "sleeper")[:12]]


@CONTAINERS
def test_logs_split_streams_tail_timestamps_and_follow(engine: Engine) -> None:
    engine.ok("run", "--name", "talk", "busybox", "sh", "-c", "echo one; echo two >&2; echo three")
    assert engine.cli("logs", "talk") == (0, "one\nthree\n", "two\n")
    assert engine.cli("logs", "--tail", "1", "talk")[1:] in {("three\n", ""), ("", "two\n")}
    stamped = engine.ok("logs", "-t", "talk").splitlines()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (one|three)", s) for s in stamped)
    assert engine.cli("logs", "--since", "2999-01-01T00:00:00Z", "talk") == (0, "", "")
    assert engine.cli("logs", "--until", "1h", "talk") == (0, "", "")
    engine.ok("run", "-d", "--name", "slow", "busybox", "sh", "-c", "echo a; sleep 1; echo b")
    started = time.monotonic()
    assert engine.ok("logs", "-f", "slow") == "a\nb\n"  # follows until the container exits
    assert time.monotonic() - started > 0.5


@CONTAINERS
def test_exec_status_env_user_workdir_detach(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "host", "busybox", "sleep", "30")
    assert engine.cli("exec", "host", "sh", "-c", "echo in; exit 4") == (4, "in\n", "")
    out = engine.ok("exec", "-e", "X=y", "-u", "1", "-w", "/etc", "host", "sh", "-c", "echo $X $(id -u) $PWD")
    assert out == "y 1 /etc\n"
    assert engine.ok("exec", "-d", "host", "touch", "/tmp/detached") == ""
    time.sleep(0.3)
    assert engine.cli("exec", "host", "test", "-f", "/tmp/detached")[0] == 0
    r = engine.proc("exec", "-i", "host", "cat", input="piped\n")
    assert r.stdout == "piped\n"


@CONTAINERS
def test_lifecycle_verbs(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "life", "busybox", "sleep", "60")
    assert engine.ok("pause", "life") == "life\n"
    assert "(Paused)" in engine.ok("ps", "--format", "{{.Status}}")
    assert engine.ok("unpause", "life") == "life\n"
    assert engine.ok("rename", "life", "cycle") == ""
    assert engine.ok("restart", "-t", "1", "cycle") == "cycle\n"
    assert engine.ok("kill", "-s", "TERM", "cycle") == "cycle\n"  # pid 1 ignores TERM: still up
    assert engine.ok("inspect", "-f", "{{.State.Running}}", "cycle") == "true\n"
    code, _, err = engine.cli("rm", "cycle")
    assert code == 1 and err.count("\n") == 1 and "You cannot remove a running container" in err
    assert engine.ok("stop", "-t", "1", "cycle") == "cycle\n"
    assert engine.ok("wait", "cycle") == "137\n"
    assert engine.ok("ps", "-a", "--format", "{{.Status}}").startswith("Exited (137)")
    code, out, err = engine.cli("rm", "-f", "cycle", "nosuch")
    assert (code, out) == (1, "cycle\n") and "No such container: nosuch" in err


@CONTAINERS
def test_top_stats_port(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "busy", "busybox", "sleep", "30")
    header, row = engine.ok("top", "busy").splitlines()
    assert header.split()[:3] == ["UID", "PID", "PPID"] and row.endswith("sleep 30")
    assert engine.ok("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "busy") == "busy 1\n"
    table = engine.ok("stats", "--no-stream", "busy").splitlines()
    assert re.split(r"\s{2,}", table[0]) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT",
                                            "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]
    assert re.search(r"busy\s+\d+\.\d\d%\s+[\d.]+[KMG]?i?B / [\d.]+[KMG]iB\s+\d+\.\d\d%", table[1])
    assert engine.ok("port", "busy") == ""
    assert engine.cli("port", "busy", "80")[2] == "dockyard: No public port '80/tcp' published for busy\n"


@engines("top-ps-args")
def test_top_passes_ps_options(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "busy", "busybox", "sleep", "30")
    assert engine.ok("top", "busy", "-o", "pid,comm").splitlines()[1].split()[1] == "sleep"


@engines("archive")
def test_cp_both_ways_and_as_tar_streams(engine: Engine, tmp_path: Path) -> None:
    engine.ok("run", "-d", "--name", "box", "busybox", "sleep", "30")
    (tmp_path / "in.txt").write_text("hello\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "f").write_text("nested\n")
    engine.ok("cp", str(tmp_path / "in.txt"), "box:/tmp/")
    engine.ok("cp", str(tmp_path / "in.txt"), "box:/tmp/renamed")
    engine.ok("cp", str(tmp_path / "dir"), "box:/tmp/dir")
    assert engine.ok("exec", "box", "cat", "/tmp/in.txt", "/tmp/renamed", "/tmp/dir/f") == "hello\nhello\nnested\n"
    engine.ok("cp", "box:/etc/passwd", str(tmp_path / "pw"))
    assert (tmp_path / "pw").read_text().startswith("root:x:0:0:")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    engine.ok("cp", "box:/tmp/dir", str(out_dir))
    assert (out_dir / "dir" / "f").read_text() == "nested\n"
    r = engine.proc("cp", "box:/etc/group", "-", text=False)
    assert r.returncode == 0
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        assert tar.getnames() == ["group"]
    code, _, err = engine.cli("cp", "box:/nonexistent", str(tmp_path / "x"))
    assert code == 1 and "Could not find the file /nonexistent in container box" in err
    assert not (tmp_path / "x").exists()
    code, _, err = engine.cli("cp", str(tmp_path / "pw"), str(tmp_path / "pw2"))
    assert (code, err) == (1, "dockyard: must specify at least one container source\n")


@engines("archive")
def test_diff_commit_export(engine: Engine, tmp_path: Path) -> None:
    engine.ok("run", "--name", "changed", "busybox", "sh", "-c", "echo new > /tmp/new; rm /etc/group")
    changes = engine.ok("diff", "changed").splitlines()
    assert {"A /tmp/new", "D /etc/group"} <= set(changes)
    image_id = engine.ok("commit", "-m", "msg", "-c", "ENV FROM=commit", "changed", "committed:v1").strip()
    assert image_id.startswith("sha256:")
    assert engine.cli("run", "--rm", "committed:v1", "sh", "-c", "cat /tmp/new; echo $FROM") == \
        (0, "new\ncommit\n", "")
    engine.ok("export", "-o", str(tmp_path / "fs.tar"), "changed")
    with tarfile.open(tmp_path / "fs.tar") as tar:
        names = set(tar.getnames())
    assert "tmp/new" in names and "bin/busybox" in names and "etc/group" not in names
    engine.ok("rmi", "committed:v1")


@CONTAINERS
def test_container_prune(engine: Engine) -> None:
    cid = engine.ok("create", "busybox", "true").strip()
    out = engine.ok("container", "prune", "-f")
    assert out.startswith("Deleted Containers:\n" + cid + "\n") and "Total reclaimed space:" in out


@engines("networks")  # system prune also prunes networks
def test_system_prune(engine: Engine) -> None:
    engine.ok("create", "busybox", "true")
    out = engine.ok("system", "prune", "-f")
    assert "Deleted Containers:" in out and out.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    r = engine.proc("system", "prune", "--volumes", input="n\n")
    assert r.stdout.startswith("WARNING! This will remove:\n  - all stopped containers\n")
    assert "  - all anonymous volumes not used by at least one container\n" in r.stdout


@CONTAINERS
@pytest.mark.parametrize("kind", ["container", "image"])
def test_inspect_looks_up_containers_first(engine: Engine, kind: str) -> None:
    engine.ok("create", "--name", "busybox", "busybox", "true")  # a container named like the image
    first = json.loads(engine.ok("inspect", "busybox"))[0]
    assert "State" in first  # the container wins, as in docker
    typed = json.loads(engine.ok("inspect", "--type", kind, "busybox"))[0]
    assert ("State" in typed) == (kind == "container")
    code, out, err = engine.cli("inspect", "busybox", "nosuch")
    assert code == 1 and len(json.loads(out)) == 1 and err == "dockyard: No such object: nosuch\n"
    code, _, err = engine.cli("inspect", "--type", kind, "nosuch")
    assert err == f"dockyard: No such {kind}: nosuch\n"


@engines("objects")
def test_inspect_finds_networks_and_volumes(engine: Engine) -> None:
    api = engine.client()
    try:
        api.create_volume("cli-vol")
        engine.ok("network", "create", "cli-obj-net")
        volume = json.loads(engine.ok("inspect", "cli-vol"))[0]
        assert volume["Name"] == "cli-vol" and "Mountpoint" in volume
        assert engine.ok("inspect", "-f", "{{.Name}} {{.Driver}}", "cli-obj-net") == "cli-obj-net bridge\n"
        assert engine.ok("inspect", "--type", "volume", "-f", "{{.Driver}}", "cli-vol") == "local\n"
        assert engine.cli("inspect", "--type", "network", "cli-vol")[2] == "dockyard: No such network: cli-vol\n"
    finally:
        api.remove_volume("cli-vol", force=True)
        api.close()


@CONTAINERS
def test_stats_streams_until_interrupted(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "watched", "busybox", "sleep", "30")
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "-H", engine.host, "stats",
                             "--format", "{{.Name}} {{.PIDs}}", "watched"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(4)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    frames = [f for f in out.split("\033[2J\033[H") if f]
    assert len(frames) >= 2 and all(f == "watched 1\n" for f in frames), out
    assert proc.returncode == 130
