"""Typed instructions: every keyword, its flags, and BuildKit's error wording."""

from __future__ import annotations

import pytest

from dockyard.build import instructions as I
from dockyard.build.dockerfile import parse
from dockyard.build.errors import DockerfileParseError


def one(line: str) -> I.Instruction:
    """The single instruction ``line`` yields, placed in a minimal stage."""
    df = parse("FROM busybox\n" + line + "\n")
    return df.stages[-1].instructions[0] if df.stages[-1].instructions else df.stages[-1].source


def err(line: str) -> DockerfileParseError:
    with pytest.raises(DockerfileParseError) as info:
        parse("FROM busybox\n" + line + "\n")
    return info.value


@pytest.mark.parametrize(("line", "expected"), [
    ("FROM busybox", I.From(image="busybox")),
    ("FROM busybox AS Build", I.From(image="busybox", name="build")),
    ("from busybox as b", I.From(image="busybox", name="b")),
    ("FROM --platform=$BUILDPLATFORM busybox AS b",
     I.From(image="busybox", name="b", platform="$BUILDPLATFORM")),
    ("FROM scratch", I.From(image="scratch")),
])
def test_from(line: str, expected: I.From) -> None:
    got = parse(line + "\n").stages[0].source
    assert (got.image, got.name, got.platform) == (expected.image, expected.name,
                                                   expected.platform)


@pytest.mark.parametrize(("line", "message"), [
    ("FROM", "FROM requires either one or three arguments"),
    ("FROM a b", "FROM requires either one or three arguments"),
    ("FROM a AS b c", "FROM requires either one or three arguments"),
    ("FROM a XS b", "FROM requires either one or three arguments"),
    ("FROM a AS 1b", ('invalid name for build stage: "1b", name can\'t start with a number '
                     "or contain symbols")),
    ("FROM a AS b$", ('invalid name for build stage: "b$", name can\'t start with a number '
                     "or contain symbols")),
    ("FROM --platfrom=x a", "unknown flag: platfrom (did you mean platform?)"),
    ("FROM --platform a", "missing a value on flag: platform"),
])
def test_from_errors(line: str, message: str) -> None:
    with pytest.raises(DockerfileParseError) as info:
        parse(line + "\n")
    assert info.value.message == message


@pytest.mark.parametrize(("line", "command", "shell_form"), [
    ("RUN echo hi", ("echo hi",), True),
    ('RUN ["echo", "hi"]', ("echo", "hi"), False),
    ("RUN [echo]", ("[echo]",), True),
    ("CMD echo $HOME", ("echo $HOME",), True),
    ('CMD ["sh", "-c", "x"]', ("sh", "-c", "x"), False),
    ("CMD []", (), False),
    ('ENTRYPOINT ["/bin/app"]', ("/bin/app",), False),
    ("ENTRYPOINT exec app", ("exec app",), True),
])
def test_command_lines(line: str, command: tuple[str, ...], shell_form: bool) -> None:
    inst = one(line)
    assert isinstance(inst, I.CommandLine)
    assert (inst.command, inst.shell_form) == (command, shell_form)


def test_run_flags_and_mounts() -> None:
    inst = one("RUN --network=none --security=insecure "
               "--mount=type=cache,target=/root/.cache,sharing=locked,id=pip "
               "--mount=type=secret,id=tok --mount=type=bind,from=build,source=/out,target=/in "
               "make")
    assert isinstance(inst, I.Run)
    assert (inst.network, inst.security, inst.command) == ("none", "insecure", ("make",))
    cache, secret, bind = inst.mounts
    assert (cache.type, cache.target, cache.sharing, cache.id, cache.readonly) == (
        "cache", "/root/.cache", "locked", "pip", False)
    assert (secret.type, secret.id, secret.readonly) == ("secret", "tok", True)
    assert (bind.from_, bind.source, bind.target, bind.readonly) == ("build", "/out", "/in", True)


