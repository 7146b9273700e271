"""When and where spans go. With no endpoint in the environment and no tracer provider
set through the OpenTelemetry API, `observers_from_env` returns nothing and imports
nothing of OpenTelemetry: tracing off costs nothing."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError

if TYPE_CHECKING:
    from agent.tasks.recording import RunObserver

ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
EXTRA = "pip install 'interleaf[otel]'"


def endpoint_configured() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(os.environ.get(name, "").strip() for name in ENDPOINT_ENVS)


def api_provider_set() -> bool:
    """A tracer provider was set through the API (which, then, is already imported)."""
    if "opentelemetry.trace" not in sys.modules:
        return False
    from opentelemetry import trace

    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def tracing_configured() -> bool:
    return api_provider_set() or endpoint_configured()


class Tracing:
    """The observers a command hands its runner, and the exporter it set up (flushed
    and shut down by `close`)."""

    def __init__(self, observers: list[RunObserver], provider: Any = None) -> None:
        self.observers = observers
        self.provider = provider

    def close(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()
            self.provider = None

    def __enter__(self) -> Tracing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def observers_from_env() -> Tracing:
    """Spans for a provider set through the API, else an OTLP/HTTP exporter for the
    endpoint in the environment, else nothing."""
    if api_provider_set():
        from agent.trace.spans import Spans

        return Tracing([Spans()])
    if not endpoint_configured():
        return Tracing([])
    provider = _otlp_provider()
    from agent.trace.spans import Spans

    return Tracing([Spans(provider.get_tracer("interleaf"))], provider)


def _otlp_provider() -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(f"OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is missing ({exc.name}); "
                          f"{EXTRA}") from None
    if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf") not in ("http/protobuf", ""):
        raise ConfigError("only OTLP over HTTP (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf) is supported")
    resource = Resource.create({} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "interleaf"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
