"""The `Search` tool: top results for a query, from the web or the user's local index.

The backend is `web`, `local` or `auto` (the local index when it exists and has
documents, else the web), chosen by the `backend` argument of `search_tool` or else by
`$INTERLEAF_SEARCH` at each call (default `auto`). The local index lives at
`$INTERLEAF_INDEX` or in the user's data directory; build it with
`LocalIndex().add(folder)`.
"""

from __future__ import annotations

import os
from typing import Literal

from agent import ConfigError, Tool, ToolError, tool
from tools.search.index import INDEX_ENV, Hit, IndexStats, LocalIndex, default_index_path
from tools.search.text import compact, join_lines
from tools.search.web import NetworkProbe, TTLCache, WebResult, WebSearch

__all__ = [
    "BACKEND_ENV", "BACKENDS", "INDEX_ENV", "Hit", "IndexStats", "LocalIndex", "NetworkProbe",
    "Searcher", "TTLCache", "WebResult", "WebSearch", "default_index_path", "resolve_backend",
    "search", "search_tool",
]

Backend = Literal["web", "local", "auto"]
BACKEND_ENV = "INTERLEAF_SEARCH"
BACKENDS: tuple[Backend, ...] = ("web", "local", "auto")
MAX_RESULTS = 10
RESULT_CHARS = 700
"""The spliced result is at most this long."""

EXAMPLES = (
    "The capital of Peru is [Search(capital of Peru) → Lima - Wikipedia "
    "(https://en.wikipedia.org/wiki/Lima): Lima is the capital and largest city of Peru.] Lima.",
    "Pittsburgh is also known as [Search(Pittsburgh nickname) → Pittsburgh - Wikipedia "
    "(https://en.wikipedia.org/wiki/Pittsburgh): Pittsburgh is known as the Steel City for its "
    "history of steel manufacturing.] the Steel City.",
    'Water boils at [Search(query="boiling point of water at sea level", max_results=1) → '
    "Boiling point - Wikipedia (https://en.wikipedia.org/wiki/Boiling_point): At sea level, "
    "water boils at 100 °C (212 °F).] 100 °C at sea level.",
)


def resolve_backend(value: str | None = None) -> Backend:
    """`value`, else `$INTERLEAF_SEARCH`, else "auto", checked against `BACKENDS`."""
    chosen = (value if value is not None else os.environ.get(BACKEND_ENV, "")).strip().lower()
    if not chosen:
        return "auto"
    if chosen not in BACKENDS:
        source = "backend" if value is not None else f"${BACKEND_ENV}"
        raise ConfigError(f"{source} must be one of {', '.join(BACKENDS)}; got {chosen!r}")
    return chosen


class Searcher:
    """Runs a query on the configured backend and formats the results to splice inline.

    `backend=None` reads `$INTERLEAF_SEARCH` at each call, and `index=None` opens
    `LocalIndex()` (so `$INTERLEAF_INDEX`) at each call.
    """

    def __init__(
        self, *, backend: str | None = None, web: WebSearch | None = None,
        index: LocalIndex | None = None, max_chars: int = RESULT_CHARS,
    ) -> None:
        self._backend = resolve_backend(backend) if backend is not None else None
        self.web = web if web is not None else WebSearch()
        self._index = index
        self.max_chars = max_chars

    @property
    def index(self) -> LocalIndex:
        return self._index if self._index is not None else LocalIndex()

    def backend(self, index: LocalIndex | None = None) -> Literal["web", "local"]:
        """The backend the next call uses."""
        chosen = self._backend or resolve_backend()
        if chosen != "auto":
            return chosen
        index = index or self.index
        return "local" if index.document_count() > 0 else "web"

    def __call__(self, query: str, max_results: int = 3) -> str:
        text = " ".join(query.split())
        if not text:
            raise ToolError("empty search query")
        k = max(1, min(MAX_RESULTS, max_results))
        index = self.index
        if self.backend(index) == "web":
            results = self.web.search(text, max_results=k)
            lines = [r.line() for r in results]
            where = "on the web"
        else:
            if not index.exists():
                raise ToolError(f"no local index at {index.path}; build one with `agent index add PATH`")
            lines = [h.line() for h in index.search(text, k)]
            where = "in the local documents"
        if not lines:
            return f'No results {where} for "{compact(text, 100)}".'
        return join_lines(lines, limit=self.max_chars)


def search_tool(
    *, backend: str | None = None, web: WebSearch | None = None,
    index: LocalIndex | None = None, max_chars: int = RESULT_CHARS, timeout: float | None = 30.0,
) -> Tool:
    """A `Search` tool on the given backend (see `Searcher`)."""
    searcher = Searcher(backend=backend, web=web, index=index, max_chars=max_chars)

    def Search(query: str, max_results: int = 3) -> str:
        """Look something up; returns the top results as title (source): snippet.

        Args:
            query: What to look up, in plain words.
            max_results: How many results to return, 1 to 10.
        """
        return searcher(query, max_results)

    return tool(name="Search", examples=EXAMPLES, timeout=timeout)(Search)


search = search_tool()
