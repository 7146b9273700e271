"""The sandbox's first process (standard library only): `python -I -S worker.py CONFIG`.

Isolated, it is PID 1 of the sandbox's PID namespace. It drops to an unprivileged uid when
started as root, sets the resource limits, forks the interpreter (`repl.py`) and then only
supervises: it reaps orphans, follows which process is the interpreter through a
"lifeline" pipe (the interpreter re-forks itself at times), and exits when the interpreter
is gone or the host closes its end of the request pipe. Its exit ends every process in the
namespace; its exit status carries the interpreter's (128 + signal number, or exit code).

Unisolated, it runs the interpreter in this very process.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import select
import signal
import struct
import sys

TYPE_CHECKING = False  # typing is not imported when this runs: each import lengthens the start
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from tools.python import repl
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import repl

_MIB = 1024 * 1024
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_RLIMIT_LOCKS = 10  # Linux; not exported by the resource module
_PR_CAP_AMBIENT_IS_SET = 1
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_PID = struct.Struct("=i")


def drop_privileges(uid: int, gid: int, groups: list[int]) -> None:
    """From root to `uid`: empties the capability bounding set, then changing uid clears
    the permitted and effective sets; `clear_capabilities` does the rest."""
    _drop_bounding_set()
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
        raise SystemExit("could not drop privileges")


def clear_capabilities() -> None:
    """Empty every capability set that is not empty yet: inheritable and ambient too
    (what is left in them could come back through a file's capabilities)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capget(header, data) != 0:
        raise SystemExit("could not read the capability sets")
    data[2] = data[5] = 0  # inheritable, both words
    if libc.capset(header, data) != 0:
        raise SystemExit("could not clear the inheritable capabilities")
    data = (ctypes.c_uint32 * 6)()  # read back (the sandbox has no /proc to read them from)
    if libc.capget(header, data) != 0 or any(data):
        raise SystemExit("capabilities remain after dropping privileges")
    if any(libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1 for cap in range(64)):
        raise SystemExit("ambient capabilities remain after dropping privileges")


def _prctl(option: int, value: int) -> int:
    """prctl(2); 0 on success, else the errno."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return 0 if libc.prctl(option, value, 0, 0, 0) == 0 else ctypes.get_errno()


def _drop_bounding_set() -> None:
    for cap in range(64):
        failure = _prctl(_PR_CAPBSET_DROP, cap)
        if failure == errno.EINVAL:  # past the last capability
            return
        if failure:
            raise SystemExit(f"could not drop capability {cap} from the bounding set")


def set_limits(limits: dict[str, Any], *, isolated: bool) -> None:
    """Every resource limit, set explicitly rather than inherited from the host."""
    wanted = [
        (resource.RLIMIT_AS, limits["memory_mb"] * _MIB),
        (resource.RLIMIT_DATA, limits["memory_mb"] * _MIB),
        (resource.RLIMIT_RSS, limits["memory_mb"] * _MIB),  # not enforced by Linux; pinned all the same
        (resource.RLIMIT_STACK, 8 * _MIB),
        (resource.RLIMIT_FSIZE, limits["file_size_mb"] * _MIB),
        (resource.RLIMIT_NOFILE, limits["open_files"]),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 64 * 1024),
        (resource.RLIMIT_MSGQUEUE, 0),
        (resource.RLIMIT_SIGPENDING, 64 * limits["processes"]),
        (_RLIMIT_LOCKS, limits["open_files"]),
        (resource.RLIMIT_RTPRIO, 0),
        (resource.RLIMIT_RTTIME, 0),
        (resource.RLIMIT_NICE, 0),
        (resource.RLIMIT_CPU, resource.RLIM_INFINITY),  # the interpreter sets its own per call
    ]
    if isolated:  # counted per user: only meaningful for the sandbox's own uid
        wanted.append((resource.RLIMIT_NPROC, limits["processes"]))
    for which, value in wanted:
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            if isolated:
                raise


def _protocol_fds() -> tuple[int, int]:
    """Move the request/reply pipes off 0 and 1 (close-on-exec); stdin reads nothing."""
    request, reply = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return request, reply


class Supervisor:
    def __init__(self, request_fd: int, lifeline: int, interpreter: int) -> None:
        self.request_fd = request_fd
        self.lifeline = lifeline
        self.interpreter = interpreter
        self.statuses: dict[int, int] = {}
        self.pending = b""

    def reap(self, *_: object) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if len(self.statuses) > 256:
                self.statuses.clear()
            self.statuses[pid] = status

    def run(self) -> NoReturn:
        signal.signal(signal.SIGCHLD, self.reap)
        poller = select.poll()
        poller.register(self.lifeline, select.POLLIN)
        poller.register(self.request_fd, 0)  # reports only POLLHUP: the host went away
        while True:
            for fd, _ in poller.poll():
                if fd == self.request_fd:
                    os._exit(0)
                if not self._follow():
                    self._finish()

    def _follow(self) -> bool:
        data = os.read(self.lifeline, 4096)
        if not data:
            return False
        self.pending += data
        while len(self.pending) >= _PID.size:
            self.interpreter = _PID.unpack(self.pending[:_PID.size])[0]
            self.pending = self.pending[_PID.size:]
        return True

    def _finish(self) -> NoReturn:
        """The interpreter is gone: exit with its status, which ends the sandbox."""
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.reap()
        status = self.statuses.get(self.interpreter)
        if status is None:
            try:
                status = os.waitpid(self.interpreter, 0)[1]
            except ChildProcessError:
                os._exit(70)
        if os.WIFSIGNALED(status):
            os._exit(128 + os.WTERMSIG(status))
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def main(argv: list[str]) -> NoReturn:
    config: dict[str, Any] = json.loads(argv[1])
    request, reply = _protocol_fds()
    isolated: bool = config["isolated"]
    if config.get("uid") is not None:
        drop_privileges(config["uid"], config["gid"], config["groups"])
    if isolated:
        clear_capabilities()
    set_limits(config["limits"], isolated=isolated)
    if not isolated:
        repl.serve(request, reply, None, config)
    if _prctl(_PR_SET_DUMPABLE, 0):  # the code may not read or write this process's memory
        raise SystemExit("could not make the supervisor undumpable")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lifeline_r, lifeline_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(lifeline_r)
        repl.serve(request, reply, lifeline_w, config)
    os.close(lifeline_w)
    os.close(reply)
    Supervisor(request, lifeline_r, pid).run()


if __name__ == "__main__":
    main(sys.argv)
