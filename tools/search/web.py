"""Web search through `ddgs`, made safe to call from inside a model's text.

A search answers in bounded time: a quick connectivity probe first (its answer is kept
for a short while), a timeout on every request, an overall deadline, retries with
exponential backoff only for rate limits, and a cache of recent queries. Every failure
becomes `ToolError("web search unavailable: …")`, which the framework splices in place of
a result so the run goes on.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar


from agent.errors import ToolError
from tools.search.text import compact

K = TypeVar("K")
V = TypeVar("V")

PROBE_HOST = "html.duckduckgo.com"
PROXY_ENV = ("DDGS_PROXY", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
_NO_RESULTS = "no results found"
_RATE_LIMIT_MARKERS = ("ratelimit", "rate limit", "429", "too many requests")


class TextClient(Protocol):
    """What `WebSearch` needs of a search client; `ddgs.DDGS` is one."""

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class WebResult:
    title: str
    url: str
    snippet: str

    def line(self, *, snippet_chars: int = 200) -> str:
        """The result as one line to splice inline: `title (url): snippet`."""
        head = compact(self.title, 80) or self.url
        body = compact(self.snippet, snippet_chars)
        return f"{head} ({self.url}): {body}" if body else f"{head} ({self.url})"


class TTLCache(Generic[K, V]):
    """A thread-safe LRU cache whose entries expire `ttl` seconds after they are stored."""

    def __init__(
        self, *, maxsize: int = 128, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            if self._clock() >= expires:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._items[key] = (self._clock() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class NetworkProbe:
    """Whether the search host can be reached: None if so, else the reason it cannot.

    Resolves and connects to `host` within `timeout` seconds and keeps the answer for
    `ttl` seconds. Skipped (answers None) when a proxy is configured, since the direct
    route may be closed while the proxy works.
    """

    def __init__(
        self, *, host: str = PROBE_HOST, port: int = 443, timeout: float = 2.0,
        ttl: float = 30.0, clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.host, self.port, self.timeout, self.ttl = host, port, timeout, ttl
        self._clock = clock
        self._environ = environ
        self._cached: tuple[float, str | None] | None = None

    def __call__(self) -> str | None:
        if any(self._environ.get(name) for name in PROXY_ENV):
            return None
        now = self._clock()
        if self._cached is not None and now < self._cached[0]:
            return self._cached[1]
        reason = self._check()
        self._cached = (now + self.ttl, reason)
        return reason

    def _check(self) -> str | None:
        outcome: list[str | None] = []

        def connect() -> None:
            try:
                socket.create_connection((self.host, self.port), timeout=self.timeout).close()
                outcome.append(None)
            except socket.gaierror:
                outcome.append(f"no network (cannot resolve {self.host})")
            except OSError as exc:
                detail = exc.strerror or type(exc).__name__
                outcome.append(f"no network (cannot connect to {self.host}: {detail})")

        worker = threading.Thread(target=connect, name="interleaf-probe", daemon=True)
        worker.start()
        worker.join(self.timeout + 0.5)
        if not outcome:
            return f"no network (no answer from {self.host} within {self.timeout:g} s)"
        return outcome[0]


class WebSearch:
    """Top-k web results for a query, as `WebResult`s.

    `client` defaults to a fresh `ddgs.DDGS(timeout=...)` per request, checked first by a
    `NetworkProbe`; with an injected client the probe is off unless one is given. `sleep`
    is what waits between retries.
    """

    def __init__(
        self, *, client: TextClient | None = None, timeout: float = 5.0, deadline: float = 10.0,
        retries: int = 2, backoff: float = 1.0, max_backoff: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        probe: Callable[[], str | None] | None | Literal["auto"] = "auto",
        cache: TTLCache[tuple[str, int], tuple[WebResult, ...]] | None = None,
        region: str = "us-en", safesearch: str = "moderate",
    ) -> None:
        self._client = client
        self.timeout, self.deadline = timeout, deadline
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self._sleep = sleep
        self._probe = (NetworkProbe() if client is None else None) if probe == "auto" else probe
        self.cache: TTLCache[tuple[str, int], tuple[WebResult, ...]] = (
            cache if cache is not None else TTLCache()
        )
        self.region, self.safesearch = region, safesearch

    def search(self, query: str, *, max_results: int = 3) -> list[WebResult]:
        """Results for `query`, best first; raises ToolError when the web cannot answer."""
        query = " ".join(query.split())
        if not query:
            raise ToolError("empty search query")
        key = (query.casefold(), max_results)
        cached = self.cache.get(key)
        if cached is not None:
            return list(cached)
        if self._probe is not None:
            reason = self._probe()
            if reason:
                raise ToolError(f"web search unavailable: {reason}")
        results = tuple(self._with_retries(query, max_results))
        self.cache.put(key, results)
        return list(results)

    def _with_retries(self, query: str, max_results: int) -> list[WebResult]:
        attempt = 0
        while True:
            try:
                raw = self._request(query, max_results)
            except Exception as exc:
                kind, reason = classify(exc)
                if kind == "empty":
                    return []
                if kind == "ratelimit" and attempt < self.retries:
                    self._sleep(min(self.max_backoff, self.backoff * 2**attempt))
                    attempt += 1
                    continue
                raise ToolError(f"web search unavailable: {reason}") from exc
            return to_results(raw, max_results=max_results)

    def _request(self, query: str, max_results: int) -> list[dict[str, Any]]:
        """One request to the client, abandoned after `deadline` seconds."""
        client = self._client if self._client is not None else self._ddgs()
        box: list[list[dict[str, Any]] | BaseException] = []

        def run() -> None:
            try:
                box.append(client.text(
                    query, max_results=max_results, region=self.region, safesearch=self.safesearch,
                ))
            except BaseException as exc:
                box.append(exc)

        worker = threading.Thread(target=run, name="interleaf-web-search", daemon=True)
        worker.start()
        worker.join(self.deadline)
        if not box:
            from ddgs.exceptions import TimeoutException

            raise TimeoutException(f"no answer within {self.deadline:g} s (timed out)")
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _ddgs(self) -> TextClient:
        from ddgs import DDGS

        return DDGS(timeout=max(1, math.ceil(self.timeout)))


def classify(exc: BaseException) -> tuple[Literal["empty", "ratelimit", "unavailable"], str]:
    """What a failed request means: no results, a rate limit, or an unusable web."""
    from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException  # loaded with the client

    text = str(exc)
    lowered = text.casefold()
    if isinstance(exc, RatelimitException) or any(m in lowered for m in _RATE_LIMIT_MARKERS):
        return "ratelimit", "rate limited by the search engine; try again later"
    if isinstance(exc, TimeoutException) or "timed out" in lowered or isinstance(exc, TimeoutError):
        return "unavailable", "the search engine did not answer in time"
    if isinstance(exc, DDGSException) and _NO_RESULTS in lowered:
        return "empty", "no results"
    if "dns" in lowered or isinstance(exc, socket.gaierror):
        return "unavailable", "no network (DNS lookup failed)"
    if "connect" in lowered or isinstance(exc, (ConnectionError, OSError)):
        return "unavailable", "no network (connection failed)"
    return "unavailable", compact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, 160)


def to_results(raw: list[dict[str, Any]], *, max_results: int) -> list[WebResult]:
    """`WebResult`s from ddgs result dicts (`title`, `href`, `body`), without duplicates."""
    out: list[WebResult] = []
    seen: set[str] = set()
    for item in raw:
        url = str(item.get("href") or item.get("url") or "").strip()
        if not url or url in seen:
            continue
        seen.add(url)
        title = str(item.get("title") or "").strip()
        snippet = str(item.get("body") or item.get("snippet") or "").strip()
        out.append(WebResult(title=title, url=url, snippet=snippet))
        if len(out) >= max_results:
            break
    return out
