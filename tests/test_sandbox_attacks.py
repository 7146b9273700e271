"""Hostile code against the Python sandbox. Each attack is judged by what the host sees:
files unchanged or not created, listeners that received nothing, signals never
delivered, no process left running; not only by what the sandbox prints."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.python import SandboxLimits, Sandbox
from helpers.processes import alive, host_processes_with, settled

pytestmark = pytest.mark.timeout(300)

SECRET = "sk-interleaf-" + secrets.token_hex(16)


@pytest.fixture
def sb(isolation: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv("INTERLEAF_FAKE_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with Sandbox(limits=SandboxLimits(timeout=30)) as box:
        box.start()
        yield box


def everything(sb: Sandbox, code: str) -> str:
    """All the sandbox returned for `code`, for looking for leaks."""
    result = sb.run(code)
    return "\n".join(filter(None, (result.stdout, result.stderr, result.value, result.error, result.reset)))




def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- secrets -----------------------------------------------------------------------


def test_environment_secrets_do_not_reach_the_code(sb: Sandbox) -> None:
    assert os.environ["INTERLEAF_FAKE_API_KEY"] == SECRET
    out = everything(sb, (
        "import os, glob\nseen = repr(dict(os.environ))\n"
        "for p in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline'):\n"
        "    try: seen += open(p, 'rb').read().decode('latin-1')\n    except OSError: pass\n"
        "print(seen)"
    ))
    assert "HOME" in out and SECRET not in out
    for pid in sb.host_processes():  # and as the host sees the sandbox's processes
        assert SECRET.encode() not in Path(f"/proc/{pid}/environ").read_bytes()


def test_home_directory_and_ssh_keys_are_absent(sb: Sandbox) -> None:
    home = Path.home()
    python_root = Path(sys.base_prefix).resolve()
    hidden = [p for p in home.iterdir() if not python_root.is_relative_to(p)] if home.is_dir() else []
    code = f"import os\n[p for p in {[str(p) for p in hidden]!r} if os.path.lexists(p)]"
    assert sb.run(code).value == "[]"
    value = sb.run("import os; [os.path.exists(os.path.expanduser(p)) for p in ('~/.ssh', '/root/.ssh', '/home')]").value
    assert value == "[False, False, False]"


def test_system_secrets_are_absent(sb: Sandbox) -> None:
    out = everything(sb, (
        "import os\nfor p in ('/etc/shadow', '/etc/passwd', '/etc/hostname', '/etc/ssh', '/run', '/var', '/sys', '/boot'):\n"
        "    print(p, os.path.exists(p))"
    ))
    assert out.split() == [w for p in ("/etc/shadow", "/etc/passwd", "/etc/hostname", "/etc/ssh", "/run", "/var", "/sys", "/boot") for w in (p, "False")]
    shadow = Path("/etc/shadow")
    if shadow.exists():
        first = shadow.read_text().split(":")[0]
        assert first not in everything(sb, "open('/etc/shadow').read()")


def test_files_of_the_host_cannot_be_read(sb: Sandbox, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    out = everything(sb, f"open({str(secret_file)!r}).read()")
    assert "FileNotFoundError" in out and SECRET not in out
    assert "FileNotFoundError" in everything(sb, f"import os; os.listdir({str(tmp_path.parent)!r})")


def test_processes_of_the_host_cannot_be_seen(sb: Sandbox) -> None:
    out = everything(sb, (
        "import os\nprint(os.path.exists('/proc'), os.getpid())\n"
        f"try: os.kill({os.getpid()}, 0)\nexcept ProcessLookupError: print('no such process')"
    ))
    assert out.split("\n")[:2] == ["False 2", "no such process"]
    assert "FileNotFoundError" in everything(sb, "open('/proc/1/mem', 'r+b')")


# --- writing outside the work directory --------------------------------------------------


def test_host_files_cannot_be_written_or_deleted(sb: Sandbox, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    stdlib_os = Path(os.__file__).resolve()
    before = digest(stdlib_os)
    code = (
        "import os, shutil\nresults = []\n"
        "for attempt in (\n"
        f"    lambda: open({str(victim)!r}, 'w').write('pwned'),\n"
        f"    lambda: os.remove({str(victim)!r}),\n"
        f"    lambda: open({str(stdlib_os)!r}, 'a').write('pwned'),\n"
        f"    lambda: os.remove({str(stdlib_os)!r}),\n"
        f"    lambda: os.chmod({str(stdlib_os)!r}, 0o777),\n"
        "    lambda: open('/usr/lib/interleaf-pwned', 'w'),\n"
        "    lambda: open('/pwned', 'w'),\n"
        "    lambda: os.mkdir('/opt/pwned'),\n"
        "):\n"
        "    try: attempt(); results.append('done')\n"
        "    except OSError as e: results.append(type(e).__name__)\n"
        "results"
    )
    value = sb.run(code).value or ""
    assert "done" not in value
    assert victim.read_text() == "original"
    assert digest(stdlib_os) == before
    assert not Path("/usr/lib/interleaf-pwned").exists()


def test_files_written_in_tmp_stay_in_the_sandbox(sb: Sandbox) -> None:
    name = f"interleaf-escape-{secrets.token_hex(8)}"
    assert sb.run(f"open('/tmp/{name}', 'w').write('x'); open('/work/{name}', 'w').write('x')").ok
    assert not (Path("/tmp") / name).exists()
    assert not list(Path("/").glob(f"*/{name}"))


def test_symlink_escapes(isolation: None, tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    folder.chmod(0o777)
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET)
    (folder / "link").symlink_to(outside)
    (folder / "dir-link").symlink_to(tmp_path)
    with Sandbox(workdir=folder) as sb:
        read = everything(sb, "open('link').read()")
        assert SECRET not in read and "FileNotFoundError" in read
        assert SECRET not in everything(sb, "open('dir-link/outside.txt').read()")
        write = everything(sb, "open('link', 'w').write('pwned')")
        assert "FileNotFoundError" in write
        out = everything(sb, (
            "import os\nos.symlink('/', 'root-link')\nos.symlink('/etc/shadow', 'shadow')\n"
            "print(os.path.exists('root-link/etc/shadow'), os.path.exists('shadow'))\n"
            "try: os.link('/usr/lib/os-release', 'hard')\nexcept OSError as e: print(type(e).__name__)\n"
            "open('../etc/passwd', 'w')"
        ))
        assert out.startswith("False False\n")
        assert "Read-only file system" in out
    assert outside.read_text() == SECRET


# --- network -------------------------------------------------------------------------------


def test_no_tcp_or_udp_to_the_host(sb: Sandbox) -> None:
    with socket.socket() as listener, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        udp.bind(("127.0.0.1", 0))
        udp.setblocking(False)
        tcp_port, udp_port = listener.getsockname()[1], udp.getsockname()[1]
        out = everything(sb, (
            "import socket\n"
            "for family, kind, port in ((socket.AF_INET, socket.SOCK_STREAM, %d), "
            "(socket.AF_INET, socket.SOCK_DGRAM, %d), (socket.AF_INET6, socket.SOCK_STREAM, %d)):\n"
            "    try:\n"
            "        s = socket.socket(family, kind)\n"
            "        s.settimeout(2)\n"
            "        s.connect(('127.0.0.1' if family == socket.AF_INET else '::1', port)); s.send(b'x')\n"
            "        print('connected')\n"
            "    except OSError as e: print(e.errno)"
        ) % (tcp_port, udp_port, tcp_port))
        assert "connected" not in out
        assert out.split() == ["97", "97", "97"]  # EAFNOSUPPORT, from the seccomp filter
        with pytest.raises(BlockingIOError):
            listener.accept()
        with pytest.raises(BlockingIOError):
            udp.recv(10)


def test_no_dns_and_no_raw_or_netlink_sockets(sb: Sandbox) -> None:
    out = everything(sb, (
        "import socket\n"
        "try: print(socket.getaddrinfo('example.com', 80))\nexcept OSError as e: print('dns', type(e).__name__)\n"
        "for family, kind in ((socket.AF_PACKET, socket.SOCK_RAW), (socket.AF_NETLINK, socket.SOCK_RAW), "
        "(socket.AF_INET, socket.SOCK_RAW)):\n"
        "    try: socket.socket(family, kind); print('opened')\n    except OSError as e: print(e.errno)"
    ))
    assert "opened" not in out and "dns gaierror" in out


def test_no_unix_sockets_of_the_host(sb: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "host.sock"
    abstract = f"\0interleaf-{secrets.token_hex(6)}"
    with socket.socket(socket.AF_UNIX) as on_path, socket.socket(socket.AF_UNIX) as on_name:
        on_path.bind(str(path))
        on_name.bind(abstract)
        for s in (on_path, on_name):
            s.listen()
            s.setblocking(False)
        out = everything(sb, (
            "import socket\n"
            f"for address in ({str(path)!r}, {abstract!r}, '/run/systemd/private', '/var/run/docker.sock'):\n"
            "    try: socket.socket(socket.AF_UNIX).connect(address); print('connected')\n"
            "    except OSError as e: print(type(e).__name__)"
        ))
        assert "connected" not in out
        for s in (on_path, on_name):
            with pytest.raises(BlockingIOError):
                s.accept()
    assert "socketpair" in everything(sb, "import socket; a, b = socket.socketpair(); a.send(b'socketpair'); b.recv(20)")


# --- processes -------------------------------------------------------------------------------


def test_no_shell_and_no_host_programs(sb: Sandbox) -> None:
    out = everything(sb, (
        "import os, subprocess, shutil\n"
        "print(os.system('id'), shutil.which('sh'), shutil.which('bash'))\n"
        "for argv in (['/bin/sh', '-c', 'id'], ['/usr/bin/env'], ['/usr/bin/curl', 'http://example.com']):\n"
        "    try: subprocess.run(argv); print('ran')\n    except OSError as e: print(type(e).__name__)\n"
        "try: os.execv('/bin/sh', ['sh'])\nexcept OSError as e: print(type(e).__name__)"
    ))
    assert out.splitlines()[0] == "32512 None None"  # os.system: no /bin/sh
    assert "ran" not in out


def test_subprocesses_are_confined_too(sb: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "from-subprocess"
    child = (
        "import os, socket\n"
        f"try: open({str(target)!r}, 'w')\nexcept OSError as e: print('write', type(e).__name__)\n"
        "try: socket.socket()\nexcept OSError as e: print('socket', e.errno)\n"
        "print('secret' if any('sk-interleaf' in v for v in os.environ.values()) else 'clean')"
    )
    out = everything(sb, f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])\nNone")
    assert out.split() == ["write", "FileNotFoundError", "socket", "97", "clean"]
    assert not target.exists()


def test_exec_replacing_the_interpreter_resets(sb: Sandbox) -> None:
    marker = f"interleaf-exec-{secrets.token_hex(6)}"
    result = sb.run(f"import os, sys; os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}])", timeout=3)
    assert result.reset is not None
    assert host_processes_with(marker) == []
    assert sb.run("1 + 1").value == "2"


def test_pty_is_confined(sb: Sandbox) -> None:
    out = everything(sb, (
        "import os, pty\n"
        "try:\n    pid, fd = pty.fork()\n    if pid == 0:\n        os.execv('/bin/sh', ['sh'])\n    print('forked')\n"
        "except OSError as e: print(type(e).__name__)"
    ))
    assert "sh" not in out.replace("forked", "")
    assert len(settled(sb)) == 2


def test_fork_bomb_is_contained(isolation: None) -> None:
    with Sandbox(limits=SandboxLimits(timeout=5, processes=16)) as sb:
        result = sb.run(
            "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass",
        )
        assert result.reset is not None
        assert sb.host_processes() == {}
        assert sb.run("'survived'").value == "'survived'"
        peak = sb.run(
            "import os, time\nn = 0\nfor _ in range(100):\n    try:\n"
            "        if os.fork() == 0:\n            time.sleep(600)\n        n += 1\n"
            "    except OSError: break\nn"
        )
        assert int(peak.value or "99") < 16
        assert len(settled(sb)) == 2


def test_memory_bomb_is_contained(isolation: None) -> None:
    with Sandbox(limits=SandboxLimits(timeout=60, memory_mb=512)) as sb:
        assert "MemoryError" in (sb.run("b = bytearray(8 * 2**30)").error or "")
        grow = sb.run("chunks = []\nwhile True: chunks.append(bytearray(2**24))")
        assert "MemoryError" in (grow.error or "") or grow.reset is not None
        assert sb.run("6 * 7").value == "42"


def test_infinite_loop_is_stopped(sb: Sandbox) -> None:
    pids = list(sb.host_processes())
    result = sb.run("while True: pass", timeout=1)
    assert result.reset == "timed out after 1 s"
    assert not any(alive(pid) for pid in pids)
    assert sb.run("'next'").value == "'next'"


def test_output_flood_is_capped(isolation: None) -> None:
    with Sandbox(limits=SandboxLimits(timeout=60, max_output=2000)) as sb:
        result = sb.run(
            "import os, sys, subprocess\n"
            "for _ in range(200000): print('x' * 50)\n"
            "sys.stdout.buffer.write(b'y' * 10**7)\n"
            "for _ in range(100): os.write(1, b'z' * 10**5)\n"
            "subprocess.run([sys.executable, '-c', 'import sys; sys.stdout.write(\"w\" * 10**7)'])"
        )
        assert len(result.stdout) < 2100 and "more bytes of stdout cut]" in result.stdout
        assert sb.run("'still here'").value == "'still here'"


def test_disk_fill_is_contained(isolation: None) -> None:
    with Sandbox(limits=SandboxLimits(timeout=60, disk_mb=32, file_size_mb=16)) as sb:
        out = everything(sb, (
            "import errno\nwritten = 0\ni = 0\n"
            "try:\n"
            "    while True:\n"
            "        with open(f'/work/fill{i}', 'wb') as f:\n"
            "            for _ in range(16): f.write(b'x' * 2**20); written += 2**20\n"
            "        i += 1\n"
            "except OSError as e: print(errno.errorcode[e.errno], written // 2**20)\n"
            "try:\n    open('/tmp/big', 'wb').write(b'x' * 2**25)\nexcept OSError as e: print(errno.errorcode[e.errno])"
        ))
        code, megabytes, second = out.split()
        assert code == "ENOSPC" and int(megabytes) <= 32 and second in ("EFBIG", "ENOSPC")


def test_ctypes_cannot_get_around_the_sandbox(sb: Sandbox) -> None:
    out = everything(sb, (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "def call(name, *args):\n    r = getattr(libc, name)(*args)\n    return r if r >= 0 else -ctypes.get_errno()\n"
        "print(call('syscall', 41, 2, 1, 0))\n"  # socket(AF_INET, SOCK_STREAM)
        "print(call('unshare', 0x10000000))\n"  # CLONE_NEWUSER
        "print(call('mount', b'none', b'/work', b'tmpfs', 0, None))\n"
        "print(call('setuid', 0))\n"
        "print(call('ptrace', 16, 1, 0, 0))\n"  # PTRACE_ATTACH to PID 1
        "print(call('syscall', 425, 8, 0))"  # io_uring_setup
    ))
    assert out.split() == ["-97", "-1", "-1", "-1", "-1", "-1"]
    crash = sb.run("import ctypes; ctypes.string_at(0)")
    assert crash.reset == "the interpreter was killed by SIGSEGV"
    assert sb.run("'recovered'").value == "'recovered'"


def test_signals_do_not_reach_the_host(sb: Sandbox) -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda number, frame: received.append(number))
    try:
        out = everything(sb, (
            "import os, signal\n"
            f"for pid in ({os.getpid()}, {os.getppid()}, os.getppid(), 1, -1):\n"
            "    for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGKILL):\n"
            "        try: os.kill(pid, sig)\n        except OSError as e: pass\n"
            "'still alive'"
        ))
        time.sleep(0.2)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert received == []
    assert "'still alive'" in out
    assert sb.run("'sandbox too'").value == "'sandbox too'"


# --- introspection -------------------------------------------------------------------------


def test_introspection_finds_nothing_to_escape_with(sb: Sandbox) -> None:
    out = everything(sb, (
        "import sys, gc\n"
        "wrap = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\n"
        "print(wrap.__init__.__globals__['system']('cat /etc/shadow'))\n"
        "print('{0.__init__.__globals__[system].__name__}'.format(wrap))\n"
        "frame, seen = sys._getframe(), []\n"
        "while frame:\n    seen.append(repr(frame.f_globals)[:100000] + repr(frame.f_locals)[:100000]); frame = frame.f_back\n"
        "strings = []\n"
        "for o in gc.get_objects():\n"
        "    items = list(o.keys()) + list(o.values()) if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()\n"
        "    strings += [i for i in items if isinstance(i, str)]\n"
        "needle = ''.join(['sk', '-interleaf-'])\n"
        "print(any(needle in s for s in seen + strings if s is not needle))"
    ))
    assert SECRET not in out
    assert out.split() == ["32512", "system", "False"]


def test_tampering_with_the_interpreter_does_not_keep_processes(sb: Sandbox) -> None:
    marker = f"interleaf-tamper-{secrets.token_hex(6)}"
    result = sb.run(
        "import sys, subprocess\n"
        "session = sys._getframe(1).f_locals['self']\n"
        "type(session).clean_up = lambda self: True\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}])"
    )
    assert result.error is None
    assert host_processes_with(marker) == []  # the host saw the process and killed it
    assert sorted(settled(sb).values()) == [1, 1]


# --- nothing survives a call ----------------------------------------------------------------


def test_nothing_started_survives_the_call(sb: Sandbox) -> None:
    marker = f"interleaf-survivor-{secrets.token_hex(6)}"
    result = sb.run(
        "import os, sys, subprocess, threading, time\n"
        f"sleeper = [sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}]\n"
        "subprocess.Popen(sleeper)\n"
        "subprocess.Popen(sleeper, start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execv(sys.executable, sleeper)\n"
        "    os._exit(0)\n"
        "threading.Thread(target=time.sleep, args=(600,)).start()\n"
        "time.sleep(0.5)\n"
        "'started'"
    )
    assert result.value == "'started'" and result.reset is None
    assert host_processes_with(marker) == []
    assert sorted(settled(sb).values()) == [1, 1]  # supervisor and interpreter, one thread each
    assert sb.run("import threading; threading.active_count()").value == "1"


def test_closing_leaves_nothing_behind(isolation: None) -> None:
    sb = Sandbox()
    sb.run("x = 1")
    pids = list(sb.host_processes())
    sb.close()
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)
