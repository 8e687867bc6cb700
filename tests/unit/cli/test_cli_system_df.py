"""``dockyard system df`` formatting, checked against what the docker 28 CLI prints for the
same ``/system/df`` answer (figures worked out from docker/cli's formatter/disk_usage.go)."""

from __future__ import annotations

from typing import Any

from dockyard.cli import system

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
BUSYBOX = "sha256:" + "e1" * 32


def _usage() -> dict[str, Any]:
    mount = {"Type": "volume", "Name": "used", "Driver": "local"}
    return {
        "LayersSize": 2_000_000,
        "Images": [{"Id": BUSYBOX, "RepoTags": ["busybox:latest", "zz:1"], "Created": 0, "Size": 2_000_000,
                    "SharedSize": 0, "Containers": 2}],
        "Containers": [
            {"Id": "a" * 64, "Names": ["/up"], "Image": "busybox", "Command": "sleep 100",
             "Created": NOW - 5, "State": "running", "Status": "Up 5 seconds", "SizeRw": 1500,
             "SizeRootFs": 2_001_500, "Mounts": [mount]},
            {"Id": "b" * 64, "Names": ["/down"], "Image": BUSYBOX, "Command": "true",
             "Created": NOW - 5, "State": "exited", "Status": "Exited (0) 4 seconds ago", "SizeRw": 500,
             "Mounts": []},
        ],
        "Volumes": [{"Name": "used", "UsageData": {"Size": 3000, "RefCount": 1}},
                    {"Name": "spare", "UsageData": {"Size": 1000, "RefCount": 0}},
                    {"Name": "unknown", "UsageData": {"Size": -1, "RefCount": 0}}],
        "BuildCache": [
            {"ID": "k2" + "x" * 23, "Type": "regular", "Size": 7000, "Shared": False, "InUse": True,
             "CreatedAt": "2027-01-15T08:00:00.123456789Z", "LastUsedAt": "2027-01-15T08:00:00Z",
             "UsageCount": 3},
            {"ID": "k1" + "y" * 23, "Type": "regular", "Size": 5000, "Shared": False, "InUse": False,
             "CreatedAt": "2027-01-15T07:00:00Z", "LastUsedAt": None, "UsageCount": 0},
            {"ID": "k0" + "z" * 23, "Type": "regular", "Size": 9999, "Shared": True, "InUse": False,
             "CreatedAt": "2027-01-15T07:00:00Z", "LastUsedAt": "2027-01-15T07:30:00Z", "UsageCount": 1},
        ],
    }


def test_summary_rows_count_active_size_and_reclaimable_per_section() -> None:
    rows = {r["Type"]: r for r in system.df_rows(_usage())}
    assert rows["Images"] == {"Type": "Images", "TotalCount": "1", "Active": "1", "Size": "2MB",
                              "Reclaimable": "0B (0%)"}
    assert rows["Containers"] == {"Type": "Containers", "TotalCount": "2", "Active": "1",
                                  "Size": "2kB", "Reclaimable": "500B (25%)"}
    # the volume whose size is unknown (-1) counts in TOTAL but not in SIZE
    assert rows["Local Volumes"] == {"Type": "Local Volumes", "TotalCount": "3", "Active": "1",
                                     "Size": "4kB", "Reclaimable": "1kB (25%)"}
    # shared records are left out of the size; in-use ones are not reclaimable; no percentage
    assert rows["Build Cache"] == {"Type": "Build Cache", "TotalCount": "3", "Active": "1",
                                   "Size": "12kB", "Reclaimable": "5kB"}
    assert list(rows["Build Cache"]) == ["Active", "Reclaimable", "Size", "TotalCount", "Type"]


def test_empty_daemon_prints_zeroes_without_percentages() -> None:
    rows = system.df_rows({"LayersSize": 0, "Images": [], "Containers": [], "Volumes": [], "BuildCache": None})
    assert [(r["TotalCount"], r["Size"], r["Reclaimable"]) for r in rows] == [("0", "0B", "0B")] * 4


def test_paused_and_restarting_containers_are_active() -> None:
    assert [system.container_active({"State": s}) for s in ("running", "paused", "restarting", "exited",
                                                              "created", "dead")] == [True] * 3 + [False] * 3


def test_build_cache_order_never_used_first_then_by_last_use() -> None:
    ordered = system.sort_build_cache(_usage()["BuildCache"])
    assert [c["ID"][:2] for c in ordered] == ["k1", "k0", "k2"]


def test_build_cache_row_marks_records_in_use_and_reads_nanosecond_times() -> None:
    created = system._unix("2027-01-15T08:00:00.123456789Z")
    assert abs(created - system._unix("2027-01-15T08:00:00Z") - 0.123456) < 1e-6
    row = system.df_cache_row(_usage()["BuildCache"][0], now=created + 90)
    assert row["ID"] == "k2xxxxxxxxxx*" and row["Size"] == "7kB" and row["Shared"] == "false"
    assert row["CreatedSince"] == "About a minute ago" and row["UsageCount"] == "3"
    assert system.df_cache_row(_usage()["BuildCache"][1], now=created)["LastUsedSince"] == ""


def test_volume_row_without_usage_data_reads_na() -> None:
    assert system.df_volume_row({"Name": "v"}) == {"Name": "v", "Links": "N/A", "Size": "N/A"}
    assert system.df_volume_row({"Name": "v", "UsageData": {"Size": 1234, "RefCount": 2}}) == \
        {"Name": "v", "Links": "2", "Size": "1.234kB"}


def test_verbose_prints_the_four_tables_as_docker_does() -> None:
    usage = _usage()
    for record in usage["BuildCache"]:
        record["CreatedAt"] = "2027-01-15T07:59:40Z"
    out = system.df_verbose(usage, now=NOW + 10)
    years = system.fmt.since(0)
    assert out == f"""Images space usage:

REPOSITORY   TAG       IMAGE ID       CREATED        SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS
busybox      latest    e1e1e1e1e1e1   {years}   2MB       0B            2MB           2

Containers space usage:

CONTAINER ID   IMAGE          COMMAND       LOCAL VOLUMES   SIZE      CREATED          STATUS                     NAMES
aaaaaaaaaaaa   busybox        "sleep 100"   1               1.5kB     15 seconds ago   Up 5 seconds               up
bbbbbbbbbbbb   e1e1e1e1e1e1   "true"        0               500B      15 seconds ago   Exited (0) 4 seconds ago   down

Local Volumes space usage:

VOLUME NAME   LINKS     SIZE
used          1         3kB
spare         0         1kB
unknown       0         -1B

Build cache usage: 12kB

CACHE ID        CACHE TYPE   SIZE      CREATED          LAST USED        USAGE     SHARED
k1yyyyyyyyyy    regular      5kB       30 seconds ago                    0         false
k0zzzzzzzzzz    regular      10kB      30 seconds ago   30 minutes ago   1         true
k2xxxxxxxxxx*   regular      7kB       30 seconds ago   10 seconds ago   3         false
"""


def test_verbose_with_nothing_prints_headers_only() -> None:
    out = system.df_verbose({"LayersSize": 0, "Images": [], "Containers": None, "Volumes": [], "BuildCache": []})
    assert out.endswith("VOLUME NAME   LINKS     SIZE\n\nBuild cache usage: 0B\n\n"
                        "CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n")
    assert "CONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES\n" in out
