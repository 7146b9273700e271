"""Model backends behind one interface (`Model.stream`), and the specs that name them.

    resolve_model("smollm2-135m", n_ctx=8192)          a packaged local model
    resolve_model("/models/any.gguf")                   any GGUF file
    resolve_model("openai:gpt-4o-mini")                 OpenAI (OPENAI_API_KEY)
    resolve_model("openai:local@http://127.0.0.1:8080/v1", mode="completions")
    resolve_model()                                     INTERLEAF_MODEL, else gemma3-270m
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from agent.lazy import lazy_attributes

if TYPE_CHECKING:
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
    from agent.models.llama import ContextWindowExceeded, LlamaModel
    from agent.models.llama_engine import ModelBusy
    from agent.models.llama_sampling import InvalidGrammar
    from agent.models.openai import OpenAIModel, OpenAIRefused

_CATALOG = ("DEFAULT_MODEL", "MODEL_ENV", "ModelInfo", "cache_dir", "list_models", "model_path", "resolve_model")

# The catalog, the chat templates (jinja2) and the backends (llama-cpp-python, openai)
# load on first use.
__getattr__ = lazy_attributes(__name__, {
    **{name: "agent.models.catalog" for name in _CATALOG},
    "ChatTemplate": "agent.models.chat_template",
    "ContextWindowExceeded": "agent.models.llama",
    "LlamaModel": "agent.models.llama",
    "ModelBusy": "agent.models.llama_engine",
    "InvalidGrammar": "agent.models.llama_sampling",
    "OpenAIModel": "agent.models.openai",
    "OpenAIRefused": "agent.models.openai",
})


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
