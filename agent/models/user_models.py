"""Models the user made (e.g. with `agent train`), registered by name in the user's data
folder: `<data>/models/<name>.json` next to the weights, where `<data>` is
`$INTERLEAF_HOME` or the user data directory for interleaf (as for saved runs).

    {"name": "smollm2-135m-tools", "path": ".../smollm2-135m-tools.gguf",
     "base": "smollm2-135m", "description": "...", "examples": 0}

A model is loaded with its base model's options and recipes; `examples`, when set, is
the number of few-shot examples per tool its question prompts show instead of the
base's (a model tuned on its own calls answers as it was trained, without them).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from platformdirs import user_data_dir

from agent.errors import ConfigError

HOME_ENV = "INTERLEAF_HOME"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class UserModel:
    name: str
    path: str
    base: str
    description: str
    examples: int | None = None
    """Few-shot examples per tool in its question prompts; None: its base model's recipe."""


def models_dir(home: Path | None = None) -> Path:
    """`<home>/models`; `home` defaults to `$INTERLEAF_HOME`, else the user data directory."""
    if home is None:
        override = os.environ.get(HOME_ENV, "").strip()
        home = Path(override).expanduser() if override else Path(user_data_dir("interleaf", appauthor=False))
    return home / "models"


def check_name(name: str) -> str:
    key = name.strip().lower()
    if not _NAME.fullmatch(key) or key.endswith(".gguf"):
        raise ConfigError(f"a model name is lowercase letters, digits, '.', '_' and '-' (got {name!r})")
    return key


def find(name: str) -> UserModel | None:
    """The registered model `name`, if its record and weights exist."""
    key = name.strip().lower()
    if not _NAME.fullmatch(key):
        return None
    record = models_dir() / f"{key}.json"
    try:
        model = UserModel(**json.loads(record.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return model if Path(model.path).is_file() else None


def all_models() -> list[UserModel]:
    folder = models_dir()
    found = (find(p.stem) for p in sorted(folder.glob("*.json"))) if folder.is_dir() else iter(())
    return [m for m in found if m is not None]


def register(name: str, path: Path, *, base: str, description: str, examples: int | None = None,
             home: Path | None = None) -> UserModel:
    """Record `path` under `name` (replacing an earlier record of that name)."""
    if examples is not None and examples < 0:
        raise ConfigError(f"examples must be zero or more, got {examples}")
    model = UserModel(check_name(name), str(path.resolve()), base, description, examples)
    folder = models_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{model.name}.json.partial"
    partial.write_text(json.dumps(asdict(model), indent=1), encoding="utf-8")
    partial.replace(folder / f"{model.name}.json")
    return model
