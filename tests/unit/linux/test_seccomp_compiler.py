"""The seccomp compiler, run: each program goes through a small classic-BPF interpreter with
made-up ``seccomp_data``, so what a container would get for a call is asserted here, syscall
by syscall, without loading anything into a kernel."""

from __future__ import annotations

import json
import struct

import pytest

from dockyard.linux import capabilities, seccomp
from dockyard.linux.syscall_table import I386, X86_64, numbers, x32_numbers

NR64, NR32, NRX32 = numbers(X86_64), numbers(I386), x32_numbers()
ALLOW, KILL = seccomp.RET_ALLOW, seccomp.RET_KILL_THREAD
EPERM, ENOSYS = seccomp.RET_ERRNO | 1, seccomp.RET_ERRNO | 38


def run_bpf(program: bytes, nr: int, args: tuple[int, ...] = (),
            arch: int = seccomp.AUDIT_ARCH_X86_64) -> tuple[int, int]:
    """(return value, instructions executed) of ``program`` for one call."""
    data = struct.pack("<IIQ6Q", nr, arch, 0, *(list(args) + [0] * 6)[:6])
    code = [struct.unpack_from("<HBBI", program, i) for i in range(0, len(program), 8)]
    assert len(code) <= 4096
    a, pc, steps = 0, 0, 0
    while True:
        op, jt, jf, k = code[pc]
        steps += 1
        if op == 0x20:
            a = struct.unpack_from("<I", data, k)[0]
        elif op == 0x54:
            a &= k
        elif op == 0x06:
            return k, steps
        elif op == 0x05:
            pc += k
        elif op in (0x15, 0x25, 0x35):
            hit = a == k if op == 0x15 else a > k if op == 0x25 else a >= k
            pc += jt if hit else jf
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
        pc += 1


def default(caps: list[str] | tuple[str, ...] = capabilities.DOCKER_DEFAULT) -> bytes:
    return seccomp.default_program(capabilities.mask(caps))


def call(program: bytes, name: str, *args: int) -> int:
    return run_bpf(program, NR64[name], args)[0]


def test_the_default_profile_allows_the_everyday_calls() -> None:
    prog = default()
    for name in ("read", "write", "openat", "execve", "clone", "futex", "getpid", "exit_group",
                 "rseq", "process_mrelease", "futex_waitv", "chroot", "setuid", "capset",
                 "fchmodat2", "futex_wake", "map_shadow_stack"):
        want = ALLOW
        if name == "clone":
            assert call(prog, name, 0x11) == ALLOW  # fork: SIGCHLD only
            continue
        assert call(prog, name) == want, name


def test_the_default_profile_refuses_what_docker_refuses_with_eperm() -> None:
    prog = default()
    for name in ("unshare", "mount", "umount2", "keyctl", "add_key", "request_key", "bpf",
                 "kexec_load", "reboot", "swapon", "setns", "acct", "settimeofday", "iopl",
                 "open_by_handle_at", "perf_event_open", "userfaultfd", "uselib",
                 "io_uring_setup", "init_module", "kcmp",
                 "get_mempolicy", "pidfd_getfd"):
        assert call(prog, name) == EPERM, name


def test_numbers_above_the_profiles_highest_are_enosys_below_eperm() -> None:
    prog = default()
    assert call(prog, "futex_requeue") == ALLOW  # 456: the highest the profile names here
    assert call(prog, "cachestat") == ALLOW
    assert run_bpf(prog, 457)[0] == ENOSYS     # statmount: newer than the profile
    assert run_bpf(prog, 470)[0] == ENOSYS
    assert run_bpf(prog, 400)[0] == EPERM      # a hole below it
    assert call(prog, "set_mempolicy_home_node") == EPERM  # 450: CAP_SYS_NICE only
    nice = default([*capabilities.DOCKER_DEFAULT, "CAP_SYS_NICE"])
    assert call(nice, "set_mempolicy_home_node") == ALLOW


def test_argument_conditions_compare_both_words() -> None:
    prog = default()
    assert call(prog, "clone", 0x10000000 | 17) == EPERM   # CLONE_NEWUSER
    assert call(prog, "clone", 0x00020000 | 17) == EPERM   # CLONE_NEWNS
    assert call(prog, "clone", 0x003D0F00) == ALLOW        # pthread_create's flags
    assert call(prog, "clone3") == ENOSYS
    for persona in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF):
        assert call(prog, "personality", persona) == ALLOW, hex(persona)
    assert call(prog, "personality", 0x0040000) == EPERM   # ADDR_NO_RANDOMIZE
    assert call(prog, "personality", (1 << 32) | 8) == EPERM  # the high word counts
    assert call(prog, "socket", 2, 1) == ALLOW
    assert call(prog, "socket", 40, 1) == EPERM             # AF_VSOCK
    assert call(prog, "socket", (1 << 32) | 40, 1) == ALLOW  # NE: a different high word


