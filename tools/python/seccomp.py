"""A classic-BPF seccomp filter for the sandbox, handed to bubblewrap with `--seccomp FD`.

The filter refuses:
- sockets of any family but AF_UNIX (EAFNOSUPPORT), so no network even if the network
  namespace were shared;
- new namespaces (`unshare`, `setns`, `clone` with a CLONE_NEW* flag) and `clone3`, whose
  flags a classic filter cannot read (ENOSYS, so the C library falls back to `clone`);
- mounting, `ptrace`, kernel keyrings, BPF, perf events, io_uring (which would bypass
  the socket check), module loading and a few more syscalls no Python code needs;
- system calls of another ABI (x32, or 32-bit calls from a 64-bit process);
- with `refuse_shared_memory` (where no control group bounds the sandbox's memory):
  `memfd_create`, `memfd_secret` and `shmget`, memory no per-process limit counts.
"""

from __future__ import annotations

import errno
import platform
import socket
import struct
from dataclasses import dataclass

# struct sock_filter opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

# offsets in struct seccomp_data
_NR = 0
_ARCH = 4
_ARG0_LOW = 16  # little-endian: the low 32 bits of args[0]

_X32_SYSCALL_BIT = 0x40000000
_CLONE_NEW_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)


@dataclass(frozen=True)
class _Arch:
    audit: int
    socket: int
    socketpair: int
    clone: int
    clone3: int
    denied: dict[str, int]
    shared_memory: dict[str, int]
    has_x32: bool = False


_X86_64 = _Arch(
    audit=0xC000003E, socket=41, socketpair=53, clone=56, clone3=435, has_x32=True,
    denied={
        "ptrace": 101, "syslog": 103, "uselib": 134, "pivot_root": 155, "_sysctl": 156,
        "chroot": 161, "acct": 163, "mount": 165, "umount2": 166, "swapon": 167,
        "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173, "init_module": 175,
        "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212, "kexec_load": 246,
        "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
        "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304,
        "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
        "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    },
    shared_memory={"shmget": 29, "memfd_create": 319, "memfd_secret": 447},
)

_AARCH64 = _Arch(
    audit=0xC00000B7, socket=198, socketpair=199, clone=220, clone3=435,
    denied={
        "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51, "quotactl": 60,
        "acct": 89, "unshare": 97, "kexec_load": 104, "init_module": 105,
        "delete_module": 106, "syslog": 116, "ptrace": 117, "reboot": 142,
        "add_key": 217, "request_key": 218, "keyctl": 219, "swapon": 224, "swapoff": 225,
        "perf_event_open": 241, "name_to_handle_at": 264, "open_by_handle_at": 265,
        "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271,
        "finit_module": 273, "bpf": 280, "userfaultfd": 282, "kexec_file_load": 294,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    },
    shared_memory={"shmget": 194, "memfd_create": 279, "memfd_secret": 447},
)

_ARCHES = {"x86_64": _X86_64, "amd64": _X86_64, "aarch64": _AARCH64, "arm64": _AARCH64}


class _Program:
    """A tiny assembler: instructions with forward jumps to named labels."""

    def __init__(self) -> None:
        self._code: list[tuple[int, int | str, int | str, int]] = []
        self._labels: dict[str, int] = {}

    def load(self, offset: int) -> None:
        self._code.append((_LD_W_ABS, 0, 0, offset))

    def jump(self, op: int, k: int, true: int | str = 0, false: int | str = 0) -> None:
        self._code.append((op, true, false, k))

    def ret(self, value: int) -> None:
        self._code.append((_RET_K, 0, 0, value))

    def label(self, name: str) -> None:
        self._labels[name] = len(self._code)

    def assemble(self) -> bytes:
        out = bytearray()
        for index, (op, jt, jf, k) in enumerate(self._code):
            out += struct.pack("=HBBI", op, self._offset(index, jt), self._offset(index, jf), k)
        return bytes(out)

    def _offset(self, index: int, target: int | str) -> int:
        if isinstance(target, int):
            return target
        offset = self._labels[target] - index - 1
        if not 0 <= offset <= 255:
            raise ValueError(f"seccomp jump to {target} out of range")
        return offset


def _errno(code: int) -> int:
    return _RET_ERRNO | code


def build_filter(arch: str | None = None, *, refuse_shared_memory: bool = False) -> bytes | None:
    """The filter for `arch` (default: this machine), or None for an unknown architecture."""
    spec = _ARCHES.get((arch or platform.machine()).lower())
    if spec is None:
        return None
    p = _Program()
    p.load(_ARCH)
    p.jump(_JEQ_K, spec.audit, 0, "kill")
    p.load(_NR)
    if spec.has_x32:
        p.jump(_JGE_K, _X32_SYSCALL_BIT, "eperm", 0)
    denied = set(spec.denied.values())
    if refuse_shared_memory:
        denied |= set(spec.shared_memory.values())
    for number in sorted(denied):
        p.jump(_JEQ_K, number, "eperm", 0)
    p.jump(_JEQ_K, spec.clone3, "enosys", 0)
    p.jump(_JEQ_K, spec.socket, "socket", 0)
    p.jump(_JEQ_K, spec.socketpair, "socket", 0)
    p.jump(_JEQ_K, spec.clone, "clone", 0)
    p.ret(_RET_ALLOW)
    p.label("socket")
    p.load(_ARG0_LOW)
    p.jump(_JEQ_K, socket.AF_UNIX, "allow", 0)
    p.ret(_errno(errno.EAFNOSUPPORT))
    p.label("clone")
    p.load(_ARG0_LOW)
    p.jump(_JSET_K, _CLONE_NEW_FLAGS, "eperm", 0)
    p.label("allow")
    p.ret(_RET_ALLOW)
    p.label("eperm")
    p.ret(_errno(errno.EPERM))
    p.label("enosys")
    p.ret(_errno(errno.ENOSYS))
    p.label("kill")
    p.ret(_RET_KILL_PROCESS)
    return p.assemble()
