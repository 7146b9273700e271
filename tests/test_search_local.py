from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.errors import ToolError
from tools.search import LocalIndex, Searcher, WebSearch, default_index_path, search_tool
from tools.search.index import query_terms
from tools.search.text import compact, html_to_text, join_lines, markdown_to_text, passages

PERU = """Peru is a country in western South America.

Lima is the capital and largest city of Peru. It sits on the Pacific coast.
"""

CATS_MD = """---
layout: post
---
# Keeping Cats

Cats are **small** carnivorous [mammals](https://example.org/mammals).
They sleep for most of the day.

```python
feed(cat)
```

| food | amount |
|------|--------|
| fish | a little |
"""

VOLCANO_HTML = """<!doctype html>
<html><head><title>Volcanoes of the Andes</title>
<style>body { color: red; }</style>
<script>var secretToken = "hidden";</script></head>
<body><nav>Home &amp; About</nav>
<h1>Volcanoes</h1>
<p>Misti is a dormant volcano near Arequipa.<br>It erupted in 1985?</p>
<div>Cotopaxi is in Ecuador &mdash; one of the highest active volcanoes.</div>
<noscript>enable javascript</noscript>
</body></html>
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    write(docs / "peru.txt", PERU)
    write(docs / "notes" / "cats.md", CATS_MD)
    write(docs / "volcanoes.html", VOLCANO_HTML)
    write(docs / "ignored.pdf", "Peru Peru Peru")
    write(docs / ".hidden" / "secret.txt", "Peru secret")
    (docs / "binary.txt").write_bytes(b"Peru\x00\x01\x02")
    return docs


@pytest.fixture
def index(tmp_path: Path, corpus: Path) -> LocalIndex:
    idx = LocalIndex(tmp_path / "data" / "index.sqlite3")
    idx.add(corpus)
    return idx


# ---------------------------------------------------------------- text extraction


def test_html_to_text_drops_scripts_and_styles() -> None:
    title, text = html_to_text(VOLCANO_HTML)
    assert title == "Volcanoes of the Andes"
    assert "secretToken" not in text and "color: red" not in text and "javascript" not in text
    assert "Home & About" in text
    assert "Cotopaxi is in Ecuador — one of the highest active volcanoes." in text.split("\n\n")


def test_markdown_to_text_strips_markup() -> None:
    title, text = markdown_to_text(CATS_MD)
    assert title == "Keeping Cats"
    assert "Cats are small carnivorous mammals. They sleep for most of the day." in text
    assert "feed(cat)" in text
    for markup in ("**", "](", "layout", "---", "```"):
        assert markup not in text


def test_passages_are_bounded_and_keep_every_word() -> None:
    text = "Short heading\n\n" + " ".join(f"Sentence number {i} is here." for i in range(200))
    parts = passages(text, max_chars=300, min_chars=100)
    assert all(len(p) <= 300 for p in parts)
    assert parts[0].startswith("Short heading\nSentence number 0")
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())
    assert passages("x" * 1000, max_chars=300) == ["x" * 300, "x" * 300, "x" * 300, "x" * 100]


def test_compact_and_join_lines() -> None:
    assert compact("a [b]\n  c", 50) == "a (b) c"
    assert compact("one two three four five", 12) == "one two…"
    assert join_lines(["aaaa", "bbbb", "cccc"], limit=11) == "aaaa | bbbb"
    assert join_lines(["a" * 30], limit=10) == "a" * 9 + "…"


# ---------------------------------------------------------------- indexing and ranking


def test_add_indexes_supported_files_only(tmp_path: Path, corpus: Path) -> None:
    idx = LocalIndex(tmp_path / "new" / "dir" / "index.sqlite3")
    stats = idx.add(corpus)
    assert (stats.added, stats.updated, stats.unchanged, stats.removed) == (3, 0, 0, 0)
    assert stats.skipped == 1
    assert stats.passages >= 3
    assert idx.document_count() == 3
    assert "3 added" in str(stats)
    assert idx.search("secret") == []


def test_ranking_puts_the_relevant_passage_first(index: LocalIndex, corpus: Path) -> None:
    hits = index.search("What is the capital of Peru?", 3)
    assert hits[0].path == str(corpus / "peru.txt")
    assert "Lima is the capital" in hits[0].snippet
    assert index.search("volcano Arequipa")[0].path == str(corpus / "volcanoes.html")
    assert index.search("sleeping cats")[0].title == "Keeping Cats"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_title_matches_count(index: LocalIndex, corpus: Path) -> None:
    assert [h.path for h in index.search("keeping")] == [str(corpus / "notes" / "cats.md")]
    assert index.search("Andes")[0].path == str(corpus / "volcanoes.html")


def test_partial_matches_come_after_full_matches(index: LocalIndex, corpus: Path) -> None:
    hits = index.search("Lima volcano", 5)
    assert {h.path for h in hits} == {str(corpus / "peru.txt"), str(corpus / "volcanoes.html")}


def test_stemming_and_diacritics(index: LocalIndex, corpus: Path) -> None:
    assert index.search("erupting")[0].path == str(corpus / "volcanoes.html")
    assert index.search("Arequípa")[0].path == str(corpus / "volcanoes.html")


def test_search_on_a_missing_index_finds_nothing_and_creates_nothing(tmp_path: Path) -> None:
    idx = LocalIndex(tmp_path / "none.sqlite3")
    assert idx.search("Peru") == []
    assert idx.document_count() == 0
    assert not idx.path.exists()


def test_add_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LocalIndex(tmp_path / "i.sqlite3").add(tmp_path / "nope")


def test_add_single_file(tmp_path: Path) -> None:
    file = write(tmp_path / "one.md", "# One\n\nA single lonely file about zebras.")
    idx = LocalIndex(tmp_path / "i.sqlite3")
    assert idx.add(file).added == 1
    assert idx.search("zebras")[0].title == "One"


# ---------------------------------------------------------------- incremental updates


def test_re_adding_skips_unchanged_files(index: LocalIndex, corpus: Path) -> None:
    stats = index.add(corpus)
    assert (stats.added, stats.updated, stats.unchanged, stats.removed, stats.passages) == (0, 0, 3, 0, 0)


def test_touched_but_identical_file_is_unchanged(index: LocalIndex, corpus: Path) -> None:
    touch_later(corpus / "peru.txt")
    stats = index.add(corpus)
    assert (stats.updated, stats.unchanged, stats.passages) == (0, 3, 0)
    assert index.add(corpus).unchanged == 3


def test_changed_new_and_deleted_files(index: LocalIndex, corpus: Path) -> None:
    write(corpus / "peru.txt", "Peru now talks about alpacas in the highlands.")
    touch_later(corpus / "peru.txt")
    write(corpus / "notes" / "new.txt", "Quinoa grows well near Lake Titicaca.")
    (corpus / "volcanoes.html").unlink()
    stats = index.add(corpus)
    assert (stats.added, stats.updated, stats.unchanged, stats.removed) == (1, 1, 1, 1)
    assert index.search("Lima") == []
    assert index.search("alpacas")[0].path == str(corpus / "peru.txt")
    assert index.search("Titicaca")[0].path == str(corpus / "notes" / "new.txt")
    assert index.search("Cotopaxi") == []
    assert index.document_count() == 3


def test_removal_is_limited_to_the_added_folder(tmp_path: Path, index: LocalIndex, corpus: Path) -> None:
    other = tmp_path / "other"
    write(other / "moon.txt", "The Moon orbits the Earth.")
    assert index.add(other).added == 1
    assert index.document_count() == 4
    (corpus / "peru.txt").unlink()
    assert index.add(other).removed == 0
    assert index.add(corpus).removed == 1
    assert index.search("Moon")[0].path == str(other / "moon.txt")


def test_fts_table_stays_in_sync_with_passages(index: LocalIndex, corpus: Path) -> None:
    write(corpus / "peru.txt", "Different text entirely.")
    touch_later(corpus / "peru.txt")
    index.add(corpus)
    with sqlite3.connect(index.path) as conn:
        conn.execute("INSERT INTO passages_fts(passages_fts) VALUES ('integrity-check')")


# ---------------------------------------------------------------- weird queries


@pytest.mark.parametrize("query", [
    '"', '""', "'", "Peru\"", 'AND', "OR OR", "NOT Peru", "Peru AND", "NEAR(Peru Lima)",
    "cap*", "^Peru", "title:Peru", "body : Lima", "(Peru", "Peru)", "{Peru}", "-Peru", "+Lima",
    "Lima; DROP TABLE documents; --", "Peru's capital?", "ПЕРУ столица", "秘鲁的首都", "🦙 llama",
    "", "   ", "\x00", "\\", "%_", "a" * 5000,
])
def test_weird_queries_never_raise(index: LocalIndex, query: str) -> None:
    index.search(query, 3)


def test_operators_are_plain_words(index: LocalIndex, corpus: Path) -> None:
    assert index.search("NOT Lima")[0].path == str(corpus / "peru.txt")
    assert index.search('"capital" OR "zzz"')[0].path == str(corpus / "peru.txt")


def test_unicode_text_is_searchable(tmp_path: Path) -> None:
    docs = tmp_path / "u"
    write(docs / "ru.txt", "Москва — столица России.")
    write(docs / "fr.md", "# Café\n\nLe café crème est délicieux.")
    idx = LocalIndex(tmp_path / "u.sqlite3")
    idx.add(docs)
    assert idx.search("столица")[0].path == str(docs / "ru.txt")
    assert idx.search("CAFE CREME")[0].path == str(docs / "fr.md")


def test_query_terms() -> None:
    assert query_terms('What is "the" capital of Peru?') == ["capital", "peru"]
    assert query_terms("the of") == ["the", "of"]
    assert query_terms("*** ()") == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=80))
def test_any_text_is_a_valid_query(index: LocalIndex, query: str) -> None:
    index.search(query, 2)


# ---------------------------------------------------------------- the tool on the local backend


def test_search_tool_on_local_backend(index: LocalIndex, corpus: Path) -> None:
    tool = search_tool(backend="local", index=index)
    out = tool.fn("capital of Peru", max_results=2)
    assert out.startswith(f"peru ({corpus / 'peru.txt'}): ")
    assert "Lima is the capital" in out
    assert "[" not in out and "]" not in out and "\n" not in out
    assert tool.fn("xylophone") == 'No results in the local documents for "xylophone".'


def test_local_backend_without_an_index_is_a_tool_error(tmp_path: Path) -> None:
    tool = search_tool(backend="local", index=LocalIndex(tmp_path / "absent.sqlite3"))
    with pytest.raises(ToolError, match="no local index"):
        tool.fn("Peru")


def test_auto_prefers_a_local_index_with_documents(
    tmp_path: Path, index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTERLEAF_SEARCH", raising=False)
    web = WebSearch(probe=lambda: "no network (test)")
    assert Searcher(index=index, web=web).backend() == "local"
    empty = LocalIndex(tmp_path / "empty.sqlite3")
    empty.add(write(tmp_path / "blank" / "empty.txt", "").parent)
    assert Searcher(index=empty, web=web).backend() == "web"
    monkeypatch.setenv("INTERLEAF_SEARCH", "web")
    with pytest.raises(ToolError, match="web search unavailable"):
        Searcher(index=index, web=web)("Peru")


def test_index_location_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLEAF_INDEX", str(tmp_path / "env.sqlite3"))
    assert default_index_path() == tmp_path / "env.sqlite3"
    assert LocalIndex().path == tmp_path / "env.sqlite3"
    assert LocalIndex(tmp_path / "arg.sqlite3").path == tmp_path / "arg.sqlite3"
    monkeypatch.delenv("INTERLEAF_INDEX")
    assert default_index_path().name == "index.sqlite3"
    assert "interleaf" in str(default_index_path())
