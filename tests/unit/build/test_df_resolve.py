"""Stage resolution: ARG scoping, expansion per instruction, the stage graph, targets."""

from __future__ import annotations

import pytest

from dockyard.build import instructions as I
from dockyard.build.dockerfile import ResolvedBuild, parse, plan, resolve
from dockyard.build.errors import BuildError, DockerfileError, DockerfileResolveError
from dockyard.build.platforms import Platform
from dockyard.build.steps import dispatch_check

AMD64 = Platform("linux", "amd64")


def build(text: str, **kw: object) -> ResolvedBuild:
    kw.setdefault("build_platform", AMD64)
    return resolve(parse(text), **kw)  # type: ignore[arg-type]


def steps(text: str, **kw: object) -> list[I.Instruction]:
    return list(build(text, **kw).target_stage.instructions)


def test_global_arg_only_in_from_unless_redeclared() -> None:
    text = "ARG V=1.36\nFROM busybox:$V\nRUN echo\nWORKDIR /$V\nARG V\nWORKDIR /$V\n"
    res = build(text)
    stage = res.target_stage
    assert stage.base == "busybox:1.36"
    _, w1, _, w2 = stage.instructions
    assert (w1.path, w2.path) == ("/", "/1.36")  # type: ignore[attr-defined]
    assert res.meta_args == {"V": "1.36"}
    assert [w.rule for w in res.warnings] == ["UndefinedVar"]


def test_build_args_override_defaults_everywhere() -> None:
    text = "ARG V=1\nFROM busybox:$V\nARG V\nARG W=2\nENV X=$V-$W\n"
    env = steps(text, build_args={"V": "9", "W": "8"})[-1]
    assert env.pairs[0].value == "9-8"  # type: ignore[attr-defined]
    assert build(text, build_args={"V": "9"}).target_stage.base == "busybox:9"


def test_arg_default_expands_with_env_in_scope() -> None:
    text = "FROM busybox\nENV BASE=/opt\nARG DIR=$BASE/app\nWORKDIR $DIR\n"
    arg, workdir = steps(text)[1:]
    assert arg.args[0].value == "/opt/app"  # type: ignore[attr-defined]
    assert workdir.path == "/opt/app"  # type: ignore[attr-defined]


def test_env_overrides_arg_and_values_use_the_previous_env() -> None:
    text = "FROM busybox\nARG A=arg\nENV A=env B=$A\nWORKDIR /$A/$B\n"
    env, workdir = steps(text)[1:]
    assert [(p.key, p.value) for p in env.pairs] == [("A", "env"), ("B", "arg")]  # type: ignore
    assert workdir.path == "/env/arg"  # type: ignore[attr-defined]


def test_step_env_is_what_run_sees() -> None:
    res = build("FROM busybox\nARG A=1\nENV B=2\nRUN echo $A $B\n", build_args={"HTTP_PROXY": "p"})
    stage = res.target_stage
    assert dict(stage.steps[2].env) == {"A": "1", "B": "2"}
    assert stage.steps[2].instruction.command == ("echo $A $B",)  # type: ignore[attr-defined]
    assert dict(stage.config_env) == {"B": "2"}
    assert stage.args == {"A": "1"}
    assert stage.proxy_env == {"HTTP_PROXY": "p"}
    assert res.unused_build_args == ()


def test_unused_build_args_are_reported() -> None:
    assert build("FROM busybox\nARG A\n", build_args={"A": "1", "B": "2"}).unused_build_args == ("B",)


def test_platform_args() -> None:
    text = ("FROM --platform=$BUILDPLATFORM busybox AS b\nARG TARGETARCH\nARG BUILDOS\n"
            "RUN echo\nFROM busybox\nARG TARGETPLATFORM TARGETVARIANT\nCOPY --from=b /x /$TARGETPLATFORM\n")
    res = build(text, target_platform="linux/arm/v7")
    b, final = res.stages
    assert b.platform == AMD64 and final.platform == Platform("linux", "arm", "v7")
    assert b.args == {"TARGETARCH": "arm", "BUILDOS": "linux"}
    assert final.args == {"TARGETPLATFORM": "linux/arm/v7", "TARGETVARIANT": "v7"}
    assert final.instructions[-1].dest == "/linux/arm/v7"  # type: ignore[attr-defined]


def test_platform_args_usable_in_global_scope() -> None:
    res = build("ARG IMG=busybox-$TARGETARCH\nFROM $IMG\n", target_platform="linux/arm64")
    assert res.target_stage.base == "busybox-arm64"


