"""The working directory is made by the create, side by side with a private real dockerd 20.10
(``SetupWorkingDirectory``, called by ``createContainerOSSpecificSettings``): before any start
``docker diff`` shows it (``A /new``, ``A /new/dir``; ``C /usr``, ``C /usr/sbin`` for parents
the image has) and ``docker cp`` copies into it. Recorded from dockerd: made directories are
0755 and the daemon's root's whatever ``--user`` is (the remapped root's under
``--userns-remap``); a parent the image has is copied up with its mode, owner and mtime (the
deepest one's is the create's: a directory was made in it); the path is resolved in the image
(its symlinks, the init layer's ``/etc/mtab`` too); an image's WORKDIR missing from it is made
as a create's ``-w`` is, a relative one under ``/``. A volume over the path hides what the
create made: the start makes the directory in the volume (runc's ``prepareRootfs``)."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.testing import busybox

pytestmark = pytest.mark.slow

OLD = 1_500_000_000
TAGS = {"dywd:base": None, "dywd:missing": "/img/wd", "dywd:relative": "rel/x"}


def _layer() -> bytes:
    """A layer with parents of the image's own mode, owner and mtime, and a symlink to one."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, mode, uid in (("deep", 0o750, 5), ("deep/a", 0o711, 6)):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, mode, uid, uid + 1, OLD
            tar.addfile(info)
        info = tarfile.TarInfo("ln")
        info.type, info.linkname, info.mtime = tarfile.SYMTYPE, "deep/a", OLD
        tar.addfile(info)
    return out.getvalue()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``docker save`` archive of busybox with :func:`_layer` under :data:`TAGS`, each with its
    WorkingDir in its config (as no builder writes a missing one)."""
    tmp = tmp_path_factory.mktemp("workdirs")
    (tmp / "layer.tar").write_bytes(_layer())
    base = busybox.make_image("dywd:base", extra_layers=[tmp / "layer.tar"])
    made = [busybox.configured(base, tag, WorkingDir=workdir)
            for tag, workdir in TAGS.items() if workdir is not None]
    return busybox.write_archive(tmp / "images.tar", [base, *made])


@pytest.fixture
def loaded(both: dict[str, Any], images: Path) -> Iterator[dict[str, Any]]:
    for _cli, client in both.values():
        with open(images, "rb") as f:
            list(client.api.load_image(f))
    yield both
    for _cli, client in both.values():
        for tag in TAGS:
            client.api.remove_image(tag, force=True)


def _headers(container: Any, since: int, under: tuple[str, ...]) -> dict[str, tuple[Any, ...]]:
    """The export's entries at or below ``under``: mode, ids, names, and the mtime ("now" when
    the create's)."""
    with tarfile.open(fileobj=io.BytesIO(b"".join(container.export()))) as tar:
        return {m.name: (oct(m.mode), m.uid, m.gid, m.uname, m.gname,
                         "now" if m.mtime >= since else m.mtime)
                for m in tar if m.name.split("/")[0] in under}


CASES = [
    (["-w", "/new/dir"], "dywd:base", ("new",)),
    (["-w", "/usr/sbin/new"], "dywd:base", ("usr",)),
    (["-w", "/deep/a/b/c"], "dywd:base", ("deep",)),
    (["-w", "/ln/new"], "dywd:base", ("deep", "ln")),     # the image's symlink followed
    (["-w", "/etc/x"], "dywd:base", ("etc",)),            # in the init layer's /etc
    (["-u", "1000:1000", "-w", "/n1/n2"], "dywd:base", ("n1",)),
    (["-w", "/tmp/a"], "dywd:base", ("tmp",)),            # a 1777 parent
    (["-w", "/proc/foo"], "dywd:base", ("proc",)),        # C /proc: each start fails
    (["-w", "/etc/mtab/x"], "dywd:base", ("proc",)),      # the init layer's link followed
    ([], "dywd:missing", ("img",)),
    ([], "dywd:relative", ("rel",)),                      # made under /; each start fails
]


@pytest.mark.parametrize(("args", "image", "under"), CASES,
                         ids=[" ".join([*c[0], c[1]]) for c in CASES])
