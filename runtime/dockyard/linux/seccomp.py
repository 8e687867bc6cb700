"""Seccomp: Docker's JSON profiles compiled to classic BPF here, loaded by a container's init
and every exec (``linux.child``, ``linux.enter``) — no libseccomp.

Three steps, as dockerd, runc and libseccomp split them:

1. :func:`resolve` (dockerd's part): the profile's entries kept for this machine (x86_64) and
   the container's capabilities (``includes``/``excludes`` by ``caps``, ``arches``,
   ``minKernel``), each a :class:`Rule`; dockerd's errors ("Decoding seccomp profile failed:
   …", "'name' and 'names' were specified…").
2. :func:`compile_rules` (runc's and libseccomp's part): names to numbers for each ABI the
   profile lists (x86_64, i386, x32; an unknown name is skipped, as runc does), actions and
   argument comparisons checked in runc's words, and the program: the arch check, then per ABI
   a number above the profile's highest answered ENOSYS (runc's stub, so a newer libc falls
   back to an older call), then a binary search over the numbers' ranges — a run of numbers
   with one outcome is one leaf, so a syscall costs ~8 comparisons, not a scan of 350 — and
   for a call with argument conditions its own block, each 64-bit argument compared as two
   32-bit words.
3. :func:`load`: one ``seccomp(SECCOMP_SET_MODE_FILTER)`` call.

The default profile is ``seccomp_default.json`` beside this module (Docker's, as facts: which
calls it allows, with which capabilities and arguments). Its program for Docker's default
capability set is compiled when this module is imported — in the launcher, whose embryos and
inits fork from it — so a start only loads it; other capability sets are compiled on demand
(:func:`default_program`).
"""

from __future__ import annotations

import base64
import json
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, Final

from .. import gojson
from ..errors import DockyardError
from . import syscall_table, syscalls

# seccomp_data: nr, arch, instruction pointer, six 64-bit arguments (little endian)
_NR, _ARCH, _ARGS = 0, 4, 16
AUDIT_ARCH_X86_64: Final = 0xC000003E
AUDIT_ARCH_I386: Final = 0x40000003
X32_BIT: Final = syscall_table.X32_SYSCALL_BIT

RET_KILL_PROCESS: Final = 0x80000000
RET_KILL_THREAD: Final = 0x00000000
RET_TRAP: Final = 0x00030000
RET_ERRNO: Final = 0x00050000
RET_TRACE: Final = 0x7FF00000
RET_LOG: Final = 0x7FFC0000
RET_ALLOW: Final = 0x7FFF0000
EPERM, ENOSYS = 1, 38

_ACTIONS: Final = {
    "SCMP_ACT_KILL": RET_KILL_THREAD, "SCMP_ACT_KILL_THREAD": RET_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": RET_KILL_PROCESS, "SCMP_ACT_TRAP": RET_TRAP,
    "SCMP_ACT_ERRNO": RET_ERRNO, "SCMP_ACT_TRACE": RET_TRACE, "SCMP_ACT_ALLOW": RET_ALLOW,
    "SCMP_ACT_LOG": RET_LOG, "SCMP_ACT_NOTIFY": -1,
}
_OPS: Final = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
               "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")
_ARCHES: Final = {  # the profile's names: which of them a program here checks, under which ABI
    "SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32",
    **{f"SCMP_ARCH_{a}": "" for a in (
        "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL", "MIPSEL64", "MIPSEL64N32",
        "PPC", "PPC64", "PPC64LE", "S390", "S390X", "PARISC", "PARISC64", "RISCV64")},
}
NATIVE: Final = "amd64"
_RUNC: Final = "failed to create shim task: OCI runtime create failed: runc create failed: "


class ProfileError(DockyardError):
    """A profile dockerd or runc refuses at the start (500, their words)."""


@dataclass(frozen=True)
class Cond:
    index: int
    op: str
    value: int
    value_two: int = 0


@dataclass(frozen=True)
class Rule:
    names: tuple[str, ...]
    action: str
    errno: int | None = None
    conds: tuple[Cond, ...] = ()


