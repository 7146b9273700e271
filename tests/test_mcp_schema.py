"""An MCP tool's listing as an Interleaf tool, and a call's content as spliced text,
without a server: JSON schemas of many shapes, names the markup cannot write."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.errors import BadArguments, ToolError
from agent.grammar import tool_grammar
from agent.markup import ParsedCall
from agent.mcp.schema import call_name, make_mcp_tool, tool_output
from agent.prompt import system_prompt
from agent.results import ToolOutput
from test_grammar import Gbnf

sent: list[tuple[str, dict[str, Any]]] = []


async def echo(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    sent.append((name, arguments))
    return {"content": [{"type": "text", "text": "ok"}]}


LISTED = {
    "name": "search-notes",
    "description": "Search the notes.\n  Returns  matching lines.",
    "inputSchema": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "words to find"},
            "from": {"type": "string", "format": "date"},
            "max-hits": {"type": "integer", "default": 5},
            "order": {"enum": ["newest", "oldest"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "exact": {"type": ["boolean", "null"]},
            "filter": {"type": "object"},
        },
        "required": ["query"],
    },
}


def test_names_the_markup_cannot_write_are_made_writable() -> None:
    assert call_name("read-file") == "read_file"
    assert call_name("github.search", "gh_") == "gh_github_search"
    assert call_name("3d") == "_3d" and call_name("class") == "_class"


def test_the_schema_binds_arguments_and_the_servers_names_are_sent() -> None:
    tool = make_mcp_tool(LISTED, echo)
    assert tool.name == "search_notes" and tool.description == "Search the notes. Returns matching lines."
    assert tool.raw_param == "query" and tool.param_docs["query"] == "words to find"
    call = ParsedCall.of("search_notes", 'query="milk", p_from="2026-01-01", max_hits=2, order="oldest", tags=["a"]')
    arguments = tool.bind(call)
    sent.clear()
    asyncio.run(tool.fn(**arguments))
    assert sent == [("search-notes", {"query": "milk", "from": "2026-01-01", "max-hits": 2, "order": "oldest",
                                      "tags": ["a"]})]
    assert tool.bind(ParsedCall.of("search_notes", "milk and bread"))["query"] == "milk and bread"
    for bad in ('query="x", order="sideways"', 'query="x", max_hits="many"', 'query="x", colour="red"'):
        with pytest.raises(BadArguments):
            tool.bind(ParsedCall.of("search_notes", bad))
    schema = tool.json_schema()
    assert schema["required"] == ["query"] and schema["properties"]["order"]["enum"] == ["newest", "oldest"]


def test_content_becomes_text_and_what_is_not_text_is_kept() -> None:
    assert tool_output({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}) == "a\nb"
    assert tool_output({"content": [], "structuredContent": {"n": 1}}) == '{"n": 1}'
    mixed = tool_output({"content": [
        {"type": "text", "text": "Here:"}, {"type": "audio", "mimeType": "audio/wav", "data": "AAAA"},
        {"type": "resource_link", "uri": "file:///notes.md", "name": "notes", "mimeType": "text/markdown"},
        {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "inline text"}},
    ]})
    assert isinstance(mixed, ToolOutput)
    assert mixed.text == "Here:\n[audio: audio/wav, 3 bytes]\n[resource: file:///notes.md, text/markdown]\ninline text"
    assert [c["type"] for c in mixed.content] == ["audio", "resource_link", "resource"]
    with pytest.raises(ToolError, match="quota exceeded"):
        tool_output({"content": [{"type": "text", "text": "quota exceeded"}], "isError": True})


def test_the_schema_drives_the_call_grammar_and_the_prompt() -> None:
    tool = make_mcp_tool(LISTED, echo)
    grammar = Gbnf(tool_grammar(tool))
    assert grammar.accepts('"milk")]')  # the leading string, quoted, with other parameters
    assert grammar.accepts('query="milk", order="oldest", max_hits=2, p_from="2026-01-01")]')
    assert grammar.accepts("query='milk', tags=['a', 'b'], exact=None)]")
    for bad in ('query="milk", order="sideways")]', 'query="milk", max_hits="many")]', 'query="milk", colour="red")]',
                'order="oldest")]'):
        assert not grammar.accepts(bad), bad
    prompt = system_prompt([tool])
    assert f"- {tool.signature()}: Search the notes. Returns matching lines." in prompt
    assert tool.signature().startswith("search_notes(query: str, p_from: str")
    assert "order: Literal['newest', 'oldest']" in prompt and "tags: list[str]" in prompt  # what is accepted
