"""Model backends behind one interface (`Model.stream`), and specs that name them."""

from __future__ import annotations

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
from agent.models.catalog import DEFAULT_MODEL, MODEL_ENV, ModelInfo, list_models, model_path, resolve_model
from agent.models.llama import ContextWindowExceeded, LlamaModel
from agent.models.llama_engine import ModelBusy
from agent.models.llama_sampling import InvalidGrammar

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_ENV",
    "CallTrigger",
    "Completion",
    "ContextWindowExceeded",
    "FinishReason",
    "InvalidGrammar",
    "LlamaModel",
    "Model",
    "ModelBusy",
    "ModelInfo",
    "Prompt",
    "Request",
    "ToolSpec",
    "Usage",
    "list_models",
    "model_path",
    "resolve_model",
]
