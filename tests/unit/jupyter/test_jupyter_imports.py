"""``%load_ext dockyard_jupyter`` stays light: no server code, no jupyter_server."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "dockyard_jupyter")
assert "docker" in shell.magics_manager.magics["line"], "magic not registered"
assert "dockerfile" in shell.magics_manager.magics["cell"], "cell magic not registered"
heavy = sorted(m for m in sys.modules
               if m.startswith(("jupyter_server", "dockyard_jupyter.server", "ipywidgets")))
print(",".join(heavy))
"""


def test_load_ext_imports_no_server_code() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], check=False, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_importing_the_package_is_lighter_still() -> None:
    probe = ("import sys, dockyard_jupyter; "
             "print(any(m.startswith(('IPython', 'docker', 'jupyter_server')) for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "False", result.stderr
