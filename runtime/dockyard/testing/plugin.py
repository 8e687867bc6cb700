"""dockyard's pytest plugin (registered through the ``pytest11`` entry point).

In CI (``CI=true``) a test skipped for a missing capability counts as a failure: CI runs as
root and must exercise everything. So does a container cgroup the run left under
``dockyard/``, and a temporary directory, file or mount of ours (``tmpwatch.py``), each named
with the test it appeared during: no test can count every leak itself.
And so does a lookup of a name beyond this machine by a Python process of the run (the test
process and every daemon it starts; ``netguard.py``): refused, named with its test, and a
failure in CI — tests reach loopback and their own namespaces, nothing else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import netguard, tmpwatch

if TYPE_CHECKING:
    from .daemon import DaemonProcess
    from .dockerd import Dockerd
    from .registry import RegistryProcess


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


_CGROUPS_AT_START: frozenset[str] = frozenset()
_CGROUPS_SEEN: dict[str, str] = {}  # a container (or spare) cgroup → the test it appeared in


def _dockyard_cgroups() -> set[str]:
    """The cgroups under ``dockyard/`` (pids, devices and blkio on v1, the unified one on v2)."""
    from ..linux import cgroups
    hier = cgroups.detected()
    roots = [hier.v1.get(c) for c in ("pids", "devices", "blkio")] if hier.mode == "v1" \
        else [hier.v2]
    found = set[str]()
    for root in roots:
        try:
            found.update(e.name for e in os.scandir(os.path.join(root or "/-", "dockyard"))
                         if e.is_dir())
        except OSError:
            pass
    return found


_GUARD_DIR: Path | None = None
_TESTS_RUN: list[tuple[float, float, str]] = []  # (start, end, nodeid): a lookup's test by time


def _guard_lookups() -> None:
    """:mod:`netguard` in this process and, by ``PYTHONPATH``, in every Python one it starts."""
    global _GUARD_DIR
    _GUARD_DIR = Path(tempfile.mkdtemp(prefix="dockyard-netguard-"))
    log = str(_GUARD_DIR / "lookups.log")
    site = netguard.sitecustomize_dir(_GUARD_DIR / "site")
    os.environ[netguard.LOG_ENV] = log
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    netguard.install(log)


def _report_lookups(reporter: Any) -> bool:
    """Each refused lookup with the test that ran then; whether there was one."""
    if _GUARD_DIR is None:
        return False
    found = netguard.read(str(_GUARD_DIR / "lookups.log"))
    shutil.rmtree(_GUARD_DIR, ignore_errors=True)
    if found:
        reporter.write("\n")
    for stamp, name, process in found:
        test = next((nodeid for start, end, nodeid in _TESTS_RUN if start <= stamp <= end),
                    "no test (between tests)")
        reporter.write_line(f"name lookup of {name} refused (tests reach nothing beyond this "
                            f"machine); it came during {test} from {process}",
                            red=in_ci(), yellow=not in_ci())
    return bool(found)


_TEMP: tmpwatch.Watch | None = None


def _basetemp(config: pytest.Config) -> str | None:
    """This session's ``tmp_path`` base (made now rather than at the first ``tmp_path``)."""
    factory = getattr(config, "_tmp_path_factory", None)  # None under -p no:tmpdir
    return str(factory.getbasetemp()) if factory is not None else None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _CGROUPS_AT_START, _TEMP
    _guard_lookups()
    _TEMP = tmpwatch.Watch(_basetemp(session.config))
    if os.geteuid() == 0:
        _CGROUPS_AT_START = frozenset(_dockyard_cgroups())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    start = time.time()
    yield
    _TESTS_RUN.append((start, time.time(), item.nodeid))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield
    if os.geteuid() == 0:
        for name in _dockyard_cgroups() - _CGROUPS_AT_START:
            _CGROUPS_SEEN.setdefault(name, item.nodeid)
    if _TEMP is not None:
        _TEMP.scan(item.nodeid)


def _leaks_left() -> tuple[set[str], list[tuple[str, str]]]:
    """The cgroups and the temporary names and mounts still left, after a grace of five
    seconds: the last tests' daemons and shims may still be removing theirs."""
    cgroups = _dockyard_cgroups() & set(_CGROUPS_SEEN) if os.geteuid() == 0 else set()
    temp = _TEMP.left() if _TEMP is not None else []
    deadline = time.monotonic() + 5
    while (cgroups or temp) and time.monotonic() < deadline:
        time.sleep(0.1)
        cgroups &= _dockyard_cgroups()
        temp = _TEMP.left() if temp and _TEMP is not None else []
    return cgroups, temp


def _report_leaks(reporter: Any) -> int:
    """Each leak with the test during which it appeared (one no test checks for: where it
    came from); how many there were."""
    cgroups, temp = _leaks_left()
    lines = [(f"cgroup dockyard/{name}", _CGROUPS_SEEN[name]) for name in sorted(cgroups)] + temp
    if lines:
        reporter.write("\n")
    for what, test in lines:
        reporter.write_line(f"{what} left behind; it appeared during {test}",
                            red=in_ci(), yellow=not in_ci())
    return len(lines)


