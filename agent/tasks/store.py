"""Objective runs in SQLite (WAL): each run, its tasks and its event transcript. Every
change is committed before the runner takes its next step."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from agent.errors import ConfigError, UserError
from agent.reasons import StopReason
from agent.tasks.state import (
    Phase, ObjectiveOptions, ObjectiveRecord, ObjectiveStatus, Task, TaskStatus, Totals
)

HOME_ENV = "INTERLEAF_HOME"
DB_NAME = "runs.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, objective TEXT NOT NULL, model TEXT NOT NULL, options TEXT NOT NULL,
    status TEXT NOT NULL, phase TEXT NOT NULL, stop_reason TEXT, detail TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL DEFAULT '', totals TEXT NOT NULL DEFAULT '{}', creations INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL, updated REAL NOT NULL, pid INTEGER
);
CREATE TABLE IF NOT EXISTS tasks (
    run_id TEXT NOT NULL REFERENCES runs(id), id INTEGER NOT NULL, text TEXT NOT NULL,
    position INTEGER NOT NULL, status TEXT NOT NULL, result TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '', origin TEXT NOT NULL, parent INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0, followed_up INTEGER NOT NULL DEFAULT 0,
    parts TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, id)
);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL, time REAL NOT NULL,
    type TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq)
);
"""

_RUN_FIELDS = {"status", "phase", "stop_reason", "detail", "answer", "totals", "creations", "pid"}
_TASK_FIELDS = {"text", "position", "status", "result", "detail", "attempts", "followed_up", "parts"}


class UnknownRun(UserError):
    def __init__(self, run_id: str, reason: str = "") -> None:
        self.run_id = run_id
        super().__init__(reason or f"no run {run_id!r}; `agent runs` lists them")


def default_home() -> Path:
    """`$INTERLEAF_HOME` if set, else the user's data directory for interleaf."""
    override = os.environ.get(HOME_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(user_data_dir("interleaf", appauthor=False))


def _open(path: Path) -> sqlite3.Connection:
    """The store's connection, its folder made first; a path that cannot hold runs is a
    `ConfigError` that names it."""
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"cannot keep runs in {folder}: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot make the folder {folder} for runs: {exc.strerror or exc}") from None
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(_SCHEMA)
        if "parts" not in {row[1] for row in conn.execute("PRAGMA table_info(tasks)")}:  # a store made before
            conn.execute("ALTER TABLE tasks ADD COLUMN parts TEXT NOT NULL DEFAULT '[]'")
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"cannot keep runs in {path}: {exc}") from None
    return conn