@pytest.mark.parametrize(("line", "message"), [
    ("RUN --mount=type=foo,target=/x a", 'unsupported mount type "foo"'),
    ("RUN --mount=type=cahce,target=/x a", 'unsupported mount type "cahce" (did you mean cache?)'),
    ("RUN --mount=type=cache,target=/x,sharing=bad a", 'unsupported sharing value "bad"'),
    ("RUN --mount=type=bind,target=/x,sharing=shared a", "invalid cache sharing set for bind mount"),
    ("RUN --mount=type=bind,target=/x,mode=0700 a", 'mode not allowed for "bind" type mounts'),
    ("RUN --mount=type=tmpfs,target=/x,uid=1 a", 'uid not allowed for "tmpfs" type mounts'),
    ("RUN --mount=type=cache,target=/x,uid=abc a", "invalid value abc for uid"),
    ("RUN --mount=type=cache,target=/x,mode=999 a", "invalid value 999 for mode"),
    ("RUN --mount=type=cache,target=/x,foo=1 a", "unexpected key 'foo' in 'foo=1' (did you mean from?)"),
    ("RUN --mount=type=cache,target=/x,zzz=1 a", "unexpected key 'zzz' in 'zzz=1'"),
    ("RUN --mount=type=cache,target=/x,targt=1 a",
     "unexpected key 'targt' in 'targt=1' (did you mean target?)"),
    ("RUN --mount=type=cache,target=/x,bogus a", "invalid field 'bogus' must be a key=value pair"),
    ("RUN --mount=type=cache,target=/x,ro=maybe a", "invalid value for ro: maybe"),
    ("RUN --mount=type=secret a", "invalid secret mount. one of source, target required"),
    ("RUN --mount=type=secret,id=a,source=b a", "both source and id can't be set"),
    ("RUN --mount=type=secret,id=a,from=x a", "secret mount should not have a from"),
    ("RUN --mount=type=bind,target=/x,required a",
     "unexpected key 'required' for mount type 'bind'"),
    ("RUN --mount=type=bind,target=/x,size=1m a", "unexpected key 'size' for mount type 'bind'"),
    ("RUN --mount=type=tmpfs,target=/x,size=lots a", "invalid value for size: lots"),
    ("RUN --mount=type=bind,from=$X,target=/x a",
     "'from' doesn't support variable expansion, define alias stage instead"),
    ("RUN --mount a", "missing a value on flag: mount"),
    ("RUN --network=bridge a", 'unsupported network mode "bridge"'),
    ("RUN --foo a", "unknown flag: foo"),
    ("RUN --mout=type=cache a", "unknown flag: mout (did you mean mount?)"),
    ("RUN --network=none --network=host a", "duplicate flag specified: network"),
])
def test_run_errors(line: str, message: str) -> None:
    assert err(line).message == message


@pytest.mark.parametrize(("line", "pairs"), [
    ("ENV a=1", [("a", "1", False)]),
    ("ENV a=1 b=2", [("a", "1", False), ("b", "2", False)]),
    ("ENV a 1 2", [("a", "1 2", True)]),
    ('ENV a="x y"', [("a", '"x y"', False)]),
    ("LABEL version=1.0 org.opencontainers.image.title=x",
     [("version", "1.0", False), ("org.opencontainers.image.title", "x", False)]),
])
def test_env_and_label(line: str, pairs: list[tuple[str, str, bool]]) -> None:
    inst = one(line)
    assert isinstance(inst, (I.Env, I.Label))
    assert [(p.key, p.value, p.legacy) for p in inst.pairs] == pairs


@pytest.mark.parametrize(("line", "args"), [
    ("ARG a", [("a", None)]),
    ("ARG a=1", [("a", "1")]),
    ("ARG a= b=2 c", [("a", ""), ("b", "2"), ("c", None)]),
    ('ARG a="x y"', [("a", '"x y"')]),
])
def test_arg(line: str, args: list[tuple[str, str | None]]) -> None:
    inst = one(line)
    assert isinstance(inst, I.Arg)
    assert [(a.key, a.value) for a in inst.args] == args


