"""The persistent interpreter that runs inside the sandbox (standard library only).

It reads length-prefixed JSON requests `{"code": ...}` and answers each with
`{"stdout", "stderr", "value", "error", "clean"}`. Between calls it makes sure nothing
the code started survives: other processes of the sandbox are killed, and if the code
left threads running, the interpreter forks and carries on in the thread-free child.
The same fork renews the per-call CPU budget once the process has used some of it.
"""

from __future__ import annotations

import _thread
import ast
import io
import json
import linecache
import os
import resource
import signal
import struct
import sys
import time
import types

TYPE_CHECKING = False  # neither typing nor traceback is imported at the start: each lengthens it
if TYPE_CHECKING:
    import traceback
    from collections.abc import Callable
    from typing import Any, NoReturn

_HEADER = struct.Struct(">I")
_CPU_RENEW_AFTER = 1.0  # seconds of CPU after which the next call starts in a fresh process
_SWEEP_SECONDS = 2.0


def receive(fd: int) -> dict[str, Any] | None:
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(header)[0])
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


def send(fd: int, message: dict[str, Any]) -> None:
    data = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class _Stream(io.TextIOBase):
    """sys.stdout / sys.stderr: writes go to the captured file descriptor until the cap,
    after which they are only counted."""

    encoding = "utf-8"

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__()
        self._fd = fd
        self._cap = cap
        self.kept = 0
        self.dropped = 0

    def reset(self) -> None:
        self.kept = self.dropped = 0

    def write(self, s: str) -> int:
        data = s.encode("utf-8", "backslashreplace")
        room = self._cap - self.kept
        if room > 0:
            try:
                written = os.write(self._fd, data[:room])
            except OSError:
                written = 0
            self.kept += written
            self.dropped += len(data) - written
        else:
            self.dropped += len(data)
        return len(s)

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def buffer(self) -> _Bytes:
        return _Bytes(self)


class _Bytes(io.RawIOBase):
    """`sys.stdout.buffer`: bytes written through the same cap."""

    def __init__(self, stream: _Stream) -> None:
        super().__init__()
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._stream.write(data.decode("utf-8", "replace"))
        return len(data)

    def fileno(self) -> int:
        return self._stream.fileno()


def _capture_fd(name: str) -> int:
    try:
        return os.memfd_create(name)
    except (AttributeError, OSError):  # refused where no control group counts it
        pass
    import tempfile

    with tempfile.TemporaryFile() as f:
        return os.dup(f.fileno())


