"""The ``dockyard`` parser loads a verb module only when one of its commands runs: ``--help`` and
parsing ``version`` import no other verb module, no docker-py, no requests; what the lazy parser
lists and parses is what the modules' ``register()`` declare."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from dockyard.cli.main import COMMANDS, VERB_MODULES, LazyCommands, build_parser

HEAVY = ("docker", "requests", "urllib3", "concurrent.futures")


def _subparsers(parser: argparse.ArgumentParser) -> LazyCommands:
    return next(a for a in parser._actions if isinstance(a, LazyCommands))


def _eager(module: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """``module``'s commands registered on a plain argparse parser, as before the lazy one."""
    parser = argparse.ArgumentParser(prog="dockyard")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    importlib.import_module(f"dockyard.cli.{module}").register(sub)
    return sub


def _loaded(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after building the parser and parsing ``argv``."""
    probe = ("import sys\n"
             "from dockyard.cli.main import build_parser\n"
             f"build_parser().parse_args({argv!r})\n"
             "print(' '.join(sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         timeout=60)
    return set(out.stdout.split())


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


def test_commands_match_what_the_modules_register() -> None:
    declared = [(name, help_text) for _, name, help_text in COMMANDS]
    registered = []
    for module in VERB_MODULES:
        sub = _eager(module)
        assert list(sub._name_parser_map) == [a.dest for a in sub._choices_actions], module
        registered += [(a.dest, a.help) for a in sub._choices_actions]
    assert declared == registered


def test_help_and_every_command_parse_as_the_eager_parser_does() -> None:
    lazy = build_parser()
    eager = argparse.ArgumentParser(prog="dockyard", description=lazy.description)
    eager.add_argument("-H", "--host", help=lazy._actions[1].help)
    eager_sub = eager.add_subparsers(dest="command", metavar="COMMAND")
    for module in VERB_MODULES:
        importlib.import_module(f"dockyard.cli.{module}").register(eager_sub)
    assert lazy.format_help() == eager.format_help()
    lazy_sub = _subparsers(lazy)
    assert not lazy_sub.built
    for _, name, _ in COMMANDS:
        assert callable(lazy.parse_args([name, *_minimal(name)]).func)
        assert lazy_sub._name_parser_map[name].format_help() == eager_sub._name_parser_map[name].format_help()
    assert lazy_sub.built == {name for _, name, _ in COMMANDS}


def _minimal(name: str) -> list[str]:
    """Arguments that make ``dockyard <name> …`` parse."""
    needs = {"tag": ["a", "b"], "rmi": ["a"], "save": ["a"], "import": ["a"], "history": ["a"],
             "image": ["ls"], "run": ["a"], "create": ["a"], "start": ["a"], "stop": ["a"],
             "restart": ["a"], "kill": ["a"], "rm": ["a"], "logs": ["a"], "exec": ["a", "b"],
             "attach": ["a"], "wait": ["a"], "top": ["a"], "port": ["a"], "rename": ["a", "b"],
             "pause": ["a"], "unpause": ["a"], "cp": ["a:/x", "y"], "diff": ["a"], "commit": ["a"],
             "export": ["a"], "inspect": ["a"], "container": ["ls"], "network": ["ls"],
             "pull": ["a"], "push": ["a"], "search": ["a"], "system": ["df"],
             "registry": ["gc"], "build": ["."], "builder": ["prune"], "volume": ["ls"]}
    return needs.get(name, [])


def test_a_command_builds_only_its_own_parser() -> None:
    parser = build_parser()
    args = parser.parse_args(["-H", "unix:///nowhere", "container", "ls", "-a"])
    assert args.host == "unix:///nowhere" and args.all
    assert args.func.__module__ == "dockyard.cli.containers"
    assert _subparsers(parser).built == {"container"}  # not run, create, ps … of the same module
    args = parser.parse_args(["run", "--rm", "-e", "A=1", "busybox", "true"])
    assert args.rm and args.env == ["A=1"] and args.image == "busybox"
    assert _subparsers(parser).built == {"container", "run"}


def test_an_unknown_command_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["nope"])
    assert exit_.value.code == 2
    choices = ", ".join(f"'{name}'" for _, name, _ in COMMANDS)
    assert f"invalid choice: 'nope' (choose from {choices})" in capsys.readouterr().err


def test_help_imports_no_verb_module_and_no_docker_py() -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "dockyard.cli.main", "--help"],
                         capture_output=True, text=True, check=True, timeout=60)
    assert "Create and run a new container from an image" in out.stdout
    imported = {line.rpartition("|")[2].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "argparse" in imported  # the -X importtime report was read
    assert _heavy(imported) == []
    assert sorted(m for m in imported if m.startswith("dockyard.cli.")) in ([], ["dockyard.cli.main"])


def test_parsing_version_loads_only_its_module() -> None:
    modules = _loaded(["-H", "unix:///nowhere", "version"])
    assert "dockyard.cli.system" in modules
    assert _heavy(modules) == []
    verbs = {f"dockyard.cli.{m}" for m in VERB_MODULES} - {"dockyard.cli.system"}
    assert sorted(modules & verbs) == []


def test_parsing_run_loads_no_other_container_verb() -> None:
    modules = _loaded(["run", "--rm", "busybox", "true"])
    assert "dockyard.cli.running" in modules
    assert _heavy(modules) == []
    assert sorted(m for m in modules if m in {"dockyard.cli.containers", "dockyard.cli.images",
                                               "dockyard.cli.copy", "dockyard.config"}) == []