@dataclass
class Profile:
    """A profile resolved for one capability set (step 1's result)."""

    default_action: str
    default_errno: int | None
    arches: list[str] = field(default_factory=list)  # native names: amd64, x86, x32
    rules: list[Rule] = field(default_factory=list)


# ---- step 1: dockerd ------------------------------------------------------------------------


def parse(text: str) -> dict[str, Any]:
    """The profile's JSON, or dockerd's "Decoding seccomp profile failed: …" in Go's words."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"Decoding seccomp profile failed: {gojson.error(exc)}") from None
    if not isinstance(data, dict):
        raise ProfileError("Decoding seccomp profile failed: json: cannot unmarshal "
                           f"{gojson.kind(data)} into Go value of type seccomp.Seccomp")
    return data


def resolve(data: dict[str, Any], caps: Iterable[str]) -> Profile | None:
    """dockerd's ``setupSeccomp`` for this machine: None when the profile sets nothing."""
    caps = set(caps)
    syscalls = data.get("syscalls") or []
    default = str(data.get("defaultAction") or "")
    if not default and not syscalls:
        return None
    arch_list, arch_map = data.get("architectures") or [], data.get("archMap") or []
    if arch_list and arch_map:
        raise ProfileError("'architectures' and 'archMap' were specified in the seccomp profile, "
                           "use either 'architectures' or 'archMap'")
    arches = [str(a) for a in arch_list]
    for entry in arch_map:
        if entry.get("architecture") == "SCMP_ARCH_X86_64":
            arches += ["SCMP_ARCH_X86_64", *(entry.get("subArchitectures") or [])]
            break
    profile = Profile(default, _errno(data.get("defaultErrnoRet")), _native_arches(arches))
    for entry in syscalls:
        if _applies(entry, caps):
            profile.rules.append(_rule(entry))
    return profile


def _native_arches(arches: list[str]) -> list[str]:
    out = []
    for arch in arches:
        if arch not in _ARCHES:
            raise ProfileError(f"{_RUNC}string {arch} is not a valid arch for seccomp: unknown")
        if _ARCHES[arch] and _ARCHES[arch] not in out:
            out.append(_ARCHES[arch])
    return out or [NATIVE]  # none named: libseccomp's native one


def _applies(entry: dict[str, Any], caps: set[str]) -> bool:
    inc, exc = entry.get("includes") or {}, entry.get("excludes") or {}
    if NATIVE in (exc.get("arches") or []) or any(c in caps for c in exc.get("caps") or []):
        return False
    if exc.get("minKernel") and _kernel_at_least(exc["minKernel"]):
        return False
    if inc.get("arches") and NATIVE not in inc["arches"]:
        return False
    if any(c not in caps for c in inc.get("caps") or []):
        return False
    return not (inc.get("minKernel") and not _kernel_at_least(inc["minKernel"]))


def _rule(entry: dict[str, Any]) -> Rule:
    name, names = entry.get("name") or "", entry.get("names") or []
    if name and names:
        raise ProfileError("'name' and 'names' were specified in the seccomp profile, use either "
                           "'name' or 'names'")
    conds = tuple(Cond(int(a.get("index") or 0), str(a.get("op") or ""), int(a.get("value") or 0),
                       int(a.get("valueTwo") or 0)) for a in entry.get("args") or [])
    return Rule(tuple([name] if name else names), str(entry.get("action") or ""),
                _errno(entry.get("errnoRet")), conds)


def _errno(value: Any) -> int | None:
    return None if value is None else int(value)


@cache
def _kernel_at_least(version: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        head = text.split("-")[0]
        return tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in head.split(".")[:2])
    return parts(os.uname().release) >= parts(version)


# ---- step 2: runc and libseccomp ------------------------------------------------------------


@cache
def _tables() -> dict[str, dict[str, int]]:
    return {"amd64": syscall_table.numbers(syscall_table.X86_64),
            "x86": syscall_table.numbers(syscall_table.I386),
            "x32": syscall_table.x32_numbers()}


