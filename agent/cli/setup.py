"""What a command needs before it runs: the model, the installed tools, the run store."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.errors import ConfigError, ModelNotFound
from agent.models import resolve_model
from agent.models.base import Model
from agent.tools import Tool, installed_tools

PYTHON_PREFIX = "python:"


def load_model(spec: str | None, *, n_ctx: int | None = None, threads: int | None = None) -> Model:
    """`python:MODULE:FACTORY` calls FACTORY() from MODULE; anything else goes to
    `agent.models.resolve_model`, with the context window and threads when given."""
    if spec is not None and spec.startswith(PYTHON_PREFIX):
        if n_ctx is not None or threads is not None:
            raise ConfigError("--n-ctx and --threads apply to models loaded by spec, not to python: factories")
        return _factory_model(spec)
    options = {key: value for key, value in (("n_ctx", n_ctx), ("n_threads", threads)) if value is not None}
    model = resolve_model(spec, **options)
    if spec is not None and spec.lower().endswith(".gguf"):
        _load_now(model, spec)
    return model


def _load_now(model: Model, spec: str) -> None:
    """Load a model file the user named at once, so one that llama.cpp cannot read stops
    the command before a run is made (a run that failed on it could never go on)."""
    try:
        getattr(model, "engine", None)
    except Exception as exc:
        raise ConfigError(f"cannot load the model file {spec}: {exc}") from None


def model_spec(spec: str | None) -> str | None:
    """The spec as the run keeps it: a `.gguf` path made absolute (so the run resumes from
    any folder), and refused at once when no such file exists or it is not a GGUF file
    (no run is made that nothing could fix)."""
    if spec is None or not spec.lower().endswith(".gguf") or ":" in spec.split("/")[0]:
        return spec
    path = Path(spec).expanduser()
    if path.is_dir() or not path.exists():
        raise ConfigError(f"no model file {spec}: {'it is a folder' if path.is_dir() else 'it does not exist'}")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ConfigError(f"cannot read the model file {spec}: {exc.strerror or exc}") from None
    if magic != b"GGUF":
        raise ConfigError(f"{spec} is not a GGUF model file (it does not start with the GGUF magic bytes)")
    return str(path.resolve())


def check_environment() -> None:
    """Configuration read later in a run (`$INTERLEAF_SEARCH`), checked before it starts."""
    if os.environ.get("INTERLEAF_SEARCH", "").strip():
        from tools.search import resolve_backend

        resolve_backend()


def _factory_model(spec: str) -> Model:
    target = spec[len(PYTHON_PREFIX):]
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ModelNotFound(spec, ["python:MODULE:FACTORY"])
    try:
        with _current_folder_importable():
            factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelNotFound(spec, [f"python:MODULE:FACTORY ({exc})"]) from None
    model = factory()
    if not isinstance(model, Model):
        raise ConfigError(f"{target}() returned {type(model).__name__}, not a model")
    return model


@contextmanager
def _current_folder_importable() -> Iterator[None]:
    """Put the current folder first on the import path for the time of an import, as
    `python -m` does, so `python:mymodel:make` finds ./mymodel.py."""
    folder = os.getcwd()
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
        elif folder in sys.path:
            sys.path.remove(folder)


def installed(warn: list[str] | None = None) -> list[Tool]:
    """Every installed tool that loads; the ones that fail are named in `warn`."""
    return list(installed_tools([] if warn is None else warn).values())


def select_tools(tools: Iterable[Tool], names: str | None) -> tuple[str, ...] | None:
    """The tool names a comma list picks (by tool or entry-point name, any case); None
    for all. An empty list picks no tool."""
    if names is None:
        return None
    available = {t.name.casefold(): t.name for t in tools}
    chosen: list[str] = []
    for raw in names.split(","):
        name = raw.strip()
        if not name:
            continue
        if name.casefold() not in available:
            listed = ", ".join(sorted(available.values())) or "none"
            raise ConfigError(f"unknown tool {name!r}; installed tools: {listed}")
        chosen.append(available[name.casefold()])
    return tuple(chosen)