def test_which_instructions_expand() -> None:
    text = ("FROM busybox\nENV V=x S=SIGINT\n"
            "RUN echo $V\nCMD echo $V\nENTRYPOINT [\"$V\"]\nSHELL [\"/bin/$V\"]\n"
            "HEALTHCHECK CMD $V\nONBUILD RUN $V\nMAINTAINER $V\n"
            "LABEL $V=$V\nUSER $V\nWORKDIR /$V\nVOLUME /$V\nSTOPSIGNAL $S\nEXPOSE 80$V\n")
    with pytest.raises(DockerfileResolveError, match="invalid containerPort: 80x"):
        build(text)
    insts = steps(text.replace("EXPOSE 80$V", "EXPOSE ${V:+80}"))
    run, cmd, ep, shell, hc, ob, mt, label, user, wd, vol, sig, expose = insts[1:]
    assert run.command == ("echo $V",) and cmd.command == ("echo $V",)  # type: ignore
    assert ep.command == ("$V",) and shell.shell == ("/bin/$V",)  # type: ignore
    assert hc.test == ("CMD-SHELL", "$V") and ob.expression == "RUN $V"  # type: ignore
    assert mt.name == "$V"  # type: ignore[attr-defined]
    assert (label.pairs[0].key, label.pairs[0].value) == ("x", "x")  # type: ignore
    assert (user.user, wd.path, vol.paths, sig.signal) == ("x", "/x", ("/x",), "SIGINT")  # type: ignore
    assert expose.ports == ("80/tcp",)  # type: ignore[attr-defined]


def test_copy_expansion_and_heredoc_raw_expansion() -> None:
    text = ("FROM busybox\nARG U=app D=/dst\nCOPY --chown=$U:$U --chmod=0${M:-644} "
            "--exclude=$D/x \"$D\"/a ${D}/b $D/\nCOPY <<EOF <<'RAW' /f\n'$U' \"$D\"\nEOF\n$U\nRAW\n")
    copy, heredoc = steps(text)[1:]
    assert (copy.chown, copy.chmod, copy.excludes) == ("app:app", "0644", ("/dst/x",))  # type: ignore
    assert (copy.sources, copy.dest) == (("/dst/a", "/dst/b"), "/dst/")  # type: ignore
    assert [c.data for c in heredoc.contents] == ["'app' \"/dst\"\n", "$U\n"]  # type: ignore


def test_run_mount_values_expand_and_get_defaults() -> None:
    text = ("FROM busybox AS dep\nFROM busybox\nARG CACHE=/root/.cache\n"
            "RUN --mount=type=cache,target=$CACHE --mount=type=secret,id=tok "
            "--mount=type=ssh --mount=type=bind,from=dep,target=/d --mount=type=tmpfs,target=/t,size=64m x\n")
    res = build(text)
    run = res.target_stage.instructions[-1]
    cache, secret, ssh, bind, tmpfs = run.mounts  # type: ignore[attr-defined]
    assert (cache.target, cache.id, cache.sharing, cache.mode, cache.uid) == (
        "/root/.cache", "/root/.cache", "shared", 0o755, 0)
    assert (secret.target, secret.mode, secret.readonly) == ("/run/secrets/tok", 0o400, True)
    assert (ssh.id, ssh.target, ssh.mode) == ("default", "/run/buildkit/ssh_agent.0", 0o600)
    assert (bind.from_, bind.readonly) == ("dep", True)
    assert (tmpfs.size, tmpfs.readonly) == (64 * 1024 * 1024, False)
    assert res.target_stage.deps == frozenset({0})


def test_image_env_feeds_expansion() -> None:
    seen = []

    def image_env(ref: str, platform: Platform) -> list[str]:
        seen.append((ref, str(platform)))
        return ["PATH=/usr/bin", "HOME_DIR=/home/x"]

    res = build("FROM busybox\nWORKDIR $HOME_DIR\n", image_env=image_env)
    assert res.target_stage.instructions[0].path == "/home/x"  # type: ignore[attr-defined]
    assert seen == [("busybox", "linux/amd64")]


def test_child_stage_inherits_env_and_args_from_parent_stage() -> None:
    text = "FROM busybox AS a\nARG X=1\nENV Y=2\nFROM a\nRUN echo\nWORKDIR /$X$Y\n"
    res = build(text)
    child = res.target_stage
    assert (child.base, child.base_stage) == ("a", 0)
    assert child.instructions[-1].path == "/12"  # type: ignore[attr-defined]
    assert dict(child.config_env) == {"Y": "2"}