def _ret(action: str, errno: int | None, default_errno: int | None = None) -> int:
    if action not in _ACTIONS:
        raise ProfileError(f"{_RUNC}string {action} is not a valid action for seccomp: unknown")
    if action == "SCMP_ACT_NOTIFY":
        raise ProfileError(f"{_RUNC}unable to start container process: listenerPath is not set: unknown")
    ret = _ACTIONS[action]
    if ret in (RET_ERRNO, RET_TRACE):
        code = errno if errno is not None else (default_errno if default_errno is not None else EPERM)
        ret |= code & 0xFFFF
    return ret


def _check_conds(name: str, conds: tuple[Cond, ...]) -> None:
    for cond in conds:
        if cond.op not in _OPS:
            raise ProfileError(f"{_RUNC}string {cond.op} is not a valid operator for seccomp: unknown")
        if not 0 <= cond.index < 6:
            raise ProfileError(f"{_RUNC}unable to start container process: error creating seccomp "
                               f"syscall condition for syscall {name}: syscalls only have up to 6 "
                               f"arguments ({cond.index} given): unknown")


Outcome = tuple[tuple[tuple[tuple[Cond, ...], int], ...], int]
"""A syscall's rules with conditions ``((conds, ret), …)`` and what it returns otherwise."""


def compile_rules(profile: Profile) -> bytes:
    """The BPF program (``struct sock_filter`` array) for ``profile``."""
    default = _ret(profile.default_action, None, profile.default_errno)
    per_arch = {arch: _outcomes(profile, arch, default) for arch in profile.arches}
    stub = default not in (RET_ALLOW, RET_LOG, RET_ERRNO | ENOSYS)
    asm = _Asm()
    asm.load(_ARCH)
    native = "amd64" in per_arch or "x32" in per_arch
    asm.jeq(AUDIT_ARCH_X86_64, "x86_64" if native else "bad", "not-x86_64")
    if native:
        asm.label("x86_64")
        asm.load(_NR)
        asm.jge(X32_BIT, "x32" if "x32" in per_arch else "bad",
                "amd64" if "amd64" in per_arch else "bad")
    asm.label("not-x86_64")
    asm.jeq(AUDIT_ARCH_I386, "x86" if "x86" in per_arch else "bad", "bad")
    asm.label("bad")
    asm.ret(RET_KILL_THREAD)  # libseccomp's default for an architecture the filter lacks
    for arch, outcomes in per_arch.items():
        asm.label(arch)
        if arch == "x86":
            asm.load(_NR)
        _emit_arch(asm, arch, outcomes, default, stub)
    return asm.assemble()


def _outcomes(profile: Profile, arch: str, default: int) -> dict[int, Outcome]:
    table = _tables()[arch]
    conditional: dict[int, list[tuple[tuple[Cond, ...], int]]] = {}
    plain: dict[int, int] = {}
    for rule in profile.rules:
        ret = _ret(rule.action, rule.errno, profile.default_errno)
        for name in rule.names:
            _check_conds(name, rule.conds)
            nr = table.get(name)
            if nr is None:
                continue  # not a call of this ABI (or of this kernel's time): runc skips it
            if rule.conds:
                conditional.setdefault(nr, []).extend((conds, ret) for conds in _split(rule.conds))
            else:
                plain[nr] = ret
    outcomes: dict[int, Outcome] = {}
    for nr in set(conditional) | set(plain):
        fallback = plain.get(nr, default)
        rules = [] if nr in plain else sorted(conditional.get(nr, []), key=_precedence)
        outcomes[nr] = (tuple(rules), fallback)
    return outcomes


_RANK: Final = {"SCMP_CMP_EQ": 0, "SCMP_CMP_NE": 0, "SCMP_CMP_MASKED_EQ": 1, "SCMP_CMP_GT": 2,
                "SCMP_CMP_LE": 2, "SCMP_CMP_GE": 3, "SCMP_CMP_LT": 3}