def test_the_create_makes_the_working_dir(loaded: dict[str, Any], args: list[str], image: str,
                                          under: tuple[str, ...]) -> None:
    seen = {}
    for name, (cli, client) in loaded.items():
        since = int(time.time())
        made = cli("create", "--pull", "never", "--network", "none", "--name", "wdmade", *args,
                   image, "true")
        assert made.returncode == 0, made.stderr
        try:
            container = client.containers.get("wdmade")
            workdir = container.attrs["Config"]["WorkingDir"]
            diff = cli("diff", "wdmade").stdout
            headers = _headers(container, since, under)
            target = workdir if workdir.startswith("/") else "/" + workdir
            copied = cli("cp", "-", f"wdmade:{target}", input=_one_file(), text=False)
            after = cli("diff", "wdmade").stdout
        finally:
            client.api.remove_container("wdmade", force=True)
        seen[name] = (workdir, diff, headers, copied.returncode, copied.stderr, after)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][1] and seen["dockerd"][3] == 0


def _one_file() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("copied")
        info.size, info.mtime = 3, OLD
        tar.addfile(info, io.BytesIO(b"hi\n"))
    return out.getvalue()


def test_a_volume_over_the_working_dir(loaded: dict[str, Any]) -> None:
    """``-w /v/sub -v /v``: the create makes /v/sub in the container's root, the start makes
    /v/sub again in the volume mounted over it (the command runs there)."""
    seen = {}
    for name, (cli, client) in loaded.items():
        made = cli("create", "--pull", "never", "--network", "none", "--name", "wdvolume",
                   "-w", "/v/sub", "-v", "/v", "busybox", "sh", "-c", "pwd; ls -a /v")
        assert made.returncode == 0, made.stderr
        try:
            before = cli("diff", "wdvolume").stdout
            ran = cli("start", "-a", "wdvolume")
            seen[name] = (before, ran.returncode, ran.stdout, cli("diff", "wdvolume").stdout)
        finally:
            client.api.remove_container("wdvolume", force=True, v=True)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][:3] == ("A /v\nA /v/sub\n", 0, "/v/sub\n.\n..\nsub\n")


def test_a_remapped_daemon_makes_it_for_the_remapped_root(remapped_pair: tuple[str, str],
                                                         images: Path) -> None:
    """Under ``--userns-remap`` the made directories are the remapped root's on the host, a
    copied-up parent keeps its (remapped) owner: the upper dir's owners, shown as offsets from
    the remapped root's, and the export's (mapped back)."""
    seen = {}
    for name, host in zip(("dockerd", "dockyard"), remapped_pair, strict=True):
        client = docker.DockerClient(base_url=host, version="auto", timeout=30)
        try:
            with open(images, "rb") as f:
                list(client.api.load_image(f))
            since = int(time.time())
            container = client.containers.create("dywd:base", ["true"], working_dir="/deep/a/b",
                                                 network_mode="none")
            try:
                upper = Path(container.attrs["GraphDriver"]["Data"]["UpperDir"])
                base = upper.stat().st_uid
                owners = {rel: (st.st_uid - base, st.st_gid - base, oct(st.st_mode))
                          for rel in ("deep", "deep/a", "deep/a/b")
                          for st in [(upper / rel).lstat()]}
                seen[name] = (owners, _headers(container, since, ("deep",)))
            finally:
                container.remove(force=True)
                for tag in TAGS:
                    client.api.remove_image(tag, force=True)
        finally:
            client.close()
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0]["deep/a/b"] == (0, 0, "0o40755")


@pytest.mark.parametrize("workdir", ["/proc/foo", "/etc/mtab/x"])
def test_a_start_that_cannot_make_it(loaded: dict[str, Any], workdir: str) -> None:
    """What the create made under /proc is hidden by the start's procfs: runc's MkdirAll of the
    cwd fails, in Go's words for the part it names (500 and 128; ENOTDIR's 400, 127 and hint)."""
    seen = {}
    for name, (_cli, client) in loaded.items():
        api = client.api
        cid = api.create_container("busybox", ["pwd"], working_dir=workdir,
                                   host_config=api.create_host_config(network_mode="none"))["Id"]
        try:
            try:
                api.start(cid)
                started: tuple[int, str] = (0, "")
            except docker.errors.APIError as exc:
                started = (exc.status_code, str(exc.explanation))
            state = api.inspect_container(cid)["State"]
        finally:
            api.remove_container(cid, force=True)
        seen[name] = (started, state["Status"], state["ExitCode"], state["Error"])
    assert seen["dockyard"] == seen["dockerd"]
    assert "error during container init: mkdir " in seen["dockerd"][0][1]
