"""A local full-text index of the user's documents: SQLite FTS5, ranked by BM25.

Documents are cut into passages so a hit is a short piece of text with its file path.
Adding a folder again re-indexes only what changed: files whose modification time and
size are the same are skipped without reading them, files whose content hash is the same
are skipped after reading them, and files that are gone from the folder are removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from agent.errors import ConfigError
from tools.search.text import compact, is_supported, parse_document, passages

INDEX_ENV = "INTERLEAF_INDEX"
SCHEMA_VERSION = 1
MAX_FILE_BYTES = 20_000_000
MAX_QUERY_TERMS = 32
SNIPPET_TOKENS = 48
TITLE_WEIGHT = 4.0
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})
_TERM = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset(
    "a an and are as at be by did do does for from how in is it its of on or that the this "
    "to was were what when where which who whom why with".split()
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    title TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(id),
    seq INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    title, body, content='passages', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, title, body)
    VALUES ('delete', old.id, old.title, old.body);
END;
PRAGMA user_version = {SCHEMA_VERSION};
"""

_SEARCH_SQL = f"""
SELECT p.id, d.path, d.title, p.seq, p.body,
       snippet(passages_fts, 1, '', '', '…', {SNIPPET_TOKENS}),
       bm25(passages_fts, {TITLE_WEIGHT}, 1.0) AS rank
FROM passages_fts
JOIN passages AS p ON p.id = passages_fts.rowid
JOIN documents AS d ON d.id = p.doc_id
WHERE passages_fts MATCH ?
ORDER BY rank
LIMIT ?
"""


def default_index_path() -> Path:
    """`$INTERLEAF_INDEX` if set, else `index.sqlite3` in the user's data directory."""
    override = os.environ.get(INDEX_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(user_data_dir("interleaf", appauthor=False)) / "index.sqlite3"


@dataclass(frozen=True)
class Hit:
    path: str
    title: str
    snippet: str
    """The best-matching stretch of the passage."""
    text: str
    """The whole passage."""
    score: float
    """BM25 relevance; higher is better."""
    passage: int
    """The passage's position in its document, from 0."""

    def line(self, *, snippet_chars: int = 240) -> str:
        """The hit as one line to splice inline: `title (path): snippet`."""
        shown = _display_path(self.path)
        head = compact(self.title, 80)
        return f"{head} ({shown}): {compact(self.snippet or self.text, snippet_chars)}"


@dataclass(frozen=True)
class IndexStats:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    """Files with a supported suffix that could not be read, look binary or have a name
    that is not valid UTF-8."""
    passages: int = 0
    """Passages written by this run."""
    ignored: int = 0
    """Files of types that are not indexed (see `SUPPORTED_SUFFIXES`)."""
    ignored_types: tuple[str, ...] = ()
    """The suffixes of the ignored files, sorted; "" for files without one."""
    skipped_files: tuple[tuple[str, str], ...] = ()
    """Each skipped file's path (bytes that are not UTF-8 as `\\xNN`) and why it was skipped."""

    def __str__(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.skipped} skipped ({self.passages} passages indexed)"
        )
        if self.ignored:
            types = ", ".join(t or "no suffix" for t in self.ignored_types)
            text += f"; {self.ignored} not indexed, of types {types}"
        return text


@dataclass(frozen=True)
class _Known:
    id: int
    mtime_ns: int
    size: int
    sha256: str