def _precedence(rule: tuple[tuple[Cond, ...], int]) -> tuple[int, int, int]:
    """Where one call's conditioned rules overlap, which decides: libseccomp's tree tests
    lower arguments first, (in)equality before masks, ``>`` before ``>=`` (``<``, ``<=`` are
    their negations) and a larger value first — what dockerd 20.10 answered to overlapping
    pairs (tests/unit/linux/test_seccomp_compiler.py); otherwise the profile's order."""
    first = rule[0][0]
    rank = _RANK[first.op]
    return first.index, rank, -first.value if rank >= 2 else 0


def _split(conds: tuple[Cond, ...]) -> list[tuple[Cond, ...]]:
    """runc's rule for a rule that tests one argument twice: each condition becomes a rule of
    its own (so they are ORed: ``>= 10`` and ``< 20`` on one argument match everything);
    conditions on different arguments stay ANDed."""
    indexes = [c.index for c in conds]
    if len(set(indexes)) == len(indexes):
        return [conds]
    return [(c,) for c in conds]


def _emit_arch(asm: _Asm, arch: str, outcomes: dict[int, Outcome], default: int,
               stub: bool) -> None:
    """A in the accumulator is the syscall number; every path returns."""
    base = X32_BIT if arch == "x32" else 0
    highest = max(outcomes, default=base)
    # ranges: [start, outcome) pairs covering base..highest, merged where equal
    ranges: list[tuple[int, Outcome | int]] = []
    current: Outcome | int | None = None
    for nr in range(base, highest + 1):
        outcome = outcomes.get(nr, default)
        if isinstance(outcome, tuple) and not outcome[0]:
            outcome = outcome[1]
        if outcome != current:
            ranges.append((nr, outcome))
            current = outcome
    ranges.append((highest + 1, RET_ERRNO | ENOSYS if stub else default))
    leaves: dict[Outcome | int, str] = {}
    root = _search(asm, arch, ranges, 0, len(ranges), leaves)
    if root in leaves.values():  # one range: no comparison at all
        asm.ja(root)
    for outcome, label in leaves.items():  # the leaves, each once, right after the tree
        asm.label(label)
        if isinstance(outcome, int):
            asm.ret(outcome)
        else:
            _emit_conds(asm, label, outcome[0], outcome[1], wide=arch != "x86")


def _search(asm: _Asm, arch: str, ranges: list[tuple[int, Outcome | int]], lo: int, hi: int,
            leaves: dict[Outcome | int, str]) -> str:
    """Binary search over ``ranges[lo:hi]``, pre-order; returns the label to jump to. A leaf
    emits nothing: its comparison jumps straight to the one ``ret`` (or argument block) of that
    outcome, so a program is about one instruction per range and its boundaries, not two."""
    if hi - lo == 1:
        return leaves.setdefault(ranges[lo][1], f"{arch}-leaf-{len(leaves)}")
    mid = (lo + hi) // 2
    here = asm.fresh()
    asm.label(here)
    at = len(asm.code)
    asm.jge(ranges[mid][0], here, here)  # targets patched below, once the subtrees are placed
    left = _search(asm, arch, ranges, lo, mid, leaves)
    right = _search(asm, arch, ranges, mid, hi, leaves)
    op, _yes, _no, k = asm.code[at]
    asm.code[at] = (op, right, left, k)
    return here


def _emit_conds(asm: _Asm, label: str, rules: tuple[tuple[tuple[Cond, ...], int], ...],
                fallback: int, wide: bool) -> None:
    """Each rule: all its conditions or on to the next one; then the fallback."""
    for i, (conds, ret) in enumerate(rules):
        fail = f"{label}-r{i}"
        for cond in conds:
            _emit_cond(asm, cond, fail, wide)
        asm.ret(ret)
        asm.label(fail)
    asm.ret(fallback)