@pytest.hookimpl(trylast=True)  # after the runner's: an interrupted run's fixtures torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        left = _report_leaks(reporter)
        if left and in_ci():
            reporter.write_line(f"CI: {left} cgroup(s), temporary name(s) or mount(s) left behind; "
                                "a leak fails CI", red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if reporter is not None and _report_lookups(reporter) and in_ci():
        reporter.write_line("CI: a name beyond this machine was looked up; that fails CI", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if not in_ci() or reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; skips count as failures in CI", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def dockyard_registry_factory() -> Iterator[Callable[..., RegistryProcess]]:
    """Start ``dockyard registry serve`` processes with given flags; all stopped at teardown.

    ``factory(htpasswd=path, public=["pub/*"], token_auth=True)`` → a started RegistryProcess
    (``.url``, ``.host``, ``.root``).
    """
    from .registry import RegistryProcess

    started: list[RegistryProcess] = []

    def factory(*args: str, root: Path | None = None, **flags: object) -> RegistryProcess:
        registry = RegistryProcess(root, *args, **flags)
        started.append(registry)
        return registry.start()

    yield factory
    for registry in started:
        registry.cleanup()


@pytest.fixture
def dockyard_registry(dockyard_registry_factory: Callable[..., RegistryProcess]) -> RegistryProcess:
    """An open (no auth) dockyard registry on 127.0.0.1, on a fresh temporary root."""
    return dockyard_registry_factory()


# ---- the daemon ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def syscall_probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The static syscall probe (``testing.syscallprobe``), built once a session; without gcc
    the tests that need it fail with the reason (.ci/install installs it)."""
    from .syscallprobe import build
    return build(tmp_path_factory.mktemp("syscallprobe"))


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    """A private dockerd 20.10 (Debian's docker.io) with busybox loaded, for one test
    module's side-by-side runs; stopped by pid when the module ends."""
    from .dockerd import load_busybox, skip_unless_root, start_dockerd, stop_dockerd

    skip_unless_root()
    daemon = start_dockerd()
    try:
        load_busybox(daemon)
        yield daemon
    finally:
        stop_dockerd(daemon)


@pytest.fixture(scope="session")
def dockyard_daemon() -> Iterator[DaemonProcess]:
    """A real ``dockyard daemon`` on a temporary data root and socket, shared by the session.

    ``.socket``, ``.host`` (``unix://…``), ``.root``, ``.client()`` (a docker-py DockerClient).
    Tests that add images should also use ``dockyard_clean_images``.
    """
    from .daemon import DaemonProcess

    with DaemonProcess() as daemon:
        yield daemon


@pytest.fixture
def dockyard_client(dockyard_daemon: DaemonProcess) -> Iterator[object]:
    """A docker-py client of the session daemon, closed after the test."""
    client = dockyard_daemon.client()
    yield client
    client.close()


@pytest.fixture
def dockyard_tidy_client(dockyard_client: object, busybox_image: str) -> Iterator[object]:
    """The session daemon's docker-py client with busybox loaded; the containers the test
    made (the docker CLI's beside docker-py's) are removed after it, with their volumes."""
    api = dockyard_client.api  # type: ignore[attr-defined]
    before = {c["Id"] for c in api.containers(all=True)}
    yield dockyard_client
    for c in api.containers(all=True):
        if c["Id"] not in before:
            api.remove_container(c["Id"], force=True, v=True)


def _image_state(client: object) -> tuple[set[str], set[str]]:
    images = client.api.images(all=True)  # type: ignore[attr-defined]
    return {i["Id"] for i in images}, {t for i in images for t in i.get("RepoTags") or []}


@pytest.fixture
def dockyard_clean_images(dockyard_client: object) -> Iterator[object]:
    """Removes the images and tags a test added to the session daemon (yields the client)."""
    ids, tags = _image_state(dockyard_client)
    yield dockyard_client
    api = dockyard_client.api  # type: ignore[attr-defined]
    new_ids, new_tags = _image_state(dockyard_client)
    _remove_ids(api, sorted(new_ids - ids))  # children first (a build on a pulled base), tags too
    for tag in sorted(new_tags - tags):  # new tags of images that were there before
        with _ignore_not_found():
            api.remove_image(tag, noprune=True)


def _remove_ids(api: object, image_ids: list[str]) -> None:
    """Builds leave parent chains of intermediate images: a child must go before its parent,
    so retry in passes until nothing more can be removed."""
    import docker.errors

    while image_ids:
        left = []
        for image_id in image_ids:
            try:
                with _ignore_not_found():
                    api.remove_image(image_id, force=True)  # type: ignore[attr-defined]
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    raise
                left.append(image_id)
        if len(left) == len(image_ids):
            api.remove_image(left[0], force=True)  # type: ignore[attr-defined]  # raises the conflict for the report
        image_ids = left


def _ignore_not_found() -> contextlib.AbstractContextManager[None]:
    import docker.errors

    return contextlib.suppress(docker.errors.NotFound)


@pytest.fixture(scope="session")
def busybox_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``docker save`` archive of the offline busybox image (``busybox:latest``)."""
    from .busybox import build_busybox_archive

    return build_busybox_archive(tmp_path_factory.mktemp("busybox"))


@pytest.fixture
def busybox_image(dockyard_client: object, busybox_archive: Path) -> str:
    """``busybox:latest`` loaded into the session daemon; returns its image ID."""
    import docker.errors

    api = dockyard_client.api  # type: ignore[attr-defined]
    try:
        return str(api.inspect_image("busybox:latest")["Id"])
    except docker.errors.ImageNotFound:
        with open(busybox_archive, "rb") as f:
            list(api.load_image(f))
    return str(api.inspect_image("busybox:latest")["Id"])
