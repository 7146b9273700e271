"""The settings of one agent run, with every default in one place."""

from __future__ import annotations

from dataclasses import dataclass, fields

from agent.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """The budgets and sampling of one run through the loop. `Agent(...)` takes each as
    a keyword argument; an objective's task list fills them from its `TaskLimits`."""

    max_calls: int = 20
    """Tool calls in the run."""
    max_tokens: int = 1024
    """Completion tokens over the whole run."""
    timeout: float | None = 300.0
    """Wall-clock seconds for the whole run."""
    tool_timeout: float = 30.0
    """Seconds one call may take, unless its tool sets its own limit."""
    no_progress: int = 3
    """End the run when the same call with the same outcome comes back this many times."""
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("max_calls", "max_tokens", "timeout", "tool_timeout", "no_progress") and \
                    value is not None and value <= 0:
                raise ConfigError(f"{f.name} must be above zero, got {value}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be zero or more, got {self.temperature}")


DEFAULTS = Settings()
