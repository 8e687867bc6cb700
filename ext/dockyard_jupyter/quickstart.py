"""``python3 -m dockyard_jupyter.quickstart``: README's main job in one command.

With a display (or ``--open``) it copies examples/quickstart.ipynb into a folder and opens it in
JupyterLab, on the user's bundled daemon. Headless (no display, or ``--headless``) it executes
the notebook in a real kernel with nbclient and prints every cell with its outputs, on a bundled
daemon of its own: a temporary data root (``DOCKYARD_DATA_ROOT`` for the kernel, so the magics
start that daemon on first use exactly as in a user's kernel, and nothing touches
/var/lib/dockyard), stopped by pid at the end together with anything the notebook left running.
The exit status is 0 only when every cell ran and nothing was left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from . import launcher

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RULE = "─" * 78


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m dockyard_jupyter.quickstart", description=(
        "Set up and open the quickstart notebook, or execute it headless and print it."))
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--headless", action="store_true",
                      help="execute the notebook and print it (default without a display)")
    mode.add_argument("--open", action="store_true",
                      help="open it in JupyterLab (default with a display)")
    p.add_argument("--notebook", type=Path, default=NOTEBOOK, help=f"notebook ({NOTEBOOK})")
    p.add_argument("--dir", type=Path, default=None,
                   help="folder to run it in (headless: a temporary one, removed at the end; "
                        "--open: ~/dockyard-quickstart)")
    p.add_argument("--data-root", type=Path, default=None,
                   help="the bundled daemon's data root (headless: a temporary one)")
    p.add_argument("--timeout", type=int, default=300, help="seconds per cell (300)")
    p.add_argument("lab_args", nargs=argparse.REMAINDER,
                   help="with --open: arguments after -- go to `jupyter lab`")
    return p.parse_args(argv)


def headless_by_default(env: dict[str, str]) -> bool:
    return not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if not args.notebook.is_file():
        print(f"quickstart: no notebook at {args.notebook} (pass --notebook PATH)",
              file=sys.stderr)
        return 2
    if args.open or not (args.headless or headless_by_default(dict(os.environ))):
        return open_in_lab(args)
    return run_headless(args)


# ---- --open ----------------------------------------------------------------------------------

def open_in_lab(args: argparse.Namespace) -> int:
    """A copy of the notebook in a folder of the user's (never overwriting their edits), then
    this process becomes ``jupyter lab`` (its signals, its exit status); the server extension
    starts the bundled daemon with the server."""
    folder = (args.dir or Path.home() / "dockyard-quickstart").absolute()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / args.notebook.name
    if not target.exists():
        shutil.copy(args.notebook, target)
    env = dict(os.environ)
    if args.data_root is not None:
        env[launcher.DATA_ROOT_ENV] = str(args.data_root.absolute())
    command = [sys.executable, "-m", "jupyterlab", str(target), f"--ServerApp.root_dir={folder}",
               "--ServerApp.jpserver_extensions", "dockyard_jupyter=True",  # enabled or not
               *(["--allow-root"] if os.geteuid() == 0 else []),
               *[a for a in args.lab_args if a != "--"]]
    print("$", " ".join(command), flush=True)
    os.execve(sys.executable, command, env)


# ---- headless --------------------------------------------------------------------------------

class Failed(Exception):
    """The run went wrong; the message is one line for the summary."""


def run_headless(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="dockyard-quickstart-"))
    folder = (args.dir or work / "notebook").absolute()
    root = (args.data_root or work / "root").absolute()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.notebook, folder / args.notebook.name)
    print(f"quickstart: notebook {folder / args.notebook.name}\n"
          f"quickstart: bundled daemon data root {root} (started by the notebook on first use)",
          flush=True)
    problems: list[str] = []
    try:
        with bundled_daemon(root, problems):
            execute(folder / args.notebook.name, kernel_env(root), args.timeout)
    except Failed as exc:
        problems.insert(0, str(exc))
    except KeyboardInterrupt:
        problems.insert(0, "interrupted")
    finally:
        problems += stop_leftovers(folder)
        if problems:
            show_log(launcher.log_path(root))
        problems += remove_work(work)
    for problem in problems:
        print(f"quickstart FAILED: {problem}", file=sys.stderr)
    if not problems:
        print("\nquickstart OK")
    return 1 if problems else 0


def kernel_env(root: Path) -> dict[str, str]:
    """No DOCKYARD_HOST: the magics take the default path to a bundled daemon, ours."""
    env = {k: v for k, v in os.environ.items() if k != "DOCKYARD_HOST"}
    env[launcher.DATA_ROOT_ENV] = str(root)
    return env


def execute(path: Path, env: dict[str, str], timeout: int) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    printer = CellPrinter(sys.stdout)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_start=printer.start, on_cell_executed=printer.executed)
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        raise Failed(f"a cell raised {exc.ename}: {exc.evalue}") from None
    except Exception as exc:  # noqa: BLE001 - a timeout, a dead kernel: say which, in one line
        printer.flush_pending()
        last = (str(exc).strip().splitlines() or [""])[-1]
        raise Failed(f"{type(exc).__name__}: {last}") from None
    finally:
        nbformat.write(nb, path)  # type: ignore[no-untyped-call]


class CellPrinter:
    """nbclient hooks: each cell's source as it starts, its outputs once it has run."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.pending: Any = None

    def start(self, cell: Any, cell_index: int) -> None:
        if cell.cell_type == "markdown":
            self.write(f"\n{cell.source.strip()}\n")
        elif cell.cell_type == "code" and cell.source.strip():
            self.pending = cell
            self.write(f"\n{RULE}\nIn [{cell_index}]:\n{indent(cell.source.rstrip())}\n")

    def executed(self, cell: Any, cell_index: int, execute_reply: Any = None) -> None:
        self.pending = None
        text = "".join(output_text(o) for o in cell.outputs)
        if text:
            self.write(f"Out:\n{indent(text.rstrip())}\n")

    def flush_pending(self) -> None:
        if self.pending is not None:
            self.executed(self.pending, -1)

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def output_text(output: Any) -> str:
    """What a reader of a terminal should see of one output."""
    kind = output.get("output_type")
    if kind == "stream":
        return str(output.get("text", ""))
    if kind == "error":
        return ANSI.sub("", "\n".join(output.get("traceback") or
                                      [f"{output['ename']}: {output['evalue']}"])) + "\n"
    data = output.get("data", {})
    if "application/vnd.jupyter.widget-view+json" in data:
        return f"[widget] {data.get('text/plain', '')}\n"
    text = data.get("text/plain", "")
    return f"{text}\n" if text else ""


