"""A container's device rules on cgroup v2: an eBPF ``BPF_PROG_TYPE_CGROUP_DEVICE`` program.

cgroup v2 has no devices controller. runc (dockerd 20.10's runtime) compiles the same rule
list it writes to a v1 ``devices.list`` into a small eBPF program and attaches it to the
container's cgroup (``BPF_CGROUP_DEVICE``, ``BPF_F_ALLOW_MULTI``); the kernel runs it at every
mknod and every open of a device node by a task in that cgroup or below, and refuses with
EPERM when it returns 0 (an ancestor's program must allow too). This module does the same
with our own encoder, from :func:`dockyard.linux.cgroups.device_rules`' lines.

The program reads ``struct bpf_cgroup_dev_ctx {u32 access_type; u32 major; u32 minor;}``,
``access_type`` being ``access << 16 | type`` (type 1 block, 2 char; access bits mknod 1,
read 2, write 4)::

    r2 = ctx->access_type & 0xffff      r3 = ctx->access_type >> 16
    r4 = ctx->major                     r5 = ctx->minor
    per rule:  if r2 != type goto next
               if (r3 & access) != r3 goto next     (left out for rwm)
               if r4 != major goto next             (left out for *)
               if r5 != minor goto next             (left out for *)
               return 1
    next…:     return 0

The rules are an allow list over a default of deny, as runc's devices emulator leaves a
v1 list that starts with ``a`` denied (dockerd's always does) — so which allowing rule
matches first makes no difference, and the order is the list's. A request must be within
one rule's accesses (an open for read and write needs a rule with both: ``device_rules``
merges one node's rules into one line, as runc's emulator does). ``--privileged`` (``a *:*
rwm``) gets no program at all, and loses any one a previous rule list left.

A program is held by its attachment only: the cgroup's removal frees it (the kernel detaches
everything from a cgroup it releases), as runc leaves it. Re-applying rules attaches the new
program first and then detaches the old ones, so the cgroup is never without one.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Sequence
from typing import Final

from ..errors import DockyardError
from . import syscalls

# bpf(2) commands and constants (include/uapi/linux/bpf.h)
_PROG_LOAD: Final = 5
_PROG_ATTACH: Final = 8
_PROG_DETACH: Final = 9
_PROG_GET_FD_BY_ID: Final = 13
_PROG_QUERY: Final = 16
_PROG_TYPE_CGROUP_DEVICE: Final = 15
_CGROUP_DEVICE: Final = 6  # the attach type
_F_ALLOW_MULTI: Final = 2
_ATTR_SIZE: Final = 128  # of the union bpf_attr we pass: the kernel wants the rest zero
_LICENSE: Final = b"Apache\0"  # no GPL-only helper is called
_NAME: Final = b"dockyard_dev"  # what bpftool shows

DEV_BLOCK: Final = 1
DEV_CHAR: Final = 2
ACC_MKNOD: Final = 1
ACC_READ: Final = 2
ACC_WRITE: Final = 4
_ACCESS: Final = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}
_ALL_ACCESS: Final = ACC_MKNOD | ACC_READ | ACC_WRITE

# eBPF opcodes used (class | op | source)
_LDX_W: Final = 0x61     # BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
_AND32_K: Final = 0x54   # BPF_ALU | BPF_AND | BPF_K
_RSH32_K: Final = 0x74   # BPF_ALU | BPF_RSH | BPF_K
_MOV32_K: Final = 0xB4   # BPF_ALU | BPF_MOV | BPF_K
_MOV32_X: Final = 0xBC   # BPF_ALU | BPF_MOV | BPF_X
_JNE_K: Final = 0x55     # BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto +off
_JNE_X: Final = 0x5D     # BPF_JMP | BPF_JNE | BPF_X: if dst != src goto +off
_EXIT: Final = 0x95      # BPF_JMP | BPF_EXIT: return r0


class DeviceFilterError(DockyardError):
    """The kernel refused the program or its attachment (runc's start fails likewise)."""


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One ``struct bpf_insn``: code, dst and src registers in one byte, off, imm."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


_PROLOGUE: Final = b"".join((
    _insn(_LDX_W, 2, 1, 0), _insn(_AND32_K, 2, imm=0xFFFF),   # r2: type
    _insn(_LDX_W, 3, 1, 0), _insn(_RSH32_K, 3, imm=16),       # r3: access
    _insn(_LDX_W, 4, 1, 4),                                    # r4: major
    _insn(_LDX_W, 5, 1, 8),                                    # r5: minor
))
_DENY: Final = _insn(_MOV32_K, 0, imm=0) + _insn(_EXIT)


def _parse(rule: str) -> tuple[int, int | None, int | None, int]:
    """``"c 1:3 rwm"`` as (type, major, minor, access); ``None`` for ``*``."""
    kind, numbers, access = rule.split()
    major, minor = numbers.split(":")
    return (DEV_BLOCK if kind == "b" else DEV_CHAR,
            None if major == "*" else int(major), None if minor == "*" else int(minor),
            sum(_ACCESS[a] for a in set(access)))


def _block(rule: str) -> bytes:
    """One rule: its tests, each jumping past the block's ``return 1`` when it fails."""
    kind, major, minor, access = _parse(rule)
    tests = [(_JNE_K, 2, 0, kind)]
    if access != _ALL_ACCESS:  # r1 is free: the context was read in the prologue
        tests += [(_MOV32_X, 1, 3, 0), (_AND32_K, 1, 0, access), (_JNE_X, 1, 3, 0)]
    if major is not None:
        tests.append((_JNE_K, 4, 0, major))
    if minor is not None:
        tests.append((_JNE_K, 5, 0, minor))
    size = len(tests) + 2
    return b"".join(_insn(code, dst, src, size - i - 1 if code in (_JNE_K, _JNE_X) else 0, imm)
                    for i, (code, dst, src, imm) in enumerate(tests)) \
        + _insn(_MOV32_K, 0, imm=1) + _insn(_EXIT)


def compile_rules(rules: Sequence[str]) -> bytes | None:
    """The program (``struct bpf_insn``s) allowing what ``rules`` allow and nothing else;
    ``None`` when they allow every device (a rule of type ``a``: no program is needed)."""
    if any(rule.startswith("a ") for rule in rules):
        return None
    return _PROLOGUE + b"".join(_block(rule) for rule in rules) + _DENY


def _attr(fmt: str, *values: int | bytes) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(struct.pack(fmt, *values), _ATTR_SIZE)


def load(program: bytes) -> int:
    """The program loaded (``BPF_PROG_LOAD``): its fd. A refusal is retried with the
    verifier's log, which the error then quotes."""
    insns = ctypes.create_string_buffer(program, len(program))
    licence = ctypes.create_string_buffer(_LICENSE)
    log = ctypes.create_string_buffer(0)
    for log_level in (0, 1):
        if log_level:
            log = ctypes.create_string_buffer(1 << 16)
        attr = _attr("<IIQQIIQII16s", _PROG_TYPE_CGROUP_DEVICE, len(program) // 8,
                     ctypes.addressof(insns), ctypes.addressof(licence), log_level,
                     len(log) if log_level else 0, ctypes.addressof(log) if log_level else 0,
                     0, 0, _NAME)
        try:
            return syscalls.bpf(_PROG_LOAD, attr, "bpf(BPF_PROG_LOAD)")
        except OSError as exc:
            failure = exc.errno or 0
    text = log.value.decode("ascii", "replace").strip()
    raise DeviceFilterError("failed to call BPF_PROG_LOAD (BPF_PROG_TYPE_CGROUP_DEVICE): "
                            + os.strerror(failure).lower() + (f": {text}" if text else ""))


def attached(cgroup_fd: int) -> list[int]:
    """The ids of the device programs attached to this cgroup itself (``BPF_PROG_QUERY``;
    not its ancestors')."""
    count = 64
    while True:
        ids = (ctypes.c_uint32 * count)()
        attr = _attr("<IIIIQI", cgroup_fd, _CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), count)
        try:
            syscalls.bpf(_PROG_QUERY, attr, "bpf(BPF_PROG_QUERY)")
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        found = struct.unpack_from("<I", attr, 24)[0]
        if found <= count:
            return list(ids[:found])
        count = found


