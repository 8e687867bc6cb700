"""ImageStore: lookup, tag/untag/delete/prune with dockerd's rules, views and crash recovery."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from store_helpers import add_image, simple_layer

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.oci import reference
from dockyard.store.images import ImageStore


def test_lookup_by_reference_id_and_prefix(store: ImageStore) -> None:
    image_id = add_image(store, [simple_layer()], ["busybox"])
    hexid = image_id.removeprefix("sha256:")
    for name in ("busybox", "busybox:latest", "docker.io/library/busybox:latest", image_id, hexid,
                 hexid[:12], "sha256:" + hexid[:5]):
        assert store.resolve(name) == image_id, name


def test_not_found_wording(store: ImageStore) -> None:
    with pytest.raises(NotFound, match=r"^No such image: busybox:latest$"):
        store.resolve("busybox")
    with pytest.raises(NotFound, match=r"^No such image: localhost:5000/x:1$"):
        store.resolve("localhost:5000/x:1")
    with pytest.raises(InvalidArgument, match="invalid reference format"):
        store.resolve("UPPER:case:bad")


def test_ambiguous_prefix_is_not_found(store: ImageStore) -> None:
    ids = [add_image(store, [simple_layer(str(i))]) for i in range(40)]
    firsts = [i[7] for i in ids]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(NotFound):
        store.resolve(shared)
    unique = ids[0][7:20]
    assert store.resolve(unique) == ids[0]


def test_name_at_manifest_digest(store: ImageStore) -> None:
    from store_helpers import make_config, sha256

    from dockyard.store.images import LayerInput

    layer = simple_layer()
    store.content.write_bytes(layer)
    manifest = b'{"schemaVersion": 2}'
    mdigest = store.content.write_bytes(manifest)
    prepared = store.prepare(make_config([sha256(layer)]), [LayerInput(sha256(layer))],
                             [reference.parse("repo:1")], manifest=(mdigest, "application/vnd.oci.image.manifest.v1+json"))
    store.commit([prepared])
    assert store.resolve(f"repo@{mdigest}") == prepared.image.id
    with pytest.raises(NotFound):
        store.resolve(f"other@{mdigest}")
    with pytest.raises(NotFound, match=f"No such image: repo@{mdigest}"):
        store.remove(f"repo@{mdigest}")  # not a stored reference: nothing to untag
    assert store.resolve("repo:1") == prepared.image.id


def test_tag_and_untag(store: ImageStore) -> None:
    image_id = add_image(store, [simple_layer()], ["busybox"])
    store.tag("busybox", "localhost:5000/bb", "v1")
    store.tag(image_id[7:19], "mine", None)
    tags = store.list_images()[0]["RepoTags"]
    assert sorted(tags) == ["busybox:latest", "localhost:5000/bb:v1", "mine:latest"]
    assert store.inspect("mine")["Metadata"]["LastTagTime"] != "0001-01-01T00:00:00Z"
    with pytest.raises(InvalidArgument, match="digest"):
        store.tag("busybox", "x@sha256:" + "a" * 64, None)
    with pytest.raises(NotFound):
        store.tag("nothere", "x", "1")


def test_remove_reference_only_untags_while_others_remain(store: ImageStore) -> None:
    from store_helpers import sha256

    image_id = add_image(store, [simple_layer()], ["a:1", "a:2"])
    assert store.remove("a:1") == [{"Untagged": "a:1"}]
    assert store.remove("a:2") == [
        {"Untagged": "a:2"}, {"Deleted": image_id}, {"Deleted": sha256(simple_layer())},
    ]
    assert store.list_images() == [] and list(store.content.digests()) == []
    assert store.snapshots.ids() == []


def test_remove_by_id_with_several_repositories_needs_force(store: ImageStore) -> None:
    image_id = add_image(store, [simple_layer()], ["a:1", "b:1"])
    short = image_id[7:19]
    with pytest.raises(Conflict) as info:
        store.remove(short)
    assert str(info.value) == (f"conflict: unable to delete {short} (must be forced) - "
                               "image is referenced in multiple repositories")
    records = store.remove(short, force=True)
    assert {"Untagged": "a:1"} in records and {"Untagged": "b:1"} in records
    assert {"Deleted": image_id} in records and store.count_images() == 0


def test_remove_by_id_single_repository_untags_and_deletes(store: ImageStore) -> None:
    image_id = add_image(store, [simple_layer()], ["a:1"])
    records = store.remove(image_id)
    assert records[0] == {"Untagged": "a:1"} and records[1] == {"Deleted": image_id}
    assert records[2]["Deleted"].startswith("sha256:")


def test_shared_snapshots_live_until_last_user(store: ImageStore) -> None:
    base = simple_layer("base")
    one = add_image(store, [base, simple_layer("one")], ["one"])
    two = add_image(store, [base, simple_layer("two")], ["two"])
    assert len(store.snapshots.ids()) == 3
    base_dir = store.rootfs_layers("one")[0]
    store.remove("one")
    assert base_dir.is_dir() and len(store.snapshots.ids()) == 2
    assert store.content.has(two) and not store.content.has(one)
    store.remove("two")
    assert store.snapshots.ids() == [] and list(store.content.digests()) == []


def test_container_conflicts(store: ImageStore) -> None:
    image_id = add_image(store, [simple_layer()], ["a:1"])
    store.containers_using = lambda i: [("c0ffee" * 10, True)] if i == image_id else []
    with pytest.raises(Conflict, match='unable to remove repository reference "a:1" .*container c0ffeec0ffee'):
        store.remove("a:1")
    with pytest.raises(Conflict, match=r"\(cannot be forced\) - image is being used by running container"):
        store.remove(image_id, force=True)
    store.containers_using = lambda i: [("beef" * 16, False)]
    with pytest.raises(Conflict, match=r"\(must be forced\) - image is being used by stopped container"):
        store.remove(image_id)
    assert {"Deleted": image_id} in store.remove(image_id, force=True)


def test_prune_dangling_and_all(store: ImageStore) -> None:
    dangling = add_image(store, [simple_layer("d")])
    tagged = add_image(store, [simple_layer("t")], ["keep"])
    report = store.prune({})
    assert report["ImagesDeleted"][0] == {"Deleted": dangling} and report["SpaceReclaimed"] == 1
    assert store.prune({})["ImagesDeleted"] is None
    report = store.prune({"dangling": ["false"]})
    assert report["ImagesDeleted"][:2] == [{"Untagged": "keep:latest"}, {"Deleted": tagged}]
    assert store.count_images() == 0
    with pytest.raises(InvalidArgument, match="Invalid filter 'bogus'"):
        store.prune({"bogus": ["1"]})


def test_list_filters(store: ImageStore) -> None:
    old = add_image(store, [simple_layer("o")], ["app:old"], created="2020-01-01T00:00:00Z", labels={"tier": "db"})
    new = add_image(store, [simple_layer("n")], ["app:new", "localhost:5000/lib/app:1"],
                    created="2023-01-01T00:00:00Z")
    none = add_image(store, [simple_layer("x")], created="2022-01-01T00:00:00Z")

    def ids(**filters: list[str]) -> list[str]:
        return [i["Id"] for i in store.list_images(filters=filters)]

    assert ids() == [new, none, old]
    assert ids(dangling=["true"]) == [none] and ids(dangling=["false"]) == [new, old]
    assert ids(reference=["app"]) == [new, old] and ids(reference=["app:n*"]) == [new]
    assert ids(reference=["localhost:5000/*/app"]) == [new] and ids(reference=["*"]) == [new, old]
    assert ids(label=["tier"]) == [old] and ids(label=["tier=web"]) == []
    assert ids(before=["app:new"]) == [none, old] and ids(since=["app:old"]) == [new, none]
    with pytest.raises(InvalidArgument):
        store.list_images(filters={"nope": ["x"]})
    summary = store.list_images(filters={"reference": ["app:old"]})[0]
    assert summary["Labels"] == {"tier": "db"} and summary["Created"] == 1577836800
    assert summary["SharedSize"] == -1 and summary["Containers"] == -1 and summary["ParentId"] == ""


def test_inspect_shape(store: ImageStore) -> None:
    image_id = add_image(store, [simple_layer("a"), simple_layer("b")], ["x:1"], cmd=["/bin/true"])
    info = store.inspect("x:1")
    assert info["Id"] == image_id and info["RepoTags"] == ["x:1"] and info["RepoDigests"] == []
    assert info["Config"]["Cmd"] == ["/bin/true"] and info["Config"]["Entrypoint"] is None
    assert info["Created"] == "2024-01-02T03:04:05.123456789Z" and info["Os"] == "linux"
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 2
    assert info["GraphDriver"]["Name"] == "overlay2"
    assert Path(info["GraphDriver"]["Data"]["LowerDir"]).is_dir()
    assert info["Size"] == 2


def test_history(store: ImageStore) -> None:
    image_id = add_image(store, [simple_layer("a"), simple_layer("bb")], ["h:1"])
    hist = store.history("h:1")
    assert [h["Id"] for h in hist] == [image_id, "<missing>", "<missing>"]
    assert hist[0]["Tags"] == ["h:1"] and hist[1]["Tags"] is None
    assert [h["Size"] for h in hist] == [0, 2, 1] and hist[2]["CreatedBy"].endswith("layer 0")


def test_recover_collects_orphans(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    image_id = add_image(store, [simple_layer()], ["keep"])
    orphan_blob = store.content.write_bytes(b"orphan")
    (store.content.ingest / "x.tmp").write_bytes(b"half")
    (store.snapshots.root / "tmp-1234" / "fs").mkdir(parents=True)
    (store.snapshots.root / ("c" * 64) / "fs").mkdir(parents=True)
    store.close()
    store = ImageStore(tmp_path)
    assert not store.content.has(orphan_blob) and os.listdir(store.content.ingest) == []
    assert sorted(os.listdir(store.snapshots.root)) == [store.snapshots.ids()[0].removeprefix("sha256:")]
    assert store.resolve("keep") == image_id
    store.close()


def test_recover_drops_image_whose_snapshot_vanished(tmp_path: Path) -> None:
    import shutil

    store = ImageStore(tmp_path)
    add_image(store, [simple_layer()], ["gone"])
    shutil.rmtree(store.rootfs_layers("gone")[0].parent)
    store.close()
    store = ImageStore(tmp_path)
    with pytest.raises(NotFound):
        store.resolve("gone")
    assert list(store.content.digests()) == [] and store.count_images() == 0
    store.close()


def test_snapshot_left_before_commit_is_adopted(store: ImageStore) -> None:
    import io

    from store_helpers import sha256

    layer = simple_layer()
    chain = sha256(layer)
    store.snapshots.create(chain, io.BytesIO(layer))
    inode = store.snapshots.path(chain).stat().st_ino
    add_image(store, [layer], ["x"])
    assert store.snapshots.path(chain).stat().st_ino == inode


@pytest.mark.slow
def test_list_500_images(store: ImageStore) -> None:
    for i in range(500):
        add_image(store, [simple_layer(str(i % 5))], [f"img{i}:v{i}"], labels={"n": str(i)})
    start = time.perf_counter()
    images = store.list_images()
    elapsed = time.perf_counter() - start
    assert len(images) == 500 and all(len(i["RepoTags"]) == 1 for i in images)
    print(f"images_list of 500 images: {elapsed * 1000:.1f} ms")


def test_add_with_parent_for_builds(store: ImageStore) -> None:
    from store_helpers import make_config, sha256

    from dockyard.store.images import LayerInput

    base_layer, top_layer = simple_layer("base"), simple_layer("top")
    with store.adding() as session:
        for layer in (base_layer, top_layer):
            session.blob(store.content.write_bytes(layer))
        base = store.add(make_config([sha256(base_layer)]), [LayerInput(sha256(base_layer))],
                         session=session)
        child = store.add(make_config([sha256(base_layer), sha256(top_layer)]),
                          [LayerInput(sha256(base_layer)), LayerInput(sha256(top_layer))],
                          [reference.parse("built:1")], parent=base, session=session)
    assert store.inspect("built:1")["Parent"] == base
    assert [i["Id"] for i in store.list_images()] == [child]  # the intermediate is hidden
    assert {i["Id"] for i in store.list_images(all=True)} == {base, child}
    with pytest.raises(Conflict, match="image has dependent child images"):
        store.remove(base)
    records = store.remove("built:1")
    assert {"Deleted": child} in records and {"Deleted": base} in records  # parent pruned too
    assert list(store.content.digests()) == []


def test_untagging_last_tag_drops_digest_references_of_the_repo(store: ImageStore) -> None:
    digest = "sha256:" + "d" * 64
    image_id = add_image(store, [simple_layer()], ["repo:1", f"repo@{digest}", "other:2"])
    assert store.list_images()[0]["RepoDigests"] == [f"repo@{digest}"]
    assert store.resolve(f"repo@{digest}") == image_id
    assert store.remove("repo:1") == [{"Untagged": "repo:1"}, {"Untagged": f"repo@{digest}"}]
    records = store.remove("other:2")
    assert records[:2] == [{"Untagged": "other:2"}, {"Deleted": image_id}]


def test_disk_usage_counts_shared_layers(store: ImageStore) -> None:
    base = simple_layer("base")
    one = add_image(store, [base, simple_layer("one")], ["one"])
    two = add_image(store, [base, simple_layer("three")], ["two"])
    alone = add_image(store, [simple_layer("x")], ["alone"])
    store.containers_using = lambda i: [("c1", False)] if i == one else []
    usage = {i["Id"]: i for i in store.disk_usage()}
    assert usage[one]["SharedSize"] == usage[two]["SharedSize"] == 4 and usage[alone]["SharedSize"] == 0
    assert usage[one]["Containers"] == 1 and usage[two]["Containers"] == 0
