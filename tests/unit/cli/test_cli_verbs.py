"""The dockyard CLI's client verbs against a real daemon (docker-py underneath)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from dockyard.cli.main import main
from dockyard.testing.busybox import image_id

pytestmark = pytest.mark.usefixtures("dockyard_clean_images")


@pytest.fixture
def cli(dockyard_daemon, capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["-H", dockyard_daemon.host, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_images_table(cli, busybox_image: str) -> None:
    code, out, _ = cli("images")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(r.split()[:3] == ["busybox", "latest", busybox_image[7:19]] for r in rows)
    assert any(r.endswith("MB") and "ago" in r for r in rows)


def test_images_quiet_format_and_reference(cli, busybox_image: str) -> None:
    assert cli("images", "-q", "busybox")[1].split() == [busybox_image[7:19]]
    out = cli("image", "ls", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}", "busybox")[1]
    assert out == f"{busybox_image} busybox:latest\n"
    first = json.loads(cli("images", "--format", "json", "busybox")[1].splitlines()[0])
    assert first["Repository"] == "busybox" and first["Tag"] == "latest"
    assert cli("images", "--filter", "reference=nomatch")[1].splitlines() == [
        "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE"]


def test_inspect_and_format(cli, busybox_image: str) -> None:
    code, out, _ = cli("inspect", "busybox")
    assert code == 0 and json.loads(out)[0]["Id"] == busybox_image
    assert cli("image", "inspect", "-f", "{{.Id}} {{.Os}}", "busybox")[1] == f"{busybox_image} linux\n"
    code, out, err = cli("image", "inspect", "busybox", "nope")
    assert code == 1 and len(json.loads(out)) == 1
    assert err == "dockyard: no such image: nope: No such image: nope:latest\n"  # as dockerd 20.10


def test_tag_rmi(cli, busybox_image: str) -> None:
    assert cli("tag", "busybox", "localhost:5000/team/app:v1")[0] == 0
    assert "localhost:5000/team/app" in cli("images")[1]
    code, out, _ = cli("rmi", "localhost:5000/team/app:v1")
    assert code == 0 and out == "Untagged: localhost:5000/team/app:v1\n"
    code, _, err = cli("rmi", "nope")
    assert code == 1 and err == "dockyard: No such image: nope:latest\n"


def test_history(cli, busybox_image: str) -> None:
    out = cli("history", "busybox")[1]
    lines = out.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(busybox_image[7:19]) and lines[-1].startswith("<missing>")
    assert cli("image", "history", "-q", "--no-trunc", "busybox")[1].splitlines()[0] == busybox_image


def test_save_load_roundtrip(cli, busybox_image: str, tmp_path: Path) -> None:
    out_tar = tmp_path / "bb.tar"
    assert cli("save", "-o", str(out_tar), "busybox")[0] == 0
    with tarfile.open(out_tar) as tar:
        assert "manifest.json" in tar.getnames()
    assert cli("rmi", "busybox")[0] == 0
    code, out, _ = cli("load", "-i", str(out_tar))
    assert code == 0 and out == "Loaded image: busybox:latest\n"
    assert cli("image", "inspect", "-f", "{{.Id}}", "busybox")[1].strip() == image_id()


def test_save_to_a_missing_image_leaves_no_file(cli, tmp_path: Path) -> None:
    target = tmp_path / "x.tar"
    code, _, err = cli("save", "-o", str(target), "nope")
    assert code == 1 and "No such image" in err
    assert list(tmp_path.iterdir()) == []


def test_load_garbage_is_one_line(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"garbage" * 100)
    code, _, err = cli("load", "-i", str(bad))
    assert code == 1 and err.startswith("dockyard: ") and err.count("\n") == 1


def test_load_and_import_from_stdin(dockyard_daemon, busybox_image: str, busybox_archive: Path) -> None:
    base = [sys.executable, "-m", "dockyard.cli.main", "-H", dockyard_daemon.host]
    r = subprocess.run([*base, "load", "-q"], input=busybox_archive.read_bytes(),
                       capture_output=True, check=False)
    assert r.returncode == 0, r.stderr
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("etc/motd")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    r = subprocess.run([*base, "import", "-c", "ENV X=1", "-m", "imported", "-", "motd:v1"],
                       input=buf.getvalue(), capture_output=True, check=False)
    assert r.returncode == 0, r.stderr
    new_id = r.stdout.decode().strip()
    assert new_id.startswith("sha256:")
    r = subprocess.run([*base, "image", "inspect", "-f", "{{.Id}} {{.Comment}} {{.Config.Env}}", "motd:v1"],
                       capture_output=True, text=True, check=False)
    assert r.stdout.split(" ", 2)[:2] == [new_id, "imported"] and "X=1" in r.stdout


def test_prune_all_with_force(cli, busybox_image: str) -> None:
    cli("tag", "busybox", "prune-me:1")
    code, out, _ = cli("image", "prune", "-a", "-f")
    assert code == 0 and "untagged: prune-me:1" in out and "Total reclaimed space:" in out
    assert "busybox" not in cli("images")[1]


def test_prune_without_confirmation_does_nothing(cli, busybox_image: str, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, out, _ = cli("image", "prune", "-a")
    assert code == 0 and "Are you sure" in out and "busybox" in cli("images")[1]


def test_version_info_df(cli, busybox_image: str, dockyard_daemon) -> None:
    code, out, _ = cli("version")
    assert code == 0 and "Server: dockyard" in out and "API version:" in out
    assert cli("version", "-f", "{{.Server.ApiVersion}}")[1].strip() == "1.45"
    code, out, _ = cli("info")
    assert code == 0 and f"Docker Root Dir: {dockyard_daemon.root}" in out
    assert cli("system", "info", "-f", "{{.Driver}}")[1] == "overlay2\n"
    code, out, _ = cli("system", "df")
    assert out.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    images_row = out.splitlines()[1].split()
    assert images_row[0] == "Images" and int(images_row[1]) >= 1


def test_unreachable_daemon_is_one_line(capsys, tmp_path: Path) -> None:
    assert main(["-H", f"unix://{tmp_path}/none.sock", "images"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dockyard: Cannot connect to the dockyard daemon") and err.count("\n") == 1


def test_dockyard_host_env_selects_the_daemon(dockyard_daemon, busybox_image: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DOCKYARD_HOST", dockyard_daemon.host)
    assert main(["images", "-q", "busybox"]) == 0
    assert capsys.readouterr().out.strip() == busybox_image[7:19]


def test_a_closed_pipe_is_quiet(dockyard_daemon, busybox_image: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "-H", dockyard_daemon.host,
                             "save", "busybox"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()  # like `| head -c 100`
    assert proc.wait(30) == 141
    assert proc.stderr.read() == b""
    proc.stderr.close()
