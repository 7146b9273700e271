"""Which items of a batch file have ended, kept beside the runs (same SQLite file), so
that `agent batch FILE --resume` runs only what is missing."""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, file TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_items (
    batch_id TEXT NOT NULL REFERENCES batches(id), key TEXT NOT NULL, line INTEGER NOT NULL,
    status TEXT NOT NULL, run_id TEXT, reason TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0, PRIMARY KEY (batch_id, key)
);
"""

DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class ItemRecord:
    key: str
    line: int
    status: str
    """done (its run finished) or failed (its run failed, or no worker could run it)."""
    run_id: str | None
    reason: str
    attempts: int
    seconds: float


class Ledger:
    """The batches of one run store file. Written by the driver only."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def start(self, file: Path) -> str:
        batch_id = uuid.uuid4().hex[:8]
        now = time.time()
        self._conn.execute("INSERT INTO batches (id, file, created, updated) VALUES (?, ?, ?, ?)",
                           (batch_id, str(file.resolve()), now, now))
        return batch_id

    def latest(self, file: Path) -> str | None:
        """The last batch started on this file, if any."""
        row = self._conn.execute("SELECT id FROM batches WHERE file = ? ORDER BY created DESC LIMIT 1",
                                 (str(file.resolve()),)).fetchone()
        return None if row is None else str(row[0])

    def items(self, batch_id: str) -> dict[str, ItemRecord]:
        rows = self._conn.execute(
            "SELECT key, line, status, run_id, reason, attempts, seconds FROM batch_items WHERE batch_id = ?",
            (batch_id,)).fetchall()
        return {r[0]: ItemRecord(*r) for r in rows}

    def record(self, batch_id: str, item: ItemRecord) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute(
            "INSERT OR REPLACE INTO batch_items (batch_id, key, line, status, run_id, reason, attempts, seconds)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (batch_id, item.key, item.line, item.status, item.run_id, item.reason, item.attempts, item.seconds))
        self._conn.execute("UPDATE batches SET updated = ? WHERE id = ?", (time.time(), batch_id))
        self._conn.execute("COMMIT")
