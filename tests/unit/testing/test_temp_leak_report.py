"""The pytest plugin names a temporary directory or file of ours, or a mount, that a test run
left behind, with the test during which it appeared — and fails the run in CI; what a test
removes again is not named. Every temporary name the package and the tests make in a
temporary directory carries a watched prefix, so a new one cannot leak unseen."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.testing import tmpwatch

REPO = Path(__file__).resolve().parents[3]


def _run(tmp_path: Path, source: str, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_leaky.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--basetemp={tmp_path / 'inner'}", "test_leaky.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "CI": ci})


def _left_lines(stdout: str, made: dict[str, str]) -> list[str]:
    """The leaks named that involve a path the inner tests made (the daemons of a run around
    this one, such as a network namespace pool refilling, are not the inner run's)."""
    return [line for line in stdout.splitlines() if "left behind; it appeared during" in line
            and any(path in line for path in made.values())]


_KEEP = "def keep(label, path):\n" \
        "    with open({record!r}, 'a') as f:\n" \
        "        f.write(f'{{label}} {{path}}\\n')\n" \
        "    return path\n\n"


def _made(record: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in record.read_text().splitlines())


def _line(what: str, test: str) -> str:
    return f"{what} left behind; it appeared during test_leaky.py::{test}"


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Path]:
    """A file where the inner run writes each temporary path it makes; they are removed (their
    mounts first) after the test, whatever the inner run left."""
    record = tmp_path / "made"
    record.touch()
    yield record
    for path in _made(record).values():
        for line in reversed(tmpwatch.mounts()):
            if line.target.startswith(path):
                subprocess.run(["umount", line.target], check=False)
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_left_temporary_directory_is_reported_with_its_test(tmp_path: Path, made: Path,
                                                              ci: str) -> None:
    run = _run(tmp_path, "import shutil, tempfile\n\n" + _KEEP.format(record=str(made)) +
               "def test_quiet():\n    pass\n\n"
               "def test_leaky():\n    keep('leak', tempfile.mkdtemp(prefix='dytest-leak-'))\n\n"
               "def test_tidy():\n"
               "    shutil.rmtree(keep('tidy', tempfile.mkdtemp(prefix='dytest-tidy-')))\n"
               "    with tempfile.TemporaryDirectory(prefix='dockyard-tidy-') as tmp:\n"
               "        keep('tidy-too', tmp)\n\n"
               "def test_after():\n    pass\n", ci)
    assert run.returncode == (1 if ci else 0), run.stdout + run.stderr
    assert ("a leak fails CI" in run.stdout) == bool(ci), run.stdout
    paths = _made(made)
    assert _left_lines(run.stdout, paths) == [
        _line(f"temporary directory {paths['leak']}", "test_leaky")], run.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_a_left_mount_is_reported_with_its_test(tmp_path: Path, made: Path) -> None:
    """A network namespace pinned on a file under tmp_path (the case seen before), a tmpfs on a
    watched directory and a watched directory bound elsewhere (mountinfo names it as the
    mount's root); one pinned and unpinned again is not named."""
    run = _run(tmp_path, "import subprocess, tempfile\n\n" + _KEEP.format(record=str(made)) +
               "def pin(path):\n"
               "    path.touch()\n"
               "    subprocess.run(['mount', '--bind', '/proc/self/ns/net', str(path)], check=True)\n\n"
               "def test_pinned(tmp_path):\n    pin(keep('pinned', tmp_path / 'netns'))\n\n"
               "def test_unpinned(tmp_path):\n"
               "    pin(keep('unpinned', tmp_path / 'netns'))\n"
               "    subprocess.run(['umount', str(tmp_path / 'netns')], check=True)\n\n"
               "def test_mounted():\n"
               "    where = keep('where', tempfile.mkdtemp(prefix='dytest-mnt-'))\n"
               "    subprocess.run(['mount', '-t', 'tmpfs', 'dytest', where], check=True)\n\n"
               "def test_bound():\n"
               "    source = keep('source', tempfile.mkdtemp(prefix='dytest-src-'))\n"
               "    target = keep('target', tempfile.mkdtemp(prefix='elsewhere-', dir='/dev/shm'))\n"
               "    subprocess.run(['mount', '--bind', source, target], check=True)\n", "true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "a leak fails CI" in run.stdout
    paths = _made(made)
    netns, where, source, target = (paths[k] for k in ("pinned", "where", "source", "target"))
    bound = next(m for m in tmpwatch.mounts() if m.target == target)
    pin_ns = next(m for m in tmpwatch.mounts() if m.target == netns).root
    assert _left_lines(run.stdout, paths) == sorted([
        _line(f"mount on {netns} (nsfs nsfs, {pin_ns})", "test_pinned"),
        _line(f"mount on {where} (tmpfs dytest, /)", "test_mounted"),
        _line(f"temporary directory {where}", "test_mounted"),
        _line(f"mount on {target} ({bound.fstype} {bound.source}, {source})", "test_bound"),
        _line(f"temporary directory {source}", "test_bound"),
    ]), run.stdout


_MAKERS = {"mkdtemp", "mkstemp", "TemporaryDirectory", "NamedTemporaryFile", "mktemp"}
_TEMP_DIRS = {"/tmp", "/var/tmp"}


def _argument(call: ast.Call, name: str, position: int) -> ast.expr | None:
    """An argument of tempfile's makers (suffix, prefix, dir: in that order for all but
    NamedTemporaryFile, whose are keywords in practice)."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return call.args[position] if len(call.args) > position else None


def _unwatched(path: Path) -> Iterator[str]:
    text = path.read_text()
    if not any(maker in text for maker in _MAKERS):
        return
    for call in ast.walk(ast.parse(text, str(path))):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in _MAKERS or (isinstance(func, ast.Attribute) and name == "mktemp"
                                   and getattr(func.value, "id", "") != "tempfile"):
            continue  # tmp_path_factory.mktemp is pytest's
        where = _argument(call, "dir", 2)
        if where is not None and not (isinstance(where, ast.Constant) and where.value in _TEMP_DIRS):
            continue  # a directory of its own: a data root, a context's parent, tmp_path
        prefix = _argument(call, "prefix", 1)
        if isinstance(prefix, ast.JoinedStr) and prefix.values:
            prefix = prefix.values[0]  # f"dytest-{name}-home-": its constant start
        if not (isinstance(prefix, ast.Constant) and isinstance(prefix.value, str)
                and tmpwatch.watched_name(prefix.value + "x")):
            yield f"{path.relative_to(REPO)}:{call.lineno}"


def test_every_temporary_name_made_in_a_temporary_directory_is_watched() -> None:
    sources = [p for top in ("runtime", "ext", "tests") for p in (REPO / top).rglob("*.py")
               if "node_modules" not in p.parts]
    assert any(p.name == "daemon.py" for p in sources)
    unwatched = [where for path in sources for where in _unwatched(path)]
    assert unwatched == [], f"give these a prefix of tmpwatch.PREFIXES: {unwatched}"


def test_an_interrupted_run_names_no_fixture_it_tears_down(tmp_path: Path, made: Path) -> None:
    """The report comes after an interrupted run's fixtures are torn down (the runner's
    sessionfinish), so a session fixture's directory is not named as left behind."""
    run = _run(tmp_path, "import shutil, tempfile, pytest\n\n" + _KEEP.format(record=str(made)) +
               "@pytest.fixture(scope='session')\n"
               "def scratch():\n"
               "    path = keep('scratch', tempfile.mkdtemp(prefix='dytest-scratch-'))\n"
               "    yield path\n"
               "    shutil.rmtree(path)\n\n"
               "def test_first(scratch):\n    pass\n\n"
               "def test_interrupted(scratch):\n    raise KeyboardInterrupt\n", "true")
    assert "KeyboardInterrupt" in run.stdout, run.stdout + run.stderr
    assert not os.path.exists(_made(made)["scratch"])
    assert _left_lines(run.stdout, _made(made)) == [], run.stdout