class ObjectiveStore:
    """One SQLite file of runs. Use from one thread; `transaction()` groups writes."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_home() / DB_NAME
        self._conn = _open(self.path)
        self._depth = 0

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside commit together when the outermost block ends."""
        if self._depth == 0:
            self._conn.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self._conn.execute("COMMIT")

    def create_run(self, objective: str, *, model: str, options: ObjectiveOptions) -> ObjectiveRecord:
        check_utf8(objective, "the objective")
        run_id = uuid.uuid4().hex[:8]
        now = time.time()
        with self.transaction():
            self._conn.execute(
                "INSERT INTO runs (id, objective, model, options, status, phase, totals, created, updated, pid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, objective, model, json.dumps(options.to_json()), ObjectiveStatus.RUNNING.value,
                 Phase.PLANNING.value, json.dumps(Totals().to_json()), now, now, os.getpid()))
        return self.run(run_id)

    def run(self, run_id: str) -> ObjectiveRecord:
        """The run whose id is `run_id` or starts with it (when only one does)."""
        if not run_id.isascii():
            raise UnknownRun(run_id, f"no run {run_id!r}: a run id is hexadecimal; `agent runs` lists them")
        rows = self._conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchall()
        if not rows and run_id:
            pattern = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = self._conn.execute("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\'", (pattern,)).fetchall()
        if not rows:
            raise UnknownRun(run_id)
        if len(rows) > 1:
            raise UnknownRun(run_id, f"run id {run_id!r} is ambiguous: {', '.join(r[0] for r in rows)}")
        return _settled(_run(rows[0]))

    def runs(self, *, limit: int = 50) -> list[ObjectiveRecord]:
        rows = self._conn.execute("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [_settled(_run(r)) for r in rows]

    def update_run(self, run_id: str, **values: Any) -> None:
        unknown = set(values) - _RUN_FIELDS
        if unknown:
            raise ValueError(f"not run fields: {sorted(unknown)}")
        values["updated"] = time.time()
        data = {k: _column(v) for k, v in values.items()}
        sets = ", ".join(f"{k} = ?" for k in data)
        with self.transaction():
            self._conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*data.values(), run_id))

    def reopen(self, run_id: str) -> None:
        """Make a finished run resumable again (after its limits were raised): its answer
        and stop are cleared, and its last done task is followed up anew, so new tasks
        may be created for it. A run stopped before any task was planned plans anew."""
        with self.transaction():
            planned = self._conn.execute("SELECT 1 FROM tasks WHERE run_id = ? LIMIT 1", (run_id,)).fetchone()
            row = self._conn.execute(
                "SELECT id FROM tasks WHERE run_id = ? AND status = ? ORDER BY position DESC, id DESC LIMIT 1",
                (run_id, TaskStatus.DONE.value)).fetchone()
            if row is not None:
                self.update_task(run_id, int(row[0]), followed_up=False)
            self.update_run(run_id, status=ObjectiveStatus.INTERRUPTED,
                            phase=Phase.EXECUTING if planned else Phase.PLANNING, stop_reason=None,
                            detail="", answer="", pid=None)

    def update_options(self, run_id: str, options: ObjectiveOptions) -> None:
        with self.transaction():
            self._conn.execute("UPDATE runs SET options = ?, updated = ? WHERE id = ?",
                               (json.dumps(options.to_json()), time.time(), run_id))

    def add_tasks(self, run_id: str, texts: Sequence[str], *, origin: str, parent: int | None = None) -> list[Task]:
        with self.transaction():
            row = self._conn.execute(
                "SELECT COALESCE(MAX(id), 0), COALESCE(MAX(position), 0) FROM tasks WHERE run_id = ?",
                (run_id,)).fetchone()
            first_id, first_pos = int(row[0]) + 1, int(row[1]) + 1
            added = [Task(id=first_id + n, text=text, position=first_pos + n, origin=origin, parent=parent)
                     for n, text in enumerate(texts)]
            self._conn.executemany(
                "INSERT INTO tasks (run_id, id, text, position, status, origin, parent) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, t.id, t.text, t.position, t.status.value, t.origin, t.parent) for t in added])
        return added

    def tasks(self, run_id: str) -> list[Task]:
        from agent.parts import from_data  # the markup loads where tasks are read, not to list runs

        rows = self._conn.execute(
            "SELECT id, text, position, status, result, detail, origin, parent, attempts, followed_up, parts"
            " FROM tasks WHERE run_id = ? ORDER BY position, id", (run_id,)).fetchall()
        return [Task(id=r[0], text=r[1], position=r[2], status=TaskStatus(r[3]), result=r[4], detail=r[5],
                     origin=r[6], parent=r[7], attempts=r[8], followed_up=bool(r[9]),
                     parts=from_data(json.loads(r[10]))) for r in rows]

    def update_task(self, run_id: str, task_id: int, **values: Any) -> None:
        unknown = set(values) - _TASK_FIELDS
        if unknown:
            raise ValueError(f"not task fields: {sorted(unknown)}")
        data = {k: _column(v) for k, v in values.items()}
        sets = ", ".join(f"{k} = ?" for k in data)
        with self.transaction():
            self._conn.execute(f"UPDATE tasks SET {sets} WHERE run_id = ? AND id = ?",
                               (*data.values(), run_id, task_id))

    def set_order(self, run_id: str, ids: Iterable[int]) -> None:
        """Give the tasks `ids` positions in this order, after every other task's."""
        with self.transaction():
            row = self._conn.execute("SELECT COALESCE(MAX(position), 0) FROM tasks WHERE run_id = ?",
                                     (run_id,)).fetchone()
            start = int(row[0]) + 1
            self._conn.executemany("UPDATE tasks SET position = ? WHERE run_id = ? AND id = ?",
                                   [(start + n, run_id, i) for n, i in enumerate(ids)])

    def append_event(self, run_id: str, data: dict[str, Any]) -> None:
        with self.transaction():
            row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?",
                                     (run_id,)).fetchone()
            self._conn.execute("INSERT INTO events (run_id, seq, time, type, data) VALUES (?, ?, ?, ?, ?)",
                               (run_id, int(row[0]) + 1, time.time(), str(data.get("type", "")),
                                json.dumps(data, ensure_ascii=False)))

    def events(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT data FROM events WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        return [json.loads(r[0]) for r in rows]


def check_utf8(text: str, what: str) -> str:
    """`text`, or a `ConfigError` when it holds bytes that are not UTF-8 (which Python
    decodes from the command line as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        shown = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        raise ConfigError(f"{what} is not valid UTF-8 ({shown} at character {exc.start + 1})") from None
    return text


def _column(value: Any) -> Any:
    if isinstance(value, (StopReason, ObjectiveStatus, Phase, TaskStatus)):
        return value.value
    if isinstance(value, Totals):
        return json.dumps(value.to_json())
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple):
        from agent.parts import to_data

        return json.dumps(to_data(value))
    return value


def _run(row: Sequence[Any]) -> ObjectiveRecord:
    (run_id, objective, model, options, status, phase, stop_reason, detail, answer, totals,
     creations, created, updated, pid) = row
    return ObjectiveRecord(
        id=run_id, objective=objective, model=model, options=ObjectiveOptions.from_json(json.loads(options)),
        status=ObjectiveStatus(status), phase=Phase(phase),
        stop_reason=StopReason(stop_reason) if stop_reason else None, detail=detail, answer=answer,
        totals=Totals.from_json(json.loads(totals)), creations=creations, created=created, updated=updated, pid=pid,
    )


def _settled(record: ObjectiveRecord) -> ObjectiveRecord:
    """A run marked running whose process is gone (killed, or the machine stopped) reads
    as interrupted: it can be resumed."""
    if record.status is not ObjectiveStatus.RUNNING or process_alive(record.pid):
        return record
    process = f"its process {record.pid}" if record.pid is not None else "its process"
    return replace(record, status=ObjectiveStatus.INTERRUPTED,
                   detail=f"{process} ended without stopping the run (killed?); it can be resumed")


def process_alive(pid: int | None) -> bool:
    """Whether a process with this id exists (a run it holds is not to be resumed)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
