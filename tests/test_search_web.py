from __future__ import annotations

import threading
from typing import Any

import pytest
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

from agent.errors import ConfigError, ToolError
from agent.markup import ParsedCall
from tools.search import (
    NetworkProbe, Searcher, TTLCache, WebResult, WebSearch, resolve_backend, search, search_tool,
)
from tools.search.web import classify, to_results

LIMA = {
    "title": "Lima - Wikipedia",
    "href": "https://en.wikipedia.org/wiki/Lima",
    "body": "Lima is the capital and largest city of Peru.",
}


class FakeClient:
    """Answers with queued results or exceptions, and records the calls."""

    def __init__(self, *answers: list[dict[str, Any]] | BaseException) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((query, kwargs))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def web(client: FakeClient, **kwargs: Any) -> WebSearch:
    kwargs.setdefault("sleep", Sleeps())
    return WebSearch(client=client, **kwargs)


# ---------------------------------------------------------------- no network, for real


@pytest.mark.timeout(60)
def test_real_web_search_fails_with_a_clear_tool_error_without_network() -> None:
    tool = search_tool(backend="web")
    with pytest.raises(ToolError, match=r"^web search unavailable: no network"):
        tool.fn("capital of Peru")


@pytest.mark.timeout(60)
def test_real_ddgs_client_without_probe_also_fails_cleanly() -> None:
    with pytest.raises(ToolError, match=r"^web search unavailable: "):
        WebSearch(probe=None, retries=0).search("capital of Peru")


def test_probe_failure_stops_before_the_client_is_called() -> None:
    client = FakeClient([LIMA])
    engine = web(client, probe=lambda: "no network (cannot resolve example)")
    with pytest.raises(ToolError, match="web search unavailable: no network"):
        engine.search("capital of Peru")
    assert client.calls == []


def test_probe_answer_is_kept_for_its_ttl_and_skipped_behind_a_proxy() -> None:
    now = [0.0]
    probe = NetworkProbe(host="invalid.invalid", ttl=30, clock=lambda: now[0], environ={})
    probe._check = lambda: "down"  # type: ignore[method-assign]
    assert probe() == "down"
    probe._check = lambda: None  # type: ignore[method-assign]
    assert probe() == "down"
    now[0] = 31.0
    assert probe() is None
    behind_proxy = NetworkProbe(environ={"HTTPS_PROXY": "http://proxy:3128"})
    assert behind_proxy() is None


# ---------------------------------------------------------------- formatting


def test_results_are_formatted_compactly_for_inline_splicing() -> None:
    long_body = "word " * 200
    client = FakeClient([
        LIMA,
        {"title": "Peru [country]", "href": "https://example.org/peru", "body": long_body},
        {"title": "Duplicate", "href": "https://en.wikipedia.org/wiki/Lima", "body": "again"},
    ])
    tool = search_tool(backend="web", web=web(client), max_chars=400)
    out = tool.fn("capital   of\nPeru", max_results=5)
    assert out.startswith(
        "Lima - Wikipedia (https://en.wikipedia.org/wiki/Lima): "
        "Lima is the capital and largest city of Peru. | Peru (country) (https://example.org/peru): "
    )
    assert "[" not in out and "]" not in out and "\n" not in out
    assert len(out) <= 400
    assert out.endswith("…")
    assert "Duplicate" not in out
    assert client.calls[0][0] == "capital of Peru"
    assert client.calls[0][1]["max_results"] == 5


def test_total_length_is_capped_by_dropping_whole_results() -> None:
    items = [
        {"title": f"T{i}", "href": f"https://e.org/{i}", "body": "b" * 150} for i in range(5)
    ]
    out = search_tool(backend="web", web=web(FakeClient(items)), max_chars=400).fn("q", max_results=5)
    assert out.count(" | ") == 1
    assert len(out) <= 400


def test_no_results_is_an_answer_not_an_error() -> None:
    client = FakeClient(DDGSException("No results found."))
    tool = search_tool(backend="web", web=web(client))
    assert tool.fn("xyzzy plugh") == 'No results on the web for "xyzzy plugh".'


def test_to_results_and_result_line() -> None:
    results = to_results([LIMA, {"title": "", "href": "", "body": "no url"}], max_results=3)
    assert results == [WebResult(LIMA["title"], LIMA["href"], LIMA["body"])]
    assert WebResult("", "https://a.b", "").line() == "https://a.b (https://a.b)"


def test_tool_binds_raw_text_and_literals() -> None:
    assert search.name == "Search"
    assert search.raw_param == "query"
    assert search.bind(ParsedCall.of("Search", "capital of Peru, 2024")) == {
        "query": "capital of Peru, 2024", "max_results": 3,
    }
    assert search.bind(ParsedCall.of("Search", 'query="x", max_results=2')) == {
        "query": "x", "max_results": 2,
    }
    assert 2 <= len(search.examples) <= 3
    assert all("[Search(" in e and "→" in e for e in search.examples)


