"""The driver of a batch: it hands items to the pool and is the one writer of what comes
back (each item's run, and the ledger entry that says the item has ended)."""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass

from agent.batch.items import BatchItem
from agent.batch.ledger import DONE, FAILED, ItemRecord, Ledger
from agent.batch.pool import Pool, UnitDone, UnitFailed, UnitRetried
from agent.batch.work import ObjectiveUnit, RunExport, import_run, record_failure
from agent.models import DEFAULT_MODEL
from agent.tasks.state import ObjectiveRecord, ObjectiveStatus
from agent.tasks.store import ObjectiveStore


@dataclass(frozen=True)
class ItemEnded:
    item: BatchItem
    record: ItemRecord
    run: ObjectiveRecord


@dataclass(frozen=True)
class ItemRetried:
    item: BatchItem
    reason: str
    worker: str


BatchEvent = ItemEnded | ItemRetried


@dataclass(frozen=True)
class BatchSummary:
    total: int
    """Items in the file."""
    skipped: int
    """Items that had ended in an earlier session of the batch (`--resume`)."""
    done: int
    failed: int


def missing(items: Sequence[BatchItem], ledger: Ledger, batch_id: str) -> list[BatchItem]:
    """The items that have not ended in this batch yet."""
    ended = ledger.items(batch_id)
    return [item for item in items if item.key not in ended]


def run_batch(items: Sequence[BatchItem], pool: Pool, *, store: ObjectiveStore, ledger: Ledger, batch_id: str,
              cancel: threading.Event | None = None) -> Generator[BatchEvent, None, None]:
    """Run `items` on `pool`, storing each run as it comes back. Setting `cancel` stops
    the batch between two writes; every item that had ended is kept."""
    by_key = {item.key: item for item in items}
    units = [ObjectiveUnit(item.key, item.objective, item.model, item.options) for item in items]
    for event in pool.run(units, cancel):
        item = by_key[event.key]
        if isinstance(event, UnitRetried):
            yield ItemRetried(item, event.reason, event.worker)
            continue
        if isinstance(event, UnitDone):
            assert isinstance(event.value, RunExport)
            run = import_run(store, event.value)
            failed = run.status is not ObjectiveStatus.FINISHED
            record = ItemRecord(item.key, item.line, FAILED if failed else DONE, run.id,
                                run.detail if failed else "", event.attempts, event.seconds)
        else:
            assert isinstance(event, UnitFailed)
            reason = f"failed {event.attempts} times: {event.reason}"
            run = record_failure(store, item.objective, model=item.model or DEFAULT_MODEL, options=item.options,
                                 reason=reason)
            record = ItemRecord(item.key, item.line, FAILED, run.id, reason, event.attempts, 0.0)
        ledger.record(batch_id, record)
        yield ItemEnded(item, record, run)
