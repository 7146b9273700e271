"""The resource limits of one sandboxed interpreter."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from agent.errors import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class SandboxLimits:
    """What one call, and the interpreter as a whole, may use.

    Per-process limits (address space, file size, open files) hold for every process in
    the sandbox; `processes` counts processes and threads together.
    """

    timeout: float = 10.0
    """Wall-clock seconds one call may take before the sandbox is killed and reset."""
    cpu_seconds: int = 10
    """CPU seconds one call may use (the interpreter is killed and reset past it)."""
    memory_mb: int = 1024
    """Address space of each process, in MiB."""
    file_size_mb: int = 32
    """Largest file a process may write, in MiB."""
    disk_mb: int = 64
    """Size of each in-memory file system: the private work directory, /tmp and /dev/shm, in MiB."""
    open_files: int = 256
    """Open file descriptors per process."""
    processes: int = 16
    """Processes and threads the sandbox may run at once."""
    sandbox_memory_mb: int = 1024
    """Memory of the sandbox as a whole, in MiB: every process, the in-memory folders,
    shared memory and memfd. Needs cgroups; without them the memory is bounded only per
    process (`memory_mb` times `processes`, plus the in-memory folders), and memfd and
    SysV shared memory are refused."""
    cpus: float = 1.0
    """Cores' worth of CPU time the sandbox may use at once (needs cgroups)."""
    max_output: int = 8_000
    """Characters kept of stdout, of stderr, of the final value and of a traceback."""

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ConfigError(f"timeout must be above zero, got {self.timeout!r}")
        if not (isinstance(self.cpus, (int, float)) and 0.01 <= self.cpus <= 1024):
            raise ConfigError(f"cpus must be a number from 0.01 to 1024, got {self.cpus!r}")
        minimums = {
            "cpu_seconds": 1, "memory_mb": 64, "file_size_mb": 1, "disk_mb": 1,
            "open_files": 16, "processes": 4, "max_output": 100, "sandbox_memory_mb": 64,
        }
        for name, least in minimums.items():
            value = getattr(self, name)
            if not isinstance(value, int) or value < least:
                raise ConfigError(f"{name} must be an integer of at least {least}, got {value!r}")

    def for_worker(self) -> dict[str, Any]:
        """The limits as the in-sandbox worker reads them."""
        return asdict(self)