def test_graph_and_target_pruning() -> None:
    text = ("FROM busybox AS base\nRUN a\nFROM base AS build\nRUN b\nFROM busybox AS unused\n"
            "RUN c\nFROM busybox AS docs\nRUN d\nFROM scratch\nCOPY --from=build /o /o\n"
            "COPY --from=3 /d /d\nCOPY --from=alpine:3 /etc/os-release /\n")
    res = build(text)
    assert [s.index for s in res.stages] == [0, 1, 3, 4]
    final = res.target_stage
    assert final.deps == frozenset({1, 3}) and final.images == frozenset({"alpine:3"})
    assert final.base == "scratch" and final.base_stage is None
    only = build(text, target="BUILD")
    assert [s.name for s in only.stages] == ["base", "build"] and only.target == 1


def test_plan_orders_and_counts_stages_as_resolve_does_without_base_images() -> None:
    """``plan`` (a builder's step numbers before any base is pulled) agrees with ``resolve``
    and never asks for a base image's environment."""
    text = ("ARG V=3\nFROM busybox:$V AS base\nRUN a\nFROM base AS build\nRUN b\nENV X=1\n"
            "FROM busybox AS unused\nRUN c\nFROM scratch\nCOPY --from=build /o /o\n")
    df = parse(text)
    for target in (None, "build"):
        planned = plan(df, target=target)
        res = resolve(df, target=target, image_env=lambda _n, _p: [])
        assert [(p.index, p.base, p.base_stage, p.steps) for p in planned] == [
            (s.index, s.base, s.base_stage, len(s.steps)) for s in res.stages]
    assert [p.base for p in plan(df)] == ["busybox:3", "base", "scratch"]
    with pytest.raises(DockerfileResolveError, match="failed to reach build target nope"):
        plan(df, target="nope")


def test_copy_from_later_stage_by_name_is_allowed() -> None:
    res = build("FROM busybox AS first\nCOPY --from=later /x /x\nFROM busybox AS later\n",
                target="first")
    assert [s.index for s in res.stages] == [1, 0]


def test_unknown_from_name_is_an_image_with_a_hint() -> None:
    res = build("FROM busybox AS builder\nFROM busybox\nCOPY --from=buidler /x /x\n")
    assert res.target_stage.images == frozenset({"buidler"})
    assert any(w.rule == "UnknownStageRef" and "did you mean builder?" in w.message
               for w in res.warnings)


@pytest.mark.parametrize(("text", "kw", "message", "line"), [
    ("FROM busybox\n", {"target": "nope"}, "failed to reach build target nope in Dockerfile", 0),
    ("FROM busybox AS a\nFROM busybox AS A\n", {},
     'duplicate stage name "a", stage names should be unique', 2),
    ("FROM busybox AS a\nCOPY --from=b / /\nFROM busybox AS b\nCOPY --from=a / /\n", {},
     "circular dependency detected on stage: b", 3),
    ("FROM busybox AS a\nCOPY --from=0 / /\n", {}, "circular dependency detected on stage: a", 1),
    ("FROM busybox\nCOPY --from=5 / /\n", {}, "invalid stage index 5", 2),
    ("FROM later\nFROM busybox AS later\n", {},
     ('FROM later: stage "later" is defined later in the Dockerfile (line 2); '
     "a stage can only build on earlier stages"), 1),
    ("ARG IMG\nFROM $IMG\n", {}, "base name ($IMG) should not be blank", 2),
    ("FROM Busybox\n", {}, ('failed to parse stage name "Busybox": invalid reference format: '
                           "repository name must be lowercase"), 1),
    ("FROM --platform=bogus busybox\n", {},
     'failed to parse platform bogus: "bogus": unknown operating system or architecture: invalid argument', 1),
    ("FROM busybox\nWORKDIR ${X:?need X}\n", {}, "X: need X", 2),
    ("FROM busybox\nRUN --mount=type=cache,target=/x,uid=$U a\n", {"build_args": {}},
     "invalid value  for uid", 2),
    ("FROM busybox\nEXPOSE 80/xyz\n", {}, "invalid proto: xyz", 2),
    ("FROM busybox\nEXPOSE 9-1\n", {}, "invalid containerPort: 9-1", 2),
])
def test_resolve_errors(text: str, kw: dict[str, object], message: str, line: int) -> None:
    with pytest.raises(DockerfileError) as info:
        build(text, **kw)
    assert info.value.message == message
    assert info.value.line == line


def test_meta_arg_without_value_and_stage_redeclare() -> None:
    res = build("ARG A\nARG B=$A-x\nFROM busybox\nARG A B\nLABEL l=$A$B\n")
    label = res.target_stage.instructions[-1]
    assert label.pairs[0].value == "-x"  # type: ignore[attr-defined]
    assert res.meta_args == {"B": "-x"}