def _emit_cond(asm: _Asm, cond: Cond, fail: str, wide: bool) -> None:
    """Fall through when ``cond`` holds, else jump to ``fail``. A 64-bit argument is two
    32-bit words (low word first in ``seccomp_data``); i386's arguments are 32-bit, so only
    their low word is compared, as libseccomp does for a 32-bit ABI."""
    lo_off = _ARGS + 8 * cond.index
    hi_off = lo_off + 4
    value, two = cond.value & 0xFFFFFFFFFFFFFFFF, cond.value_two & 0xFFFFFFFFFFFFFFFF
    v_hi, v_lo = value >> 32, value & 0xFFFFFFFF
    ok, op = asm.fresh(), cond.op
    if op == "SCMP_CMP_MASKED_EQ":
        words = ((hi_off, v_hi, two >> 32), (lo_off, v_lo, two & 0xFFFFFFFF))
        for off, mask, want in words if wide else words[1:]:
            asm.load(off)
            asm.and_(mask)
            asm.jeq(want, None, fail)
    elif op in ("SCMP_CMP_EQ", "SCMP_CMP_NE"):
        equal = op == "SCMP_CMP_EQ"
        if wide:  # the high words differ: EQ fails, NE holds
            asm.load(hi_off)
            asm.jeq(v_hi, None, fail if equal else ok)
        asm.load(lo_off)
        asm.jeq(v_lo, None if equal else fail, fail if equal else None)
    else:  # ordered: the high words decide unless they are equal
        greater = op in ("SCMP_CMP_GT", "SCMP_CMP_GE")
        if wide:
            asm.load(hi_off)
            asm.jgt(v_hi, ok if greater else fail, None)
            asm.jeq(v_hi, None, fail if greater else ok)
        asm.load(lo_off)
        if op == "SCMP_CMP_GT":
            asm.jgt(v_lo, None, fail)
        elif op == "SCMP_CMP_GE":
            asm.jge(v_lo, None, fail)
        elif op == "SCMP_CMP_LT":
            asm.jge(v_lo, fail, None)
        else:  # LE
            asm.jgt(v_lo, fail, None)
    asm.label(ok)


class _Asm:
    """Classic BPF with labels (``None`` for a jump target: the next instruction). A
    conditional jump too far for its 8-bit offsets jumps to ``ja`` trampolines (32-bit)
    placed right after it."""

    _LD, _AND, _JA, _RET = 0x20, 0x54, 0x05, 0x06
    _JEQ, _JGT, _JGE = 0x15, 0x25, 0x35

    def __init__(self) -> None:
        self.code: list[tuple[int, str, str, int]] = []
        self.labels: dict[str, int] = {}
        self._n = 0

    def fresh(self) -> str:
        self._n += 1
        return f"_L{self._n}"

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def _emit(self, op: int, k: int, yes: str = "", no: str = "") -> None:
        self.code.append((op, yes, no, k))

    def load(self, offset: int) -> None:
        self._emit(self._LD, offset)

    def and_(self, mask: int) -> None:
        self._emit(self._AND, mask)

    def ret(self, value: int) -> None:
        self._emit(self._RET, value)

    def ja(self, target: str) -> None:
        self._emit(self._JA, 0, target)

    def _jump(self, op: int, k: int, yes: str | None, no: str | None) -> None:
        after = self.fresh() if yes is None or no is None else ""
        self._emit(op, k, yes or after, no or after)
        if after:
            self.label(after)

    def jeq(self, k: int, yes: str | None, no: str | None) -> None:
        self._jump(self._JEQ, k, yes, no)

    def jgt(self, k: int, yes: str | None, no: str | None) -> None:
        self._jump(self._JGT, k, yes, no)

    def jge(self, k: int, yes: str | None, no: str | None) -> None:
        self._jump(self._JGE, k, yes, no)

    def assemble(self) -> bytes:
        code, labels = list(self.code), dict(self.labels)
        i = 0
        while i < len(code):  # widen far conditional jumps (a widening only moves later code)
            op, yes, no, k = code[i]
            if op in (self._JEQ, self._JGT, self._JGE) and max(
                    _dist(i, yes, labels), _dist(i, no, labels)) > 255:
                first, second = self.fresh(), self.fresh()
                code[i:i + 1] = [(op, first, second, k), (self._JA, yes, "", 0),
                                 (self._JA, no, "", 0)]
                labels = {name: at + 2 if at > i else at for name, at in labels.items()}
                labels[first], labels[second] = i + 1, i + 2
                i = 0  # earlier jumps over this point grew too
                continue
            i += 1
        out = bytearray()
        for i, (op, yes, no, k) in enumerate(code):
            if op == self._JA:
                out += struct.pack("<HBBI", op, 0, 0, _dist(i, yes, labels))
            elif op in (self._JEQ, self._JGT, self._JGE):
                out += struct.pack("<HBBI", op, _dist(i, yes, labels), _dist(i, no, labels), k)
            else:
                out += struct.pack("<HBBI", op, 0, 0, k & 0xFFFFFFFF)
        return bytes(out)