def program_fd(prog_id: int) -> int:
    """A new fd for the loaded program ``prog_id`` (``BPF_PROG_GET_FD_BY_ID``); ENOENT once
    the kernel has freed it."""
    return syscalls.bpf(_PROG_GET_FD_BY_ID, _attr("<I", prog_id), "bpf(BPF_PROG_GET_FD_BY_ID)")


def _attach(cgroup_fd: int, prog_fd: int, detach: bool = False) -> None:
    cmd, flags = (_PROG_DETACH, 0) if detach else (_PROG_ATTACH, _F_ALLOW_MULTI)
    what = "BPF_PROG_DETACH (BPF_CGROUP_DEVICE)" if detach else \
        "BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)"
    try:
        syscalls.bpf(cmd, _attr("<IIII", cgroup_fd, prog_fd, _CGROUP_DEVICE, flags), what)
    except OSError as exc:  # in runc's words
        raise DeviceFilterError(f"failed to call {what}: "
                                + os.strerror(exc.errno or 0).lower()) from None


def install(cgroup_dir: str, rules: Sequence[str]) -> None:
    """Make ``rules`` the device rules of the v2 cgroup ``cgroup_dir``: their program
    attached, then whatever device program was attached there before detached (none for
    a new cgroup; allowing all leaves none)."""
    program = compile_rules(rules)
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = attached(fd)
        if program is not None:
            prog = load(program)
            try:
                _attach(fd, prog)
            finally:
                os.close(prog)
        for prog_id in old:
            _detach(fd, prog_id)
    finally:
        os.close(fd)


def _detach(cgroup_fd: int, prog_id: int) -> None:
    try:
        prog = program_fd(prog_id)
    except FileNotFoundError:
        return  # gone meanwhile
    try:
        _attach(cgroup_fd, prog, detach=True)
    finally:
        os.close(prog)