def test_simple_instructions() -> None:
    assert one("USER app:app") == I.User(user="app:app", line=2, end_line=2,
                                          original="USER app:app")
    assert isinstance(one("WORKDIR /a b"), I.Workdir)
    assert one("WORKDIR /a b").path == "/a b"  # type: ignore[attr-defined]
    assert one("STOPSIGNAL SIGTERM").signal == "SIGTERM"  # type: ignore[attr-defined]
    assert one("EXPOSE 80 443/tcp").ports == ("80", "443/tcp")  # type: ignore[attr-defined]
    assert one("VOLUME /a /b").paths == ("/a", "/b")  # type: ignore[attr-defined]
    assert one('VOLUME ["/a b"]').paths == ("/a b",)  # type: ignore[attr-defined]
    assert one('SHELL ["/bin/sh", "-ec"]').shell == ("/bin/sh", "-ec")  # type: ignore[attr-defined]
    assert one("MAINTAINER me <me@x>").name == "me <me@x>"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("line", "message"), [
    ("ENV", "ENV requires at least one argument"),
    ("LABEL", "LABEL requires at least one argument"),
    ("ENV =x", "ENV names can not be blank"),
    ("ARG", "ARG requires at least one argument"),
    ("EXPOSE", "EXPOSE requires at least one argument"),
    ("VOLUME", "VOLUME requires at least one argument"),
    ('VOLUME [""]', "VOLUME specified can not be an empty string"),
    ("USER", "USER requires exactly one argument"),
    ("WORKDIR", "WORKDIR requires exactly one argument"),
    ("STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
    ("MAINTAINER", "MAINTAINER requires exactly one argument"),
    ("SHELL /bin/sh -c", "SHELL requires the arguments to be in JSON form"),
    ("SHELL", "SHELL requires at least one argument"),
    ("COPY a", ("COPY requires at least two arguments, but only one was provided. "
               "Destination could not be determined.")),
    ("ADD a", ("ADD requires at least two arguments, but only one was provided. "
              "Destination could not be determined.")),
    ("COPY a <<EOF\nx\nEOF", "COPY cannot accept a heredoc as a destination"),
    ("COPY --from=a --from=b x y", "duplicate flag specified: from"),
    ("COPY --link=maybe x y", "expecting boolean value for flag link, not: maybe"),
    ("COPY --link= x y", "missing a value on flag: link"),
    ("COPY --chown x y", "missing a value on flag: chown"),
    ("COPY --checksum=sha256:x a b", "unknown flag: checksum"),
    ("ADD --from=x a b", "unknown flag: from"),
    ("WORKDIR --x /a", "unknown flag: x"),
    ("ONBUILD", "ONBUILD requires at least one argument"),
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("ONBUILD maintainer x", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("FOO bar", "unknown instruction: FOO (did you mean FROM?)"),
    ("XYZZY bar", "unknown instruction: XYZZY"),
    ("RUNN x", "unknown instruction: RUNN (did you mean RUN?)"),
    ("coppy a b", "unknown instruction: coppy (did you mean copy?)"),
    ("Workdi /x", "unknown instruction: Workdi (did you mean workdir?)"),
    ("HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK RUN x", 'Unknown type "RUN" in HEALTHCHECK (try CMD)'),
    ("HEALTHCHECK --interval=5 CMD x", 'time: missing unit in duration "5"'),
    ("HEALTHCHECK --interval=5d CMD x", 'time: unknown unit "d" in duration "5d"'),
    ("HEALTHCHECK --interval=abc CMD x", 'time: invalid duration "abc"'),
    ("HEALTHCHECK --timeout=1us CMD x", 'Interval "timeout" cannot be less than 1ms'),
    ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
    ("HEALTHCHECK --retries=x CMD x", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ("HEALTHCHECK --intervall=1s CMD x", "unknown flag: intervall (did you mean interval?)"),
])
def test_instruction_errors(line: str, message: str) -> None:
    e = err(line)
    assert e.message == message
    assert e.line == 2
    assert str(e) == f"dockerfile parse error on line 2: {message}"


@pytest.mark.parametrize(("line", "test", "durations", "retries"), [
    ("HEALTHCHECK NONE", ("NONE",), (0, 0, 0, 0), 0),
    ("HEALTHCHECK CMD curl -f http://x/", ("CMD-SHELL", "curl -f http://x/"), (0, 0, 0, 0), 0),
    ('HEALTHCHECK CMD ["true"]', ("CMD", "true"), (0, 0, 0, 0), 0),
    (("HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms "
     "--retries=5 CMD x"), ("CMD-SHELL", "x"),
     (300_000_000_000, 3_000_000_000, 90_000_000_000, 500_000_000), 5),
    ("HEALTHCHECK --interval=0s CMD x", ("CMD-SHELL", "x"), (0, 0, 0, 0), 0),
    ("healthcheck cmd x", ("CMD-SHELL", "x"), (0, 0, 0, 0), 0),
])
def test_healthcheck(line: str, test: tuple[str, ...], durations: tuple[int, ...],
                     retries: int) -> None:
    inst = one(line)
    assert isinstance(inst, I.Healthcheck)
    assert inst.test == test
    assert (inst.interval, inst.timeout, inst.start_period, inst.start_interval) == durations
    assert inst.retries == retries


def test_copy_and_add_flags() -> None:
    copy = one("COPY --from=build --chown=app:app --chmod=0644 --link --parents "
               "--exclude=*.md --exclude=tmp/ a b /dst/")
    assert isinstance(copy, I.Copy)
    assert (copy.from_, copy.chown, copy.chmod, copy.link, copy.parents) == (
        "build", "app:app", "0644", True, True)
    assert (copy.sources, copy.dest, copy.excludes) == (("a", "b"), "/dst/", ("*.md", "tmp/"))
    add = one("ADD --checksum=sha256:abc --keep-git-dir=true --link=false "
              "https://example.com/a.tgz /x")
    assert isinstance(add, I.Add)
    assert (add.checksum, add.keep_git_dir, add.link) == ("sha256:abc", True, False)


def test_copy_json_form_allows_spaces() -> None:
    copy = one('COPY ["a b", "c", "/d e/"]')
    assert isinstance(copy, I.Copy)
    assert (copy.sources, copy.dest, copy.json) == (("a b", "c"), "/d e/", True)


def test_copy_heredoc_sources() -> None:
    copy = one("COPY <<one <<'two' /dst/\nhello $X\none\nraw $Y\ntwo")
    assert isinstance(copy, I.Copy)
    assert copy.sources == ()
    assert [(c.path, c.data, c.expand) for c in copy.contents] == [
        ("one", "hello $X\n", True), ("two", "raw $Y\n", False)]
    assert (copy.line, copy.end_line) == (2, 6)


def test_run_heredoc_chomp() -> None:
    run = one("RUN <<-EOT\n\techo a\n\t\techo b\n\tEOT")
    assert isinstance(run, I.Run)
    assert run.command == ("<<-EOT",)
    assert run.heredocs[0].data == "echo a\necho b\n"


def test_onbuild_keeps_expression_and_parses_trigger_lazily() -> None:
    inst = one("ONBUILD COPY --chown=1 . /app")
    assert isinstance(inst, I.Onbuild)
    assert (inst.trigger, inst.expression) == ("COPY", "COPY --chown=1 . /app")
    trigger = I.parse_trigger(inst)
    assert isinstance(trigger, I.Copy) and trigger.chown == "1"


def test_instruction_keywords_case_insensitive() -> None:
    df = parse("from busybox\nRun echo\nwOrKdIr /x\n")
    assert [type(i).__name__ for i in df.stages[0].instructions] == ["Run", "Workdir"]
    assert [w.rule for w in df.warnings] == ["ConsistentInstructionCasing"] * 2


def test_keyword_classvars() -> None:
    assert I.Copy.keyword == "COPY" and I.Copy.expands
    assert not I.Cmd.expands and not I.Onbuild.expands and not I.Healthcheck.expands


@pytest.mark.parametrize(("line", "shell", "argv", "files"), [
    ("RUN echo hi", I.DEFAULT_SHELL, ("/bin/sh", "-c", "echo hi"), ()),
    ('RUN ["echo", "hi"]', I.DEFAULT_SHELL, ("echo", "hi"), ()),
    ("RUN echo hi", ("/bin/bash", "-eo", "pipefail", "-c"),
     ("/bin/bash", "-eo", "pipefail", "-c", "echo hi"), ()),
    ("CMD run me", I.DEFAULT_SHELL, ("/bin/sh", "-c", "run me"), ()),
    ("RUN <<EOF\necho a\necho b\nEOF", I.DEFAULT_SHELL, ("/bin/sh", "-c", "echo a\necho b\n"), ()),
    ("RUN <<-EOF\n\techo a\n\tEOF", I.DEFAULT_SHELL, ("/bin/sh", "-c", "echo a\n"), ()),
    ("RUN <<EOF\n#!/bin/sh\necho s\nEOF", I.DEFAULT_SHELL, ("/bin/sh", "-c", "/dev/pipes/EOF"),
     (I.InlineFile("/dev/pipes/EOF", "#!/bin/sh\necho s\n"),)),
    ("RUN cat <<A > /a\nx\nA", I.DEFAULT_SHELL, ("/bin/sh", "-c", "cat <<A > /a\nx\nA"), ()),
    ("RUN <<A cat - <<-B\none\nA\n\ttwo\n\tB", I.DEFAULT_SHELL,
     ("/bin/sh", "-c", "<<A cat - <<-B\none\nA\n\ttwo\nB"), ()),
])
def test_command_argv(line: str, shell: tuple[str, ...], argv: tuple[str, ...],
                      files: tuple[I.InlineFile, ...]) -> None:
    inst = one(line)
    assert isinstance(inst, I.CommandLine)
    assert I.command_argv(inst, shell) == (argv, files)


def test_copy_heredocs_with_the_same_name_keep_their_own_bodies() -> None:
    copy = one("COPY <<X <<X /dst/\nfirst\nX\nsecond\nX")
    assert isinstance(copy, I.Copy)
    assert [c.data for c in copy.contents] == ["first\n", "second\n"]