def test_capabilities_widen_the_profile_as_docker_does() -> None:
    admin = default([*capabilities.DOCKER_DEFAULT, "CAP_SYS_ADMIN"])
    for name in ("unshare", "mount", "setns", "bpf", "clone3", "sethostname", "syslog"):
        assert call(admin, name) == ALLOW, name
    assert call(admin, "clone", 0x10000000 | 17) == ALLOW
    assert call(admin, "reboot") == EPERM
    boot = default([*capabilities.DOCKER_DEFAULT, "CAP_SYS_BOOT"])
    assert call(boot, "reboot") == ALLOW
    no_chroot = default([c for c in capabilities.DOCKER_DEFAULT if c != "CAP_SYS_CHROOT"])
    assert call(no_chroot, "chroot") == EPERM
    assert call(default([*capabilities.DOCKER_DEFAULT, "CAP_SYS_PTRACE"]), "kcmp") == ALLOW


def test_the_compat_abis_use_their_own_numbers() -> None:
    prog = default()
    i386 = seccomp.AUDIT_ARCH_I386
    assert run_bpf(prog, NR32["getpid"], arch=i386)[0] == ALLOW
    assert run_bpf(prog, NR32["unshare"], (0x10000000,), arch=i386)[0] == EPERM
    assert run_bpf(prog, NR32["personality"], (0xFFFFFFFF,), arch=i386)[0] == ALLOW
    assert run_bpf(prog, NR32["socketcall"], arch=i386)[0] == ALLOW
    assert NR32["unshare"] == NR64["getpgid"] + 189  # (the numbers differ: 310 vs 121)
    assert run_bpf(prog, NRX32["getpid"])[0] == ALLOW
    assert run_bpf(prog, NRX32["unshare"], (0x10000000,))[0] == EPERM
    assert run_bpf(prog, NRX32["execve"])[0] == ALLOW        # x32's own number (520)
    assert run_bpf(prog, 0x40000000 | 59)[0] == EPERM         # x86_64's execve number: not x32's
    assert run_bpf(prog, 2, arch=0xC00000B7)[0] == KILL       # an aarch64 call: no such ABI here


def test_a_custom_profile_and_its_actions() -> None:
    text = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid", "no_such_call"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
         "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GE"},
                  {"index": 0, "value": 20, "op": "SCMP_CMP_LT"}]},
        {"names": ["dup3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
         "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GE"},
                  {"index": 1, "value": 20, "op": "SCMP_CMP_LT"}]},
        {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
         "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GT"},
                  {"index": 1, "value": 20, "op": "SCMP_CMP_LE"}]},
        {"names": ["dup2"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0xF0, "valueTwo": 0x30, "op": "SCMP_CMP_MASKED_EQ"}]},
    ]})
    prog = seccomp.compile_profile(text, capabilities.DOCKER_DEFAULT)
    assert prog is not None
    assert call(prog, "getpid") == seccomp.RET_ERRNO | 13
    assert call(prog, "getppid") == EPERM
    assert call(prog, "kill") == seccomp.RET_KILL_PROCESS
    # two conditions on one argument are ORed, as runc splits them (dockerd 20.10 refused
    # getpgid 5, 15 and 25 for ">= 10" and "< 20"); on two arguments they are ANDed
    assert {call(prog, "dup", fd) for fd in (9, 10, 19, 20, (1 << 32) | 12)} == \
        {seccomp.RET_ERRNO | 9}
    assert [call(prog, "dup3", a, b) for a, b in ((15, 30), (15, 5), (5, 5), (1 << 32, 5))] == \
        [ALLOW, seccomp.RET_ERRNO | 9, ALLOW, seccomp.RET_ERRNO | 9]
    assert [call(prog, "lseek", a, b) for a, b in ((10, 5), (11, 20), (11, 21), (11, 1 << 32))] == \
        [ALLOW, seccomp.RET_ERRNO | 9, ALLOW, ALLOW]
    assert [call(prog, "dup2", 0, fd) for fd in (0x30, 0x3F, 0x40)] == [EPERM, EPERM, ALLOW]
    assert run_bpf(prog, 460)[0] == ALLOW  # an allowing default: no ENOSYS above
    assert seccomp.compile_profile("{}", []) is None  # nothing set: no filter, as dockerd