# ---- the bundled daemon and leftovers --------------------------------------------------------

@contextlib.contextmanager
def bundled_daemon(root: Path, problems: list[str]) -> Iterator[None]:
    """Stop the daemon the notebook started (by the pid in its pidfile) once it has run; a
    daemon that already answered at this data root is the user's and stays."""
    host = launcher.bundled_host(root)
    adopted = launcher.ping(host)
    try:
        yield
    finally:
        if not adopted:
            problems += stop_daemon(host, root)


def stop_daemon(host: str, root: Path, timeout: float = 30.0) -> list[str]:
    problems = remove_containers(host)
    pid = read_pid(launcher.pidfile(root))
    if pid is None or not is_daemon(pid, root):
        return problems
    os.kill(pid, signal.SIGTERM)
    if not wait_gone(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        problems.append(f"the daemon (pid {pid}) ignored SIGTERM for {timeout:.0f}s: killed")
    print(f"quickstart: daemon pid {pid} stopped", flush=True)
    return problems


def remove_containers(host: str) -> list[str]:
    """A container the notebook left is a failure of the notebook; it is removed anyway."""
    import docker

    if not launcher.ping(host):
        return []
    client = docker.APIClient(base_url=host, version="1.41", timeout=30)
    try:
        left = client.containers(all=True)
        for item in left:
            client.remove_container(item["Id"], force=True, v=True)
    finally:
        client.close()
    return [f"container {c['Id'][:12]} ({c['Image']}) was left behind" for c in left]


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def is_daemon(pid: int, root: Path) -> bool:
    """The pid is still that daemon (not a reused pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"daemon" in argv and str(root).encode() in argv


def wait_gone(pid: int, timeout: float) -> bool:
    """Not our child (the kernel started it), so poll: gone, or a zombie nobody reaped yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except (OSError, IndexError):
            return True
        time.sleep(0.05)
    return False


def stop_leftovers(folder: Path) -> list[str]:
    """Processes still working in the notebook's folder (a registry of a notebook that failed
    half-way): the notebook started them, so they are stopped by pid."""
    problems = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")) != folder or int(proc.name) == os.getpid():
                continue
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            os.kill(int(proc.name), signal.SIGTERM)
        except (OSError, ValueError):
            continue
        wait_gone(int(proc.name), 10.0)
        problems.append(f"process {proc.name} was left running: {argv.strip()[:120]}")
    return problems


def show_log(path: Path, lines: int = 20) -> None:
    with contextlib.suppress(OSError):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- {path} (last lines) ---", *tail, sep="\n", file=sys.stderr)


def remove_work(work: Path) -> list[str]:
    """The temporary folder goes (a --dir or --data-root elsewhere stays), unless something
    is still mounted inside it."""
    mounted = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
               if line.split()[4].startswith(f"{work}/")]
    if mounted:
        return [f"{work} kept: still mounted there: {', '.join(mounted)}"]
    shutil.rmtree(work, ignore_errors=True)
    return []


if __name__ == "__main__":
    sys.exit(main())
