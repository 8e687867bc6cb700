"""Mount stubs: which paths a RUN's mounts create, and which of them leave the layer again."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.build.stubs import mount_stubs, remove_mount_stubs, resolve


def _layers(tmp_path: Path) -> list[str]:
    """Two layers, bottom first: /var/{run -> ../run}, /run, /opt/app; then /opt whited out
    and re-made opaque with /opt/new, and an absolute link /cache -> /var/cache."""
    bottom, top = tmp_path / "l0", tmp_path / "l1"
    for d in ("var", "run", "opt/app"):
        (bottom / d).mkdir(parents=True)
    (bottom / "var" / "run").symlink_to("../run")
    (top / "opt" / "new").mkdir(parents=True)
    os.setxattr(top / "opt", "user.overlay.opaque", b"y")
    (top / "cache").symlink_to("/var/cache")
    (top / "gone").mkdir()
    os.mknod(top / "gone" / "x", 0o020000, 0)  # a whiteout: (char 0:0)
    return [str(bottom), str(top)]


def test_resolve_follows_links_inside_the_image_and_honours_opaque_dirs(tmp_path: Path) -> None:
    layers = _layers(tmp_path)
    assert resolve(layers, "/var/run/secrets/x") == ("run/secrets/x", 1)
    assert resolve(layers, "/cache/demo") == ("var/cache/demo", 1)
    assert resolve(layers, "/opt/new") == ("opt/new", 2)
    assert resolve(layers, "/opt/app") == ("opt/app", 1)  # hidden by the opaque /opt above
    assert resolve(layers, "/var/../run/x") == ("run/x", 1)
    assert resolve(layers, "/gone/x") == ("gone/x", 1)  # whited out
    assert resolve(layers, "/") == ("", 0)


def test_stubs_are_the_missing_paths_deepest_first_in_buildkit_order(tmp_path: Path) -> None:
    layers = _layers(tmp_path)
    assert mount_stubs(layers, ["/scratch"]) == ["scratch"]
    assert mount_stubs(layers, ["/cache/demo"]) == ["var/cache/demo", "var/cache"]
    assert mount_stubs(layers, ["/a/b", "/a/c"]) == ["a/b", "a", "a/c", "a"]
    assert mount_stubs(layers, ["/opt/new", "/run"]) == []


def test_only_empty_stubs_are_removed(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    for d in ("a/b", "a/c", "kept/dir"):
        (upper / d).mkdir(parents=True)
    (upper / "kept" / "dir" / "written").write_text("x")
    (upper / "empty-file").touch()
    (upper / "full-file").write_text("data")
    remove_mount_stubs(upper, ["a/b", "a", "a/c", "a", "kept/dir", "kept", "empty-file",
                               "full-file", "never-made"])
    assert sorted(p.name for p in upper.iterdir()) == ["full-file", "kept"]
    assert (upper / "kept" / "dir" / "written").exists()
