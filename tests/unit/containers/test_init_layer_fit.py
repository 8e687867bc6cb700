"""dockerd's init layer fitted to the image at create (``manager._fit_init_layer``), and kept out
of ``docker diff`` and of a commit's layer (``commit.without_init_paths``,
``commit.layer_exclusions``). Each expectation is what dockerd 20.10's ``docker export`` showed
for an image of the same shape (see tests/interop/test_init_layer_export_docker_cli.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace

from dockyard.containers import commit, skeleton
from dockyard.containers.manager import _fit_init_layer, _image_init
from dockyard.store import diff


def _entries(root: Path) -> dict[str, str]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
            extra = os.readlink(p) if kind == "link" else oct(stat.S_IMODE(st.st_mode))
            found[str(p.relative_to(root))] = f"{kind} {extra} {st.st_uid}:{st.st_gid}"
    return found


def _container(tmp_path: Path, layer: Path) -> SimpleNamespace:
    skeleton.make(tmp_path / "c")
    _image_init.cache_clear()
    return SimpleNamespace(lower_dirs=[str(layer)], upper_dir=str(tmp_path / "c" / "upper"))


INIT = {".dockerenv": "file 0o755 0:0", "etc": "dir 0o755 0:0", "etc/hosts": "file 0o755 0:0",
        "etc/hostname": "file 0o755 0:0", "etc/resolv.conf": "file 0o755 0:0",
        "etc/mtab": "link /proc/mounts 0:0", "dev": "dir 0o755 0:0", "dev/console": "file 0o755 0:0",
        "dev/pts": "dir 0o755 0:0", "dev/shm": "dir 0o755 0:0"}


def test_an_image_with_etc_dev_proc_and_sys_gets_the_init_files_alone(tmp_path: Path) -> None:
    """busybox: dockerd's export adds .dockerenv, the /etc files and the three /dev entries."""
    layer = tmp_path / "layer"
    for name in ("etc", "dev", "proc", "sys"):
        (layer / name).mkdir(parents=True)
        os.chmod(layer / name, 0o555 if name in ("proc", "sys") else 0o755)
    record = _container(tmp_path, layer)
    _fit_init_layer(record)
    assert _entries(Path(record.upper_dir)) == INIT


def test_an_image_without_dev_proc_or_sys(tmp_path: Path) -> None:
    """dockerd's init layer makes /proc and /sys (0755) too when the image has none."""
    layer = tmp_path / "layer"
    (layer / "bin").mkdir(parents=True)
    record = _container(tmp_path, layer)
    _fit_init_layer(record)
    assert _entries(Path(record.upper_dir)) == {**INIT, "proc": "dir 0o755 0:0", "sys": "dir 0o755 0:0"}


def test_an_image_with_its_own_dev_entries(tmp_path: Path) -> None:
    """dockerd 20.10 on such an image: /dev keeps its mode and owner (copied up), /dev/pts stays
    the image's, a /dev/shm link and a /dev/console node are replaced by the init layer's
    directory and empty file; a regular /etc/mtab is shadowed by the link."""
    layer = tmp_path / "layer"
    (layer / "dev" / "pts").mkdir(parents=True)
    (layer / "etc").mkdir()
    (layer / "etc" / "mtab").touch()
    os.chmod(layer / "dev", 0o750)
    os.chown(layer / "dev", 1, 2)
    os.chmod(layer / "dev" / "pts", 0o700)
    os.symlink("/run/shm", layer / "dev" / "shm")
    os.mknod(layer / "dev" / "console", 0o600 | stat.S_IFCHR, os.makedev(5, 1))
    record = _container(tmp_path, layer)
    _fit_init_layer(record)
    upper = _entries(Path(record.upper_dir))
    assert upper["dev"] == "dir 0o750 1:2"
    assert "dev/pts" not in upper  # the image's shows through
    assert upper["dev/shm"] == "dir 0o755 0:0" and upper["dev/console"] == "file 0o755 0:0"
    assert upper["etc/mtab"] == "link /proc/mounts 0:0"


