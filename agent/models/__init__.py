"""Model backends and model spec resolution."""

from __future__ import annotations

from agent.errors import ModelNotFound
from agent.models.base import Model


def resolve_model(spec: str | Model | None, **options: object) -> Model:
    if isinstance(spec, Model):
        return spec
    raise ModelNotFound(str(spec), [])
