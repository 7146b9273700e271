"""OpenTelemetry tracing of objective runs (GenAI semantic conventions).

Nothing here is imported, and no span is made, unless tracing is configured:
- `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set: `agent run`
  exports spans over OTLP/HTTP (needs `pip install 'interleaf[otel]'`);
- or in code: set a tracer provider with the OpenTelemetry API and pass
  `observers=[Spans()]` to `ObjectiveRunner` (or call `observers_from_env()`).
"""

from typing import TYPE_CHECKING

from agent.lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.trace.setup import Tracing, observers_from_env, tracing_configured
    from agent.trace.spans import Spans

__getattr__ = lazy_attributes(__name__, {
    "Spans": "agent.trace.spans", "Tracing": "agent.trace.setup", "observers_from_env": "agent.trace.setup",
    "tracing_configured": "agent.trace.setup",
})

__all__ = ["Spans", "Tracing", "observers_from_env", "tracing_configured"]
