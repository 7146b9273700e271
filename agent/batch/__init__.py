"""Batches: many objectives (`agent batch FILE`) or eval items (`agent eval --workers N`)
run by a pool of workers, on a Ray cluster when asked and Ray is installed, else on local
processes. Each worker loads a model once per spec and keeps it. One writer: workers
send their results back and the driver stores them, so a batch's runs sit in the same
run store as any other run.

    pool = local_pool(loader, workers=2)    # or agent.batch.ray_cluster.ray_pool(loader, address=...)
    for event in run_batch(items, pool, store=store, ledger=Ledger(store.path), batch_id=...):
        ...

Ray is an optional extra (`pip install 'interleaf[ray]'`); only `agent.batch.ray_cluster` imports it.
"""

from typing import TYPE_CHECKING

from agent.lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.batch.driver import BatchSummary, ItemEnded, ItemRetried, run_batch
    from agent.batch.items import BatchItem, read_items
    from agent.batch.ledger import Ledger
    from agent.batch.pool import Died, Errored, Finished, Pool, WorkerEvent
    from agent.batch.local import local_pool
    from agent.batch.work import Loader, ObjectiveUnit, Unit, WorkerState

_HOMES = {
    "agent.batch.driver": ("BatchSummary", "ItemEnded", "ItemRetried", "run_batch"),
    "agent.batch.items": ("BatchItem", "read_items"),
    "agent.batch.ledger": ("Ledger",),
    "agent.batch.pool": ("Died", "Errored", "Finished", "Pool", "WorkerEvent"),
    "agent.batch.local": ("local_pool",),
    "agent.batch.work": ("Loader", "ObjectiveUnit", "Unit", "WorkerState"),
}
__getattr__ = lazy_attributes(__name__, {name: home for home, names in _HOMES.items() for name in names})

__all__ = [name for names in _HOMES.values() for name in names]
