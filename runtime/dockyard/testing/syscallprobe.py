"""A tiny static probe that makes raw system calls inside a container and prints each one's
errno — how the seccomp tests see a filter from the inside (runc's tests use such probes too).

``probe NR[,ARG…] [i386,NR[,ARG…]] …`` prints ``<call> <0|-1> <errno>`` per argument; an
``i386,`` call goes through ``int $0x80`` (the i386 ABI, its own numbers). Built with the host's
``gcc -static`` (:func:`build`); the binary is bound into a container by the tests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCE = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long legacy(long nr, long a, long b, long c) {
    long r;
    __asm__ volatile ("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

int main(int argc, char **argv) {
    for (int k = 1; k < argc; k++) {
        char *spec = strdup(argv[k]), *save = NULL, *tok = strtok_r(spec, ",", &save);
        int i386 = strcmp(tok, "i386") == 0, err = 0;
        if (i386)
            tok = strtok_r(NULL, ",", &save);
        long nr = strtol(tok, NULL, 0), a[6] = {0}, r;
        for (int i = 0; i < 6 && (tok = strtok_r(NULL, ",", &save)); i++)
            a[i] = strtol(tok, NULL, 0);
        if (i386) {
            r = legacy(nr, a[0], a[1], a[2]);
            if (r < 0 && r > -4096) { err = (int)-r; r = -1; }
        } else {
            r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
            err = r < 0 ? errno : 0;
        }
        printf("%s %d %d\n", argv[k], r < 0 ? -1 : 0, err);
        fflush(stdout);
    }
    return 0;
}
"""


def compiler() -> str | None:
    return shutil.which("gcc")


def build(directory: Path) -> Path:
    """Compile the probe into ``directory`` (once; a static binary runs in any image)."""
    binary = directory / "syscallprobe"
    if binary.exists():
        return binary
    gcc = compiler()
    if gcc is None:
        raise RuntimeError("gcc is needed to build the syscall probe")
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "syscallprobe.c"
    source.write_text(SOURCE)
    subprocess.run([gcc, "-static", "-O2", "-o", str(binary), str(source)], check=True,
                   capture_output=True)
    return binary


def errnos(output: str) -> dict[str, int]:
    """``{call: errno}`` (0: it succeeded) from the probe's output."""
    out = {}
    for line in output.splitlines():
        call, _result, err = line.split()
        out[call] = int(err)
    return out