class Session:
    def __init__(self, reply_fd: int, lifeline: int | None, config: dict[str, Any]) -> None:
        self.reply_fd = reply_fd
        self.lifeline = lifeline
        self.isolated: bool = config["isolated"]
        self.limits: dict[str, Any] = config["limits"]
        self.cap: int = self.limits["max_output"]
        self.pid = os.getpid()
        self.cell = 0
        self.forking = False
        self.threaded = False
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        self.namespace: dict[str, Any] = main.__dict__
        self.streams = self._capture()

    def _capture(self) -> tuple[_Stream, _Stream]:
        """Private files that receive fds 1 and 2 (so subprocesses' output too)."""
        self.fds = (_capture_fd("stdout"), _capture_fd("stderr"))
        return _Stream(self.fds[0], self.cap), _Stream(self.fds[1], self.cap)

    def announce(self) -> None:
        """Tell the supervisor which process is now the interpreter."""
        if self.lifeline is not None:
            os.write(self.lifeline, struct.pack("=i", self.pid))

    def after_fork_in_child(self) -> None:
        """In a child the user's code forked: it must not keep the lifeline open."""
        if self.lifeline is not None and not self.forking:
            try:
                os.close(self.lifeline)
            except OSError:
                pass
            self.lifeline = None

    def renew(self) -> None:
        """Carry on in a fresh child process: it has one thread and a new CPU budget."""
        self.forking = True
        if os.fork():
            os._exit(0)
        self.forking = False
        self.pid = os.getpid()
        self.announce()

    def cpu_used(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def serve(self, request_fd: int) -> NoReturn:
        send(self.reply_fd, {"ready": True, "pid": self.pid})
        while True:
            request = receive(request_fd)
            if request is None:
                os._exit(0)
            if self.isolated and self.cpu_used() > _CPU_RENEW_AFTER:
                self.renew()
            reply = self.run(str(request.get("code", "")))
            reply["clean"] = self.clean_up()
            reply["pid"] = self.pid  # the host keeps this process and the supervisor only
            send(self.reply_fd, reply)

    def run(self, code: str) -> dict[str, Any]:
        self.cell += 1
        name = f"<cell {self.cell}>"
        self._begin()
        value: str | None = None
        error: str | None = None
        try:
            value = self._execute(code, name)
        except BaseException as exc:  # the user's code failing is a normal outcome
            error = self._describe(exc)
        finally:
            if os.getpid() != self.pid:
                os._exit(0)  # a child the user's code forked must not answer
        out, err = self._collect()
        return {"stdout": out, "stderr": err, "value": value, "error": error}

    def _begin(self) -> None:
        sys.stdout, sys.stderr = self.streams
        for stream, fd, target in zip(self.streams, self.fds, (1, 2)):
            stream.reset()
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.dup2(fd, target)

    def _execute(self, code: str, name: str) -> str | None:
        source = code if code.endswith("\n") else code + "\n"
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        tree = ast.parse(source, name, "exec")
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr):
            tree.body.pop()
        exec(compile(tree, name, "exec"), self.namespace)
        if not isinstance(last, ast.Expr):
            return None
        result = eval(compile(ast.Expression(last.value), name, "eval"), self.namespace)
        if result is None:
            return None
        self.namespace["_"] = result
        return self._cut(repr(result), "of the value")

    def _describe(self, exc: BaseException) -> str:
        """The traceback with the user's cells' frames only: no frames of this file, of
        the standard library or of packages, so no paths outside the sandbox's own."""
        import traceback

        try:
            described = traceback.TracebackException.from_exception(exc)
            _keep_cells(described, set())
            text = "".join(described.format())
        except BaseException:
            text = f"{type(exc).__name__} (its traceback could not be formatted)\n"
        return self._cut(text, "of the traceback")

    def _cut(self, text: str, what: str) -> str:
        if len(text) <= self.cap:
            return text
        return f"{text[:self.cap]}… [{len(text) - self.cap} more characters {what} cut]"

    def _collect(self) -> tuple[str, str]:
        for original in (sys.__stdout__, sys.__stderr__):  # they write to fds 1 and 2
            try:
                if original is not None:
                    original.flush()
            except Exception:
                pass
        texts = []
        for stream, fd, label in zip(self.streams, self.fds, ("stdout", "stderr")):
            try:
                stream.flush()
                size = os.fstat(fd).st_size
                data = os.pread(fd, min(size, self.cap), 0)
            except OSError:
                size, data = 0, b""
            text = data.decode("utf-8", "replace")
            more = size - len(data) + stream.dropped
            if more > 0:
                text += f"… [{more} more bytes of {label} cut]"
            texts.append(text)
        return texts[0], texts[1]

    def clean_up(self) -> bool:
        """Stop whatever the call left running. False if some process would not stop.
        (The host counts again from outside once the sandbox is frozen.)"""
        if not self.isolated:
            return True
        stopped = self._stop_other_processes()
        if self.threaded or _thread._count() > 0:
            self.threaded = False
            self.renew()  # a thread may still run or exit: carry on in a process of one thread
        return stopped

    def watch_threads(self) -> None:
        """Note every thread the code starts through the interpreter (the threading
        module takes these functions when first imported, which is after this). A thread
        started another way keeps the interpreter at more than one thread: the host sees
        that and resets the sandbox."""
        for name in ("start_new_thread", "start_new", "start_joinable_thread"):
            original = getattr(_thread, name, None)
            if original is not None:
                setattr(_thread, name, self._noting(original))

    def _noting(self, start: Callable[..., Any]) -> Callable[..., Any]:
        def started(*args: Any, **kwargs: Any) -> Any:
            self.threaded = True
            return start(*args, **kwargs)
        return started

    def _stop_other_processes(self) -> bool:
        """Kill every process of the sandbox but PID 1 and this one, until none is left
        to signal (the sandbox has no /proc to list them: `kill(-1, 0)` finds them)."""
        deadline = time.monotonic() + _SWEEP_SECONDS
        while True:
            self._reap()
            try:
                os.kill(-1, 0)
            except ProcessLookupError:
                return True
            except OSError:
                pass
            if time.monotonic() > deadline:
                return False
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.001)

    @staticmethod
    def _reap() -> None:
        """Reap this process's own children that ended (PID 1 reaps the others)."""
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    return
            except OSError:
                return


def _keep_cells(described: traceback.TracebackException, seen: set[int]) -> None:
    if id(described) in seen:
        return
    seen.add(id(described))
    frames = [f for f in described.stack if f.filename.startswith("<cell ")]
    described.stack = type(described.stack).from_list(frames)
    for linked in (described.__cause__, described.__context__):
        if linked is not None:
            _keep_cells(linked, seen)


def serve(request_fd: int, reply_fd: int, lifeline: int | None, config: dict[str, Any]) -> NoReturn:
    """Run the interpreter; never returns."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path[:] = [p for p in sys.path if not p.startswith(os.path.dirname(__file__))]
    sys.path.extend(config["paths"])
    session = Session(reply_fd, lifeline, config)
    os.register_at_fork(after_in_child=session.after_fork_in_child)
    if session.isolated:
        session.watch_threads()
        cpu = session.limits["cpu_seconds"] + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    session.announce()
    session.serve(request_fd)