class LocalIndex:
    """A full-text index stored in one SQLite file.

    `path` defaults to `default_index_path()`. The file and its folder are created by the
    first `add`; searching an index that does not exist finds nothing.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_index_path()

    def __repr__(self) -> str:
        return f"LocalIndex({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.is_file()

    def document_count(self) -> int:
        """How many indexed documents have at least one passage."""
        if not self.exists():
            return 0
        with self._connect() as conn:
            row = conn.execute("SELECT COUNT(DISTINCT doc_id) FROM passages").fetchone()
        return int(row[0])

    def add(self, folder: str | os.PathLike[str]) -> IndexStats:
        """Index the supported files under `folder` (or the one file `folder` names)."""
        root = Path(folder).expanduser().absolute()
        if not root.exists():
            raise FileNotFoundError(f"no such file or folder: {root}")
        counts = dict.fromkeys(("added", "updated", "unchanged", "removed", "skipped", "passages", "ignored"), 0)
        ignored: set[str] = set()
        skipped: list[tuple[str, str]] = []
        self._make_folder()
        with self._connect() as conn:
            known = _known_documents(conn)
            seen: set[str] = set()
            for file in _walk(root):
                if not is_supported(file):
                    counts["ignored"] += 1
                    ignored.add(file.suffix.lower())
                    continue
                if not _is_utf8(str(file)):
                    skipped.append((_shown(file), "its name is not valid UTF-8"))
                    continue
                outcome = _index_file(conn, file, known.get(str(file)), counts, skipped)
                if outcome:
                    seen.add(str(file))
            for path, doc in known.items():
                if path not in seen and _is_within(Path(path), root):
                    _delete_document(conn, doc.id)
                    counts["removed"] += 1
        counts["skipped"] = len(skipped)
        return IndexStats(**counts, ignored_types=tuple(sorted(ignored)), skipped_files=tuple(skipped))

    def _make_folder(self) -> None:
        if self.path.is_dir():
            raise ConfigError(f"the index {self.path} is a folder; name a file, e.g. {self.path / 'index.sqlite3'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot make the folder of the index {self.path}: {exc.strerror or exc}") from None

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The `k` passages that best match the free-text `query`, best first.

        Every word of the query is matched as a quoted term, so punctuation and FTS5
        operators in the query are plain text. Passages with all the words come first,
        then passages with some of them.
        """
        if k <= 0 or not self.exists():
            return []
        terms = query_terms(query)
        if not terms:
            return []
        joiners = (" AND ", " OR ") if len(terms) > 1 else (" AND ",)
        hits: dict[int, Hit] = {}
        with self._connect() as conn:
            for joiner in joiners:
                if len(hits) >= k:
                    break
                match = joiner.join(f'"{t}"' for t in terms)
                for row in conn.execute(_SEARCH_SQL, (match, k + len(hits))):
                    hits.setdefault(int(row[0]), _hit(row))
        return list(hits.values())[:k]

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path} is not a search index ({exc})") from None
        with closing(conn):
            if version not in (0, SCHEMA_VERSION):
                raise ConfigError(f"the index at {self.path} has schema {version}, not {SCHEMA_VERSION}")
            try:
                if version == 0:
                    conn.executescript(_SCHEMA)
            except sqlite3.OperationalError as exc:
                if "fts5" in str(exc).lower():
                    raise ConfigError("this Python's SQLite lacks FTS5, needed for the local index") from exc
                raise
            with conn:
                yield conn


def query_terms(query: str) -> list[str]:
    """The words of a free-text query, without common stop words if others remain."""
    words = _TERM.findall(unicodedata.normalize("NFKC", query).casefold())[:MAX_QUERY_TERMS]
    unique = list(dict.fromkeys(words))
    content = [w for w in unique if w not in _STOPWORDS]
    return content or unique


def _hit(row: Sequence[Any]) -> Hit:
    _, path, title, seq, body, snippet, rank = row
    return Hit(
        path=str(path), title=str(title), snippet=str(snippet), text=str(body),
        score=-float(rank), passage=int(seq),
    )


def _walk(root: Path) -> Iterator[Path]:
    """Every file under `root` but hidden ones, supported or not."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIPPED_DIRS)
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _is_utf8(text: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (decoded as surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_within(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _known_documents(conn: sqlite3.Connection) -> dict[str, _Known]:
    rows = conn.execute("SELECT path, id, mtime_ns, size, sha256 FROM documents")
    return {str(r[0]): _Known(int(r[1]), int(r[2]), int(r[3]), str(r[4])) for r in rows}


def _shown(file: Path) -> str:
    return str(file).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _index_file(
    conn: sqlite3.Connection, file: Path, known: _Known | None, counts: dict[str, int],
    skipped: list[tuple[str, str]],
) -> bool:
    """Bring one file up to date in the index; False if it cannot be indexed."""
    try:
        stat = file.stat()
        if known and known.mtime_ns == stat.st_mtime_ns and known.size == stat.st_size:
            counts["unchanged"] += 1
            return True
        if stat.st_size > MAX_FILE_BYTES:
            skipped.append((_shown(file), f"it is larger than {MAX_FILE_BYTES:,} bytes"))
            return False
        data = file.read_bytes()
    except OSError as exc:
        skipped.append((_shown(file), f"it cannot be read ({exc.strerror or exc})"))
        return False
    digest = hashlib.sha256(data).hexdigest()
    if known and known.sha256 == digest:
        conn.execute(
            "UPDATE documents SET mtime_ns = ?, size = ? WHERE id = ?",
            (stat.st_mtime_ns, stat.st_size, known.id),
        )
        counts["unchanged"] += 1
        return True
    document = parse_document(data, suffix=file.suffix, fallback_title=file.stem)
    if document is None:
        skipped.append((_shown(file), "it looks binary"))
        return False
    if known:
        _delete_document(conn, known.id)
    cursor = conn.execute(
        "INSERT INTO documents (path, mtime_ns, size, sha256, title) VALUES (?, ?, ?, ?, ?)",
        (str(file), stat.st_mtime_ns, stat.st_size, digest, document.title),
    )
    doc_id = cursor.lastrowid
    rows = [(doc_id, seq, document.title, body) for seq, body in enumerate(passages(document.text))]
    conn.executemany("INSERT INTO passages (doc_id, seq, title, body) VALUES (?, ?, ?, ?)", rows)
    counts["updated" if known else "added"] += 1
    counts["passages"] += len(rows)
    return True


def _delete_document(conn: sqlite3.Connection, doc_id: int) -> None:
    conn.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
    conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))


def _display_path(path: str) -> str:
    home = str(Path.home())
    if home not in ("", "/") and path.startswith(home + os.sep):
        return "~" + path[len(home):]
    return path
