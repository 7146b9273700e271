"""The worker threads that run sync tools: values, exceptions, time limits, abandoned
calls, forks, and where the threads a tool starts may run."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from agent.workers import CallTimeout, Workers


def test_a_call_returns_the_value_or_raises_the_exception_of_the_function() -> None:
    workers = Workers()

    def divide(a: int, b: int) -> float:
        return a / b

    assert workers.call(divide, {"a": 6, "b": 3}, 5) == 2.0
    with pytest.raises(ZeroDivisionError):
        workers.call(divide, {"a": 1, "b": 0}, 5)
    assert len(workers._idle) == 1, "one worker serves calls made one after another"


def test_a_call_past_its_limit_is_abandoned_and_its_worker_is_free_again_when_it_ends() -> None:
    workers = Workers()
    release = threading.Event()
    ended = threading.Event()

    def stuck() -> str:
        release.wait(10)
        ended.set()
        return "late"

    started = time.monotonic()
    with pytest.raises(CallTimeout):
        workers.call(stuck, {}, 0.2)
    assert time.monotonic() - started < 5
    assert workers.call(lambda: "next", {}, 5) == "next", "a stuck worker holds up no later call"
    assert len(workers._idle) == 1
    release.set()
    assert ended.wait(5)
    deadline = time.monotonic() + 5
    while len(workers._idle) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(workers._idle) == 2, "the abandoned worker is given back once its call ends"
    assert [workers.call(lambda i=i: i, {}, 5) for i in range(4)] == [0, 1, 2, 3]


def test_an_interrupted_wait_leaves_the_call_running_and_later_calls_unharmed() -> None:
    workers = Workers()
    release = threading.Event()
    waiting = threading.Event()

    def slow() -> str:
        waiting.set()
        release.wait(10)
        return "slow"

    def interrupt() -> None:
        waiting.wait(5)
        os.kill(os.getpid(), 2)  # SIGINT: a Ctrl-C while the caller waits

    threading.Thread(target=interrupt, daemon=True).start()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever this process inherited
    try:
        with pytest.raises(KeyboardInterrupt):
            workers.call(slow, {}, 30)
    finally:
        signal.signal(signal.SIGINT, previous)
    release.set()
    assert workers.call(lambda: "after", {}, 5) == "after"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_workers() -> None:
    from agent.workers import WORKERS

    assert WORKERS.call(lambda: 1, {}, 5) == 1  # the parent has an idle worker
    child = os.fork()
    if child == 0:
        try:
            ok = WORKERS.call(lambda: 2, {}, 5) == 2
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs CPU affinity")
def test_what_a_tool_starts_may_run_on_every_cpu_its_caller_may() -> None:
    workers = Workers()
    caller = os.sched_getaffinity(0)

    def cpus_of_a_new_thread() -> set[int]:
        seen: list[set[int]] = []
        thread = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
        thread.start()
        thread.join()
        return seen[0]

    for _ in range(3):  # the worker is placed on the caller's CPU before each call
        assert workers.call(cpus_of_a_new_thread, {}, 5) == caller
        assert workers.call(lambda: os.sched_getaffinity(0), {}, 5) == caller


def test_a_default_socket_timeout_set_by_the_program_does_not_end_an_idle_worker() -> None:
    import socket

    socket.setdefaulttimeout(0.05)
    try:
        workers = Workers()
        assert workers.call(lambda: 1, {}, 5) == 1
    finally:
        socket.setdefaulttimeout(None)
    time.sleep(0.2)  # idle past that timeout
    assert workers.call(lambda: 2, {}, 5) == 2
    assert len(workers._idle) == 1, "the same worker served both calls"


def test_a_limit_of_zero_or_less_waits_for_nothing_and_a_huge_one_for_the_end() -> None:
    workers = Workers()
    for limit in (0, -1):
        started = time.monotonic()
        with pytest.raises(CallTimeout):
            workers.call(lambda: time.sleep(0.5), {}, limit)
        assert time.monotonic() - started < 0.4
    assert workers.call(lambda: "done", {}, 10**9) == "done"
