"""The JupyterLab panel's TypeScript: its unit tests (vitest: Engine API formatting, the
events/progress stream parser, log frames, ANSI) and a type check, run from the Python suite.
`bash .ci/install` puts node_modules in place."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

LABEXTENSION = Path(__file__).resolve().parents[2] / "labextension"


def jlpm(*args: str) -> subprocess.CompletedProcess[str]:
    assert (LABEXTENSION / "node_modules").is_dir(), \
        "labextension/node_modules is missing: run `bash .ci/install` (or `jlpm install`)"
    command = shutil.which("jlpm")
    assert command, "jlpm (from the jupyterlab package) is not on PATH"
    return subprocess.run([command, *args], cwd=LABEXTENSION, capture_output=True, text=True,
                          timeout=180, check=False)


def test_typescript_unit_tests_pass() -> None:
    result = jlpm("test")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "passed" in result.stdout and "failed" not in result.stdout


def test_typescript_type_checks() -> None:
    result = jlpm("typecheck")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def source_digest() -> str:
    """The digest labextension/scripts/stamp.mjs writes at build time, over the same files."""
    files = ["package.json", "tsconfig.json"]
    files += [f"src/{p.name}" for p in (LABEXTENSION / "src").glob("*.ts")]
    files += [f"style/{p.name}" for p in (LABEXTENSION / "style").iterdir()]
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + (LABEXTENSION / name).read_bytes() + b"\0")
    return digest.hexdigest()


def test_committed_build_matches_the_sources() -> None:
    built = LABEXTENSION.parent / "ext" / "dockyard_jupyter" / "labextension"
    stamp = (built / "source.sha256").read_text().strip()
    assert stamp == source_digest(), \
        "the prebuilt panel is stale: run `jlpm build` in labextension/ and commit the result"
