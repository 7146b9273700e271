"""The training child ends when its parent is killed, instead of training on to the end
of its epoch with nobody reading its progress."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers.processes import alive

PARENT = textwrap.dedent("""
    import subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", "import os, time\\n"
                              "from agent.training.worker import exit_with_parent\\n"
                              "exit_with_parent(0.05)\\n"
                              "print(os.getpid(), flush=True)\\n"
                              "time.sleep(120)"])
    child.wait()
""")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_the_child_ends_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 60
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    outlived = alive(child)
    if outlived:
        os.kill(child, 9)
    assert not outlived, "the child outlived its parent"


def test_the_child_stays_while_its_parent_lives() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time\nfrom agent.training.worker import exit_with_parent\n"
                              "exit_with_parent(0.01)\ntime.sleep(0.5)\nprint('still here')"],
                             stdout=subprocess.PIPE, text=True)
    out, _ = child.communicate(timeout=60)
    assert out.strip() == "still here" and child.returncode == 0