def _dist(i: int, target: str, labels: dict[str, int]) -> int:
    where = labels[target]
    if where <= i:
        raise AssertionError(f"backward jump to {target}")
    return where - i - 1


# ---- what a container gets --------------------------------------------------------------------

DEFAULT: Final = "default"
UNCONFINED: Final = "unconfined"
_BPF: Final = "bpf:"


@lru_cache(maxsize=1)
def default_text() -> str:
    """The default profile's JSON (read once: an init compiling it has left the host's files)."""
    with open(os.path.join(os.path.dirname(__file__), "seccomp_default.json"), encoding="utf-8") as f:
        return f.read()


_default_cache: dict[int, bytes] = {}


def default_program(caps_mask: int) -> bytes:
    """The default profile's program for a capability mask (compiled once per mask)."""
    program = _default_cache.get(caps_mask)
    if program is None:
        program = compile_profile(default_text(), _cap_names(caps_mask))
        assert program is not None
        _default_cache[caps_mask] = program
    return program


def _cap_names(mask: int) -> list[str]:
    from .capabilities import NAMES
    return [f"CAP_{name}" for i, name in enumerate(NAMES) if mask & (1 << i)]


def compile_profile(text: str, caps: Iterable[str]) -> bytes | None:
    """A custom profile (the JSON ``--security-opt seccomp=`` carries) for ``caps``; None
    when it sets nothing (``{}``, as dockerd: no filter)."""
    profile = resolve(parse(text), caps)
    return None if profile is None else compile_rules(profile)


def encode(program: bytes | None) -> str:
    """A compiled custom program as the spec carries it to the init."""
    return "" if program is None else _BPF + base64.b64encode(program).decode()


def program_for(setting: str, caps_mask: int) -> bytes | None:
    """What the init (or an exec) loads for the spec's ``seccomp``: "" nothing, "default"
    (or "default:<mask>": an exec's, with the container's capabilities), "bpf:…" a custom
    profile compiled by the daemon."""
    if not setting or setting == UNCONFINED or not supported():
        return None
    if setting.startswith(_BPF):
        return base64.b64decode(setting[len(_BPF):])
    _default, _, mask = setting.partition(":")
    return default_program(int(mask) if mask else caps_mask)


def supported() -> bool:
    """The programs here check x86_64's ABIs only; elsewhere nothing is loaded."""
    return _X86_64


_X86_64: Final = os.uname().machine == "x86_64"


# ---- step 3: the kernel -----------------------------------------------------------------------

def load(program: bytes) -> None:
    """Install ``program`` for this thread and its descendants (no_new_privs set, or
    CAP_SYS_ADMIN: runc loads it last with the one, before dropping capabilities without)."""
    ready = _ready.get(program) or syscalls.SeccompProgram(program)
    try:
        syscalls.seccomp_set_filter(ready)
    except OSError as exc:
        raise OSError(exc.errno, "error loading seccomp filter into kernel: loading seccomp "
                                 f"filter: {os.strerror(exc.errno or 1).lower()}") from None


def _warm() -> None:
    """Docker's default capability set's program, compiled at import (see the docstring)."""
    if supported():  # through program_for: its code is warm in every process forked from here
        from .capabilities import DOCKER_DEFAULT, mask
        program = program_for(f"{DEFAULT}:{mask(DOCKER_DEFAULT)}", 0)
        assert program is not None
        _ready[program] = syscalls.SeccompProgram(program)


_ready: dict[bytes, syscalls.SeccompProgram] = {}
"""Programs with their ``sock_fprog`` built, so that the init only makes the call."""


_warm()