@pytest.mark.parametrize(("profile", "message"), [
    ("{bad", ("Decoding seccomp profile failed: invalid character 'b' looking for beginning of "
             "object key string")),
    ('{"defaultAction": "SCMP_ACT_ALLOW",', ("Decoding seccomp profile failed: unexpected end of "
                                             "JSON input")),
    ('{"defaultAction": "SCMP_ACT_BOGUS"}', ("failed to create shim task: OCI runtime create "
     "failed: runc create failed: string SCMP_ACT_BOGUS is not a valid action for seccomp: unknown")),
    ('{"syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]}',
     ("failed to create shim task: OCI runtime create failed: runc create failed: string  is not "
     "a valid action for seccomp: unknown")),
    (('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": '
     '[{"architecture": "SCMP_ARCH_X86_64"}]}'), ("'architectures' and 'archMap' were specified in "
     "the seccomp profile, use either 'architectures' or 'archMap'")),
    (('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "getpid", "names": ["getpid"], '
     '"action": "SCMP_ACT_ERRNO"}]}'), ("'name' and 'names' were specified in the seccomp profile, "
     "use either 'name' or 'names'")),
    (('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": '
     '"SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}'),
     ("failed to create shim task: OCI runtime create failed: runc create failed: unable to start "
     "container process: error creating seccomp syscall condition for syscall getpid: syscalls "
     "only have up to 6 arguments (7 given): unknown")),
    (('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": '
     '"SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}'),
     ("failed to create shim task: OCI runtime create failed: runc create failed: string "
     "SCMP_CMP_BOGUS is not a valid operator for seccomp: unknown")),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_BOGUS"]}',
     ("failed to create shim task: OCI runtime create failed: runc create failed: string "
     "SCMP_ARCH_BOGUS is not a valid arch for seccomp: unknown")),
    (('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": '
     '"SCMP_ACT_NOTIFY"}]}'), ("failed to create shim task: OCI runtime create failed: runc create "
     "failed: unable to start container process: listenerPath is not set: unknown")),
])
def test_refusals_in_dockerd_and_runcs_words(profile: str, message: str) -> None:
    """The words dockerd 20.10 (with runc 1.1) answered to the same profiles' start."""
    with pytest.raises(seccomp.ProfileError) as caught:
        seccomp.compile_profile(profile, capabilities.DOCKER_DEFAULT)
    assert str(caught.value) == message


def test_a_syscall_costs_a_binary_search_not_a_scan() -> None:
    prog = default()
    steps = [run_bpf(prog, nr)[1] for nr in range(470)]
    assert max(steps) <= 24  # arch check, ~log2(ranges) and personality's five rules at most
    many = json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": [name], "action": "SCMP_ACT_ALLOW" if nr % 2 else "SCMP_ACT_TRAP"}
        for name, nr in NR64.items()]})
    prog = seccomp.compile_profile(many, [])
    assert prog is not None  # alternating outcomes: ~470 ranges, far jumps widened
    for name, nr in NR64.items():
        want = ALLOW if nr % 2 else seccomp.RET_TRAP
        assert run_bpf(prog, nr)[0] == want, name
    assert max(run_bpf(prog, nr)[1] for nr in NR64.values()) <= 40


@pytest.mark.parametrize("unconditional_first", [True, False])
def test_an_unconditional_rule_wins_over_conditioned_ones(unconditional_first: bool) -> None:
    """As libseccomp merges them (dockerd 20.10 answered 13 for every argument, either order)."""
    plain = {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
    conditioned = {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                   "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}
    rules = [plain, conditioned] if unconditional_first else [conditioned, plain]
    prog = seccomp.compile_profile(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                               "syscalls": rules}), [])
    assert prog is not None
    assert {call(prog, "getpgid", pid) for pid in (0, 5, 7)} == {seccomp.RET_ERRNO | 13}


def _rule(errno: int, op: str, value: int, two: int = 0) -> dict[str, object]:
    return {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno,
            "args": [{"index": 0, "value": value, "valueTwo": two, "op": op}]}


@pytest.mark.parametrize(("first", "second", "answers"), [  # dockerd 20.10 (libseccomp 2.5)
    (_rule(13, "SCMP_CMP_GE", 10), _rule(22, "SCMP_CMP_EQ", 15), {5: 0, 15: 22, 25: 13}),
    (_rule(22, "SCMP_CMP_EQ", 15), _rule(13, "SCMP_CMP_GE", 10), {5: 0, 15: 22, 25: 13}),
    (_rule(13, "SCMP_CMP_GE", 10), _rule(22, "SCMP_CMP_GT", 14), {12: 13, 15: 22, 40: 22}),
    (_rule(13, "SCMP_CMP_MASKED_EQ", 0xF0, 0x10), _rule(22, "SCMP_CMP_GE", 10),
     {5: 0, 12: 22, 20: 13, 21: 13, 40: 22}),
    (_rule(22, "SCMP_CMP_GE", 10), _rule(13, "SCMP_CMP_MASKED_EQ", 0xF0, 0x10),
     {5: 0, 12: 22, 20: 13, 21: 13, 40: 22}),
    (_rule(13, "SCMP_CMP_LT", 30), _rule(22, "SCMP_CMP_GE", 10), {5: 13, 12: 13, 40: 22}),
    (_rule(13, "SCMP_CMP_NE", 20), _rule(22, "SCMP_CMP_GE", 10), {5: 13, 12: 13, 20: 22, 40: 13}),
])
def test_overlapping_conditioned_rules_decide_as_libseccomps(
        first: dict[str, object], second: dict[str, object], answers: dict[int, int]) -> None:
    prog = seccomp.compile_profile(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                               "syscalls": [first, second]}), [])
    assert prog is not None
    got = {pid: call(prog, "getpgid", pid) for pid in answers}
    assert got == {pid: ALLOW if e == 0 else seccomp.RET_ERRNO | e for pid, e in answers.items()}
