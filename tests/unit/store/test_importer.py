"""docker import: rootfs tarballs in any compression, --change, platform, and failures."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile

import pytest
from store_helpers import F, make_tar, sha256, store_state

from dockyard.engine import go_arch
from dockyard.errors import InvalidArgument
from dockyard.store.images import ImageStore
from dockyard.store.importer import apply_changes, import_architecture, import_rootfs
from dockyard.store.snapshots import HostileLayer

ROOTFS = make_tar([F("bin/", type=tarfile.DIRTYPE), F("bin/hello", b"hi\n", mode=0o755)])


@pytest.mark.parametrize("compress", [lambda d: d, gzip.compress, lzma.compress, bz2.compress])
def test_import_any_compression(store: ImageStore, compress: object) -> None:
    msgs = list(import_rootfs(store, io.BytesIO(compress(ROOTFS)), "imp", "1"))  # type: ignore[operator]
    image_id = msgs[-1]["status"]
    assert store.resolve("imp:1") == image_id
    info = store.inspect(image_id)
    assert info["RootFS"]["Layers"] == [sha256(ROOTFS)] and info["Comment"] == "Imported from -"
    assert (store.rootfs_layers(image_id)[0] / "bin" / "hello").read_bytes() == b"hi\n"


def test_import_untagged_with_message_and_platform(store: ImageStore) -> None:
    msgs = list(import_rootfs(store, io.BytesIO(ROOTFS), message="hello", platform="linux/arm64/v8"))
    info = store.inspect(msgs[0]["status"])
    assert info["RepoTags"] == [] and info["Comment"] == "hello"
    # dockerd 20.10 records this machine's architecture whatever --platform says (checked)
    assert (info["Os"], info["Architecture"], info.get("Variant")) == ("linux", go_arch(), None)
    assert store.history(msgs[0]["status"])[0]["Comment"] == "hello"


def test_changes_applied() -> None:
    config = apply_changes({}, [
        'CMD ["/bin/hello", "x"]', "ENTRYPOINT /entry", "ENV A=1 B='two words'", "ENV C 3 4",
        "EXPOSE 80 53/udp", "LABEL a=b", "USER nobody", "WORKDIR /w", 'VOLUME ["/data"]',
        "STOPSIGNAL SIGKILL", "ONBUILD RUN echo",
    ])
    assert config["Cmd"] == ["/bin/hello", "x"] and config["Entrypoint"] == ["/bin/sh", "-c", "/entry"]
    assert config["Env"] == ["A=1", "B=two words", "C=3 4"]
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}} and config["Labels"] == {"a": "b"}
    assert (config["User"], config["WorkingDir"], config["StopSignal"]) == ("nobody", "/w", "SIGKILL")
    assert config["Volumes"] == {"/data": {}} and config["OnBuild"] == ["RUN echo"]


def test_invalid_change(store: ImageStore) -> None:
    with pytest.raises(InvalidArgument, match="^run is not a valid change command$"):
        import_rootfs(store, io.BytesIO(ROOTFS), changes=["RUN echo"])


@pytest.mark.parametrize("text", ["windows/amd64", "windows", "darwin/arm64", "macos"])
def test_another_os_is_refused_in_dockerds_words(text: str) -> None:
    with pytest.raises(InvalidArgument, match="^operating system is not supported$"):
        import_architecture(text)


@pytest.mark.parametrize("text", ["linux/amd64", "amd64", "x86_64", "arm64", "linux/arm/v6", "linux",
                                  "Linux/AMD64", "linux/foo", None])
def test_any_linux_platform_is_this_machines_as_dockerd_records_it(text: str | None) -> None:
    """dockerd 20.10 parses --platform as containerd does, then keeps only the OS (checked:
    amd64, arm64, linux/arm/v6 and the rest each gave a linux/<this machine> image)."""
    assert import_architecture(text) == go_arch()


@pytest.mark.parametrize(("text", "message"), [
    ("bogus", '"bogus": unknown operating system or architecture: invalid argument'),
    ("linux/a/b/c", '"linux/a/b/c": cannot parse platform specifier: invalid argument'),
    ("*", '"*": wildcards not yet supported: invalid argument'),
    ("linux/x y", ('"x y" is an invalid component of "linux/x y": platform specifier component must '
                  'match "^[A-Za-z0-9_-]+$": invalid argument')),
])
def test_unparsable_platforms_in_containerds_words(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        import_architecture(text)
    assert str(info.value) == message


@pytest.mark.parametrize("data,exc", [
    (gzip.compress(ROOTFS)[:100], InvalidArgument),
    (ROOTFS[:700], InvalidArgument),
    (make_tar([F("../escape", b"x")]), HostileLayer),
], ids=["truncated-gzip", "truncated-tar", "hostile"])
def test_bad_rootfs_changes_nothing(store: ImageStore, data: bytes, exc: type[Exception]) -> None:
    before = store_state(store)
    with pytest.raises(exc):
        list(import_rootfs(store, io.BytesIO(data), "bad", "1"))
    assert store_state(store) == before