def test_scratch_is_case_insensitive_and_not_pulled() -> None:
    res = build("FROM SCRATCH\nCOPY a /\n", image_env=lambda r, p: pytest.fail("no env"))
    assert res.target_stage.base == "SCRATCH"


def test_expose_port_normalisation() -> None:
    expose = steps("FROM busybox\nEXPOSE 80 53/UDP 8000-8002/tcp 443\n")[-1]
    assert expose.ports == ("443/tcp", "53/udp", "80/tcp", "8000/tcp", "8001/tcp",  # type: ignore
                            "8002/tcp")


def rules(text: str, **kw: object) -> list[str]:
    return [w.rule for w in build(text, **kw).warnings]


def test_undefined_var_rules() -> None:
    assert rules("FROM busybox\nWORKDIR $NOPE\n") == ["UndefinedVar"]
    assert rules("FROM busybox\nARG DECLARED\nWORKDIR /$DECLARED\n") == []
    assert rules("FROM $NOPE:x\n".replace("$NOPE:x", "busybox${TAG}")) == ["UndefinedArgInFrom"]
    assert rules("ARG TAG\nFROM busybox${TAG}\n") == []
    res = build("FROM busybox\nENV HOME_DIR=/h\nWORKDIR $HOME_DIRR\n")
    assert res.warnings[0].message == (
        "Usage of undefined variable '$HOME_DIRR' (did you mean $HOME_DIR?)")
    assert rules("FROM busybox AS a\nARG X\nFROM a\nWORKDIR /$X\n") == []


@pytest.mark.parametrize(("directive", "expected"), [
    ("", ["JSONArgsRecommended", "MaintainerDeprecated"]),
    ("# check=skip=JSONArgsRecommended\n", ["MaintainerDeprecated"]),
    ("# check=skip=JSONArgsRecommended,MaintainerDeprecated\n", []),
    ("# check=skip=all\n", []),
])
def test_check_directive_skips_rules(directive: str, expected: list[str]) -> None:
    text = directive + "FROM busybox\nMAINTAINER me\nCMD echo\n"
    assert sorted(rules(text)) == expected
    assert sorted(w.rule for w in parse(text).warnings) == expected


def test_check_directive_error_mode() -> None:
    with pytest.raises(DockerfileResolveError) as info:
        build("# check=error=true\nFROM busybox\nCMD echo\n")
    assert info.value.message == "lint violation found for rules: JSONArgsRecommended"
    assert info.value.line == 3
    assert rules("# check=error=true;skip=JSONArgsRecommended\nFROM busybox\nCMD echo\n") == []
    with pytest.raises(DockerfileError, match="invalid check directive"):
        parse("# check=bogus\nFROM busybox\n")


@pytest.mark.parametrize(("signal", "ok"), [
    ("SIGTERM", True), ("term", True), ("9", True), ("SIGRTMIN+3", True), ("RTMAX", True),
    ("sigwinch", True), ("65", True), ("-1", True), ("+9", True), ("IOT", True),
    ("0", False), ("SIGFOO", False), ("UNUSED", False), ("SIGRTMIN+16", False), ("$S", False),
])
def test_stopsignal_is_expanded_then_read_when_its_step_runs(signal: str, ok: bool) -> None:
    """dockerd 20.10's classic builder: ParseSignal at the step (in the stream, after its line),
    so resolving takes any STOPSIGNAL; ``$S`` unset is "" and refused there."""
    inst = steps(f"FROM busybox\nSTOPSIGNAL {signal}\n")[-1]
    assert inst.signal == ("" if signal == "$S" else signal)  # type: ignore[attr-defined]
    if ok:
        dispatch_check(inst)
        return
    with pytest.raises(BuildError, match="^Invalid signal: "):
        dispatch_check(inst)


def test_mount_from_dependency_survives_variables_elsewhere_in_the_spec() -> None:
    text = ("FROM busybox AS dep\nFROM busybox\nARG T=/in UID=7\n"
            "RUN --mount=type=bind,from=dep,target=$T --mount=type=cache,target=/c,uid=$UID x\n")
    df = parse(text)
    run = df.stages[1].instructions[-1]
    assert [m.type for m in run.mounts] == ["bind"]  # type: ignore[attr-defined]
    res = build(text)
    assert res.target_stage.deps == frozenset({0})
    bind, cache = res.target_stage.instructions[-1].mounts  # type: ignore[attr-defined]
    assert (bind.target, cache.uid) == ("/in", 7)