def test_max_results_is_clamped_and_empty_query_rejected() -> None:
    client = FakeClient([LIMA])
    tool = search_tool(backend="web", web=web(client))
    tool.fn("a", max_results=99)
    tool.fn("b", max_results=0)
    assert [kw["max_results"] for _, kw in client.calls] == [10, 1]
    with pytest.raises(ToolError, match="empty search query"):
        tool.fn("   ")


# ---------------------------------------------------------------- retries


def test_rate_limits_are_retried_with_exponential_backoff() -> None:
    sleeps = Sleeps()
    client = FakeClient(RatelimitException("202 Ratelimit"), RatelimitException("x"), [LIMA])
    engine = web(client, sleep=sleeps, retries=3, backoff=0.5)
    assert engine.search("capital of Peru")[0].url == LIMA["href"]
    assert sleeps.waits == [0.5, 1.0]
    assert len(client.calls) == 3


def test_backoff_is_capped_and_gives_up_after_the_retries() -> None:
    sleeps = Sleeps()
    client = FakeClient(RatelimitException("429 Too Many Requests"))
    engine = web(client, sleep=sleeps, retries=4, backoff=1.0, max_backoff=3.0)
    with pytest.raises(ToolError, match="web search unavailable: rate limited"):
        engine.search("q")
    assert sleeps.waits == [1.0, 2.0, 3.0, 3.0]
    assert len(client.calls) == 5


@pytest.mark.parametrize("error", [
    DDGSException("DNSError: error resolving DNS"),
    DDGSException("ConnectError: Connection refused"),
    TimeoutException("request timed out"),
    ConnectionResetError("reset"),
])
def test_connection_errors_and_timeouts_are_not_retried(error: Exception) -> None:
    sleeps = Sleeps()
    client = FakeClient(error)
    with pytest.raises(ToolError, match="^web search unavailable: "):
        web(client, sleep=sleeps).search("q")
    assert len(client.calls) == 1
    assert sleeps.waits == []


def test_a_hanging_client_is_abandoned_at_the_deadline() -> None:
    release = threading.Event()

    class Hanging:
        def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
            release.wait(30)
            return []

    try:
        with pytest.raises(ToolError, match="did not answer in time"):
            WebSearch(client=Hanging(), deadline=0.05).search("q")
    finally:
        release.set()


def test_classify() -> None:
    assert classify(RatelimitException("x"))[0] == "ratelimit"
    assert classify(DDGSException("No results found."))[0] == "empty"
    assert classify(DDGSException("DNSError: ..."))[1] == "no network (DNS lookup failed)"
    assert classify(ValueError("odd"))[1] == "ValueError: odd"


# ---------------------------------------------------------------- cache


def test_recent_queries_are_served_from_the_cache() -> None:
    client = FakeClient([LIMA])
    engine = web(client)
    first = engine.search("Capital of  Peru")
    assert engine.search("capital of peru") == first
    assert len(client.calls) == 1
    engine.search("capital of peru", max_results=1)
    assert len(client.calls) == 2


def test_failures_are_not_cached() -> None:
    client = FakeClient(DDGSException("ConnectError"), [LIMA])
    engine = web(client)
    with pytest.raises(ToolError):
        engine.search("q")
    assert engine.search("q")[0].title == "Lima - Wikipedia"


def test_cache_expires_and_evicts_least_recently_used() -> None:
    now = [0.0]
    cache: TTLCache[str, int] = TTLCache(maxsize=2, ttl=10, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    now[0] = 10.0
    assert cache.get("a") is None and len(cache) == 1


def test_cache_expiry_makes_a_new_request() -> None:
    now = [0.0]
    client = FakeClient([LIMA])
    engine = web(client, cache=TTLCache(ttl=60, clock=lambda: now[0]))
    engine.search("q")
    now[0] = 61.0
    engine.search("q")
    assert len(client.calls) == 2


# ---------------------------------------------------------------- backend choice


def test_backend_choice_from_argument_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERLEAF_SEARCH", raising=False)
    assert resolve_backend() == "auto"
    monkeypatch.setenv("INTERLEAF_SEARCH", " Web ")
    assert resolve_backend() == "web"
    assert resolve_backend("local") == "local"
    monkeypatch.setenv("INTERLEAF_SEARCH", "bing")
    with pytest.raises(ConfigError, match="INTERLEAF_SEARCH"):
        resolve_backend()
    with pytest.raises(ConfigError):
        search_tool(backend="google")


def test_auto_uses_the_web_when_there_is_no_local_index(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTERLEAF_SEARCH", raising=False)
    monkeypatch.setenv("INTERLEAF_INDEX", str(tmp_path / "missing.sqlite3"))
    searcher = Searcher(web=web(FakeClient([LIMA])))
    assert searcher.backend() == "web"
    assert searcher("capital of Peru").startswith("Lima - Wikipedia")
    assert not (tmp_path / "missing.sqlite3").exists()