def test_an_images_mtab_link_is_shadowed_and_its_etc_mode_kept(tmp_path: Path) -> None:
    """dockerd 20.10 exported ``/etc/mtab -> /proc/mounts`` for an image linking it elsewhere."""
    layer = tmp_path / "layer"
    (layer / "etc").mkdir(parents=True)
    os.chmod(layer / "etc", 0o700)
    os.chown(layer / "etc", 12, 34)
    os.symlink("/proc/self/mounts", layer / "etc" / "mtab")
    record = _container(tmp_path, layer)
    _fit_init_layer(record)
    upper = _entries(Path(record.upper_dir))
    assert upper["etc"] == "dir 0o700 12:34" and upper["etc/mtab"] == "link /proc/mounts 0:0"


def test_the_init_layer_is_neither_a_change_nor_in_a_commit(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    (layer / "bin").mkdir(parents=True)
    record = _container(tmp_path, layer)
    _fit_init_layer(record)
    found = diff.changes(record.lower_dirs, record.upper_dir)
    assert {c["Path"] for c in found} >= {"/dev", "/proc", "/sys", "/etc"}  # added, for the overlay
    assert commit.without_init_paths(found, record.upper_dir) == []  # dockerd's diff: nothing
    assert sorted(commit.layer_exclusions(record.upper_dir)) == sorted(
        [p.lstrip("/") for p in commit.INIT_PATHS] + ["etc", "dev"])
    Path(record.upper_dir, "x").touch()
    Path(record.upper_dir, "dev", "mine").touch()
    found = diff.changes(record.lower_dirs, record.upper_dir)
    assert commit.without_init_paths(found, record.upper_dir) == [  # dockerd: C /dev, never A
        {"Path": "/dev", "Kind": diff.MODIFIED}, {"Path": "/dev/mine", "Kind": diff.ADDED},
        {"Path": "/x", "Kind": diff.ADDED}]
    assert "dev" not in commit.layer_exclusions(record.upper_dir)


def test_an_init_file_changed_or_an_init_directory_used_is_in_diff_and_layer(tmp_path: Path) -> None:
    """``docker cp`` onto ``/etc/hosts`` of a container never started (dockerd: ``C /etc``,
    ``C /etc/hosts``, both in a commit's layer), ``-w /dev/shm/x`` (``dev/`` in the layer)."""
    layer = tmp_path / "layer"
    (layer / "bin").mkdir(parents=True)
    record = _container(tmp_path, layer)
    _fit_init_layer(record)
    Path(record.upper_dir, "etc", "hosts").write_text("hi\n")
    Path(record.upper_dir, "dev", "shm", "x").mkdir()
    found = diff.changes(record.lower_dirs, record.upper_dir)
    assert commit.without_init_paths(found, record.upper_dir) == [
        {"Path": "/dev", "Kind": diff.MODIFIED}, {"Path": "/dev/shm", "Kind": diff.MODIFIED},
        {"Path": "/dev/shm/x", "Kind": diff.ADDED}, {"Path": "/etc", "Kind": diff.MODIFIED},
        {"Path": "/etc/hosts", "Kind": diff.MODIFIED}]
    excluded = commit.layer_exclusions(record.upper_dir)
    assert not {"dev", "dev/shm", "etc", "etc/hosts"} & set(excluded)
    assert {"etc/hostname", "etc/mtab", "dev/console", "dev/pts"} <= set(excluded)


def test_an_init_directory_holding_the_containers_files_is_modified(tmp_path: Path) -> None:
    """``-w /proc/foo``: dockerd's create makes it in its container layer, over the init
    layer's /proc — ``C /proc``, ``A /proc/foo`` in docker diff, both in a commit's layer."""
    layer = tmp_path / "layer"
    (layer / "bin").mkdir(parents=True)
    record = _container(tmp_path, layer)
    _fit_init_layer(record)
    Path(record.upper_dir, "proc", "foo").mkdir()
    found = diff.changes(record.lower_dirs, record.upper_dir)
    assert commit.without_init_paths(found, record.upper_dir) == [
        {"Path": "/proc", "Kind": diff.MODIFIED}, {"Path": "/proc/foo", "Kind": diff.ADDED}]
    excluded = commit.layer_exclusions(record.upper_dir)
    assert "proc" not in excluded and {"sys", "dev/pts", "dev"} <= set(excluded)
