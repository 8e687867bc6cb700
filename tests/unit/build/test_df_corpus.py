"""The Dockerfile corpus (tests/fixtures/dockerfiles): every file parsed and resolved.

Each case directory holds a buildable Dockerfile (FROM busybox, nothing from the network),
its context, and ``case.json``: build args, target, platform, and the expected stages,
instruction kinds and expanded values. The same files feed the dockerd fidelity fixtures;
``requires`` says which builder generation can build them (classic, buildkit, a newer
dockerfile frontend).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.build.dockerfile import ResolvedBuild, parse, resolve
from dockyard.build.dockerignore import DockerIgnore

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "dockerfiles"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "Dockerfile").is_file())
REQUIRES = {"classic", "buildkit", "dockerfile-1.4", "dockerfile-1.7-labs"}


def load(name: str) -> tuple[dict[str, Any], ResolvedBuild]:
    case = json.loads((CORPUS / name / "case.json").read_text())
    df = parse((CORPUS / name / "Dockerfile").read_text())
    res = resolve(df, build_args=case["build_args"], target=case["target"],
                  target_platform=case["target_platform"],
                  build_platform=case.get("build_platform", "linux/amd64"))
    return case, res


def dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_corpus_case(name: str) -> None:
    case, res = load(name)
    assert case["requires"] in REQUIRES
    got = [{"index": s.index, "name": s.name, "base": s.base,
            "kinds": [i.keyword for i in s.instructions]} for s in res.stages]
    want = [{k: v for k, v in s.items() if k in ("index", "name", "base", "kinds")}
            for s in case["stages"]]
    assert got == want
    for stage, expected in zip(res.stages, case["stages"], strict=True):
        assert sorted(stage.deps) == expected.get("deps", [])
        assert sorted(stage.images) == expected.get("images", [])
        for inst in stage.instructions:
            assert 1 <= inst.line <= inst.end_line
    for stage_index, step, path, value in case.get("checks", []):
        inst = res.stage(stage_index).instructions[step]
        assert plain(dig(inst, path)) == value, f"{name}: stage {stage_index} step {step} {path}"


@pytest.mark.parametrize("name", [n for n in CASES if "config_env" in json.loads(
    (CORPUS / n / "case.json").read_text())])
def test_corpus_config_env(name: str) -> None:
    case, res = load(name)
    assert dict(res.target_stage.config_env) == case["config_env"]


@pytest.mark.parametrize("name", CASES)
def test_corpus_warnings_and_directives(name: str) -> None:
    case, res = load(name)
    rules = {w.rule for w in res.warnings}
    assert set(case.get("warnings", [])) <= rules
    assert not set(case.get("skipped_warnings", [])) & rules
    df = parse((CORPUS / name / "Dockerfile").read_text())
    assert dict(df.directives) == case.get("directives", dict(df.directives))
    if "UndefinedVar" not in case.get("warnings", []):
        assert "UndefinedVar" not in rules, [w.message for w in res.warnings]


def test_corpus_meta_args_and_run_env() -> None:
    case, res = load("08-arg-before-from")
    assert res.meta_args == case["meta_args"]
    case, res = load("28-arg-scoping")
    for step, env in case["run_env"].items():
        assert dict(res.target_stage.steps[int(step)].env) == env


def test_corpus_dockerignore_context() -> None:
    case, _ = load("29-dockerignore")
    ctx = CORPUS / "29-dockerignore"
    walked = DockerIgnore.for_build(ctx, ctx / "Dockerfile").walk(ctx)
    # expected.json (the recorded dockerd fixture) was added after the case was written
    assert [p for p in walked if p != "expected.json"] == case["context"]


def test_corpus_files_stay_offline() -> None:
    """Buildable without a network: busybox (or scratch/stages) bases and no package installs."""
    for name in CASES:
        text = (CORPUS / name / "Dockerfile").read_text()
        for word in ("apt-get", "apk add", "pip install", "curl ", "http://", "https://"):
            assert word not in text.replace("http://localhost", ""), (name, word)
        df = parse(text)
        bases = {s.source.image for s in df.stages}
        names = {s.name for s in df.stages}
        assert bases <= {"busybox", "scratch", "${BASE}:${TAG}"} | names, name
