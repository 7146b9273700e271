"""Model backends behind one interface (`Model.stream`), and the specs that name them.

    resolve_model("smollm2-135m", n_ctx=8192)          a packaged local model
    resolve_model("/models/any.gguf")                   any GGUF file
    resolve_model("openai:gpt-4o-mini")                 OpenAI (OPENAI_API_KEY)
    resolve_model("openai:local@http://127.0.0.1:8080/v1", mode="completions")
    resolve_model()                                     INTERLEAF_MODEL, else gemma3-270m
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.models.base import (
    CallTrigger,
    Completion,
    FinishReason,
    Model,
    Prompt,
    Request,
    ToolSpec,
    Usage,
)
from agent.models.catalog import (
    DEFAULT_MODEL,
    MODEL_ENV,
    ModelInfo,
    cache_dir,
    list_models,
    model_path,
    resolve_model,
)
from agent.models.chat_template import ChatTemplate

if TYPE_CHECKING:
    from agent.models.llama import ContextWindowExceeded, LlamaModel
    from agent.models.llama_engine import ModelBusy
    from agent.models.llama_sampling import InvalidGrammar
    from agent.models.openai import OpenAIModel, OpenAIRefused

_LAZY = {
    "ContextWindowExceeded": "agent.models.llama",
    "LlamaModel": "agent.models.llama",
    "ModelBusy": "agent.models.llama_engine",
    "InvalidGrammar": "agent.models.llama_sampling",
    "OpenAIModel": "agent.models.openai",
    "OpenAIRefused": "agent.models.openai",
}


def __getattr__(name: str) -> Any:
    """The backends load on first use, so importing the package loads neither
    llama-cpp-python nor openai."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_MODEL",
    "MODEL_ENV",
    "CallTrigger",
    "ChatTemplate",
    "Completion",
    "ContextWindowExceeded",
    "FinishReason",
    "InvalidGrammar",
    "LlamaModel",
    "Model",
    "ModelBusy",
    "ModelInfo",
    "OpenAIModel",
    "OpenAIRefused",
    "Prompt",
    "Request",
    "ToolSpec",
    "Usage",
    "cache_dir",
    "list_models",
    "model_path",
    "resolve_model",
]
