"""Data for fine-tuning, from the agent's own runs.

Two kinds:
- instruction–answer pairs from runs that ended well and whose answer a check backs
  (every call succeeded, and a call's result or a spliced value is used by the text);
- Toolformer-style call annotations: a call is kept only if its result makes the text
  that follows easier to predict (Schick et al. 2023, section 2):

      L+ = loss of the next tokens given the text before the call and the call with its result
      L- = min(loss with no call at all, loss given the call without its result)
      keep the call when L- - L+ >= tau (1.0 in the paper)

  The loss is the weighted negative log-likelihood of the next tokens with weights
  w_t proportional to max(0, 1 - 0.2 t): the five tokens after the call count, the
  nearest most.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from agent.events import RunResult, StopReason
from agent.markup import DEFAULT_MARKUP, Markup
from agent.parts import CallRecord, Part, parts_of, rendered
from agent.support import supported
from agent.tasks.state import TaskStatus, written
from agent.tasks.store import ObjectiveStore

PAPER_TAU = 1.0
PAPER_WINDOW = 5


class Scorer(Protocol):
    """Log-probabilities a language model gives each token of `continuation` after
    `context` (natural log, one value per token)."""

    def token_logprobs(self, context: str, continuation: str) -> Sequence[float]: ...


def weights(window: int = PAPER_WINDOW) -> list[float]:
    raw = [max(0.0, 1.0 - 0.2 * t) for t in range(window)]
    total = sum(raw)
    return [w / total for w in raw]


def weighted_loss(logprobs: Sequence[float], window: int = PAPER_WINDOW) -> float:
    """Weighted negative log-likelihood over the first `window` tokens (weights of
    tokens past the end are dropped and the rest renormalised)."""
    w = weights(window)[: len(logprobs)]
    if not w or sum(w) == 0:
        return 0.0
    total = sum(w)
    return -sum(wt * lp for wt, lp in zip(w, logprobs)) / total


@dataclass(frozen=True)
class CallVerdict:
    name: str
    raw: str
    result: str
    loss_with_result: float
    loss_without_call: float
    loss_without_result: float

    @property
    def gain(self) -> float:
        """L- - L+: how much the result helps predict what follows."""
        return min(self.loss_without_call, self.loss_without_result) - self.loss_with_result

    def keep(self, tau: float = PAPER_TAU) -> bool:
        return self.gain >= tau


def judge_calls(
    annotated: str | Sequence[Part], scorer: Scorer, *, markup: Markup = DEFAULT_MARKUP,
    window: int = PAPER_WINDOW, continuation_chars: int = 200,
) -> list[CallVerdict]:
    """Score every call that has a result on its own: the context is the plain text
    before it (other calls left out), the continuation the plain text after it. Calls
    with no text after them are not judged. `annotated` is a run's parts, or a text
    annotated with calls (read into parts)."""
    verdicts = _verdicts(_parts(annotated, markup), scorer, markup, window, continuation_chars)
    return [v for v in verdicts if v is not None]


def filter_calls(annotated: str | Sequence[Part], scorer: Scorer, *, tau: float = PAPER_TAU,
                 markup: Markup = DEFAULT_MARKUP, window: int = PAPER_WINDOW) -> tuple[str, list[CallVerdict]]:
    """The text with only the calls that pass the filter, and the verdict on each judged
    call; a call that cannot be judged is left out too."""
    parts = _parts(annotated, markup)
    verdicts = _verdicts(parts, scorer, markup, window, 200)
    kept = [part for part, verdict in zip(parts, verdicts)
            if not isinstance(part, CallRecord) or (verdict is not None and verdict.keep(tau))]
    return rendered(kept), [v for v in verdicts if v is not None]


def _parts(annotated: str | Sequence[Part], markup: Markup) -> Sequence[Part]:
    return parts_of(annotated, markup) if isinstance(annotated, str) else annotated


def _verdicts(parts: Sequence[Part], scorer: Scorer, markup: Markup, window: int,
              continuation_chars: int) -> list[CallVerdict | None]:
    """A verdict for each part that is a judged call, None for every other part."""
    plain = ["" if isinstance(p, CallRecord) else rendered([p]) for p in parts]
    verdicts: list[CallVerdict | None] = []
    for i, part in enumerate(parts):
        after = "".join(plain[i + 1 :])[:continuation_chars] if isinstance(part, CallRecord) else ""
        if not isinstance(part, CallRecord) or part.result is None or part.error is not None or not after.strip():
            verdicts.append(None)
            continue
        before = "".join(plain[:i])

        def loss(context: str) -> float:
            return weighted_loss(scorer.token_logprobs(context, after), window)

        verdicts.append(CallVerdict(
            part.name, part.raw, part.result,
            loss_with_result=loss(before + markup.completed(part.name, part.raw, part.result)),
            loss_without_call=loss(before),
            loss_without_result=loss(before + markup.completed(part.name, part.raw, "")),
        ))
    return verdicts


def good_run(result: RunResult) -> bool:
    """A run worth learning from: it ended on its own, no call failed, and a check backs
    its answer (a call whose result the text uses, or a spliced value)."""
    return result.stop_reason is StopReason.END and bool(result.text.strip()) and supported(result.parts)


@dataclass(frozen=True)
class Pair:
    instruction: str
    output: str
    calls: int


def instruction_pairs(runs: Iterable[tuple[str, RunResult]]) -> Iterator[Pair]:
    """(instruction, result) of good runs as training pairs, the calls left in the text."""
    for instruction, result in runs:
        if good_run(result):
            yield Pair(instruction, result.text.strip(), len(result.calls))


def to_jsonl(items: Iterable[Pair | CallVerdict]) -> Iterator[str]:
    for item in items:
        fields = asdict(item)
        if isinstance(item, CallVerdict):
            fields["gain"] = item.gain
        yield json.dumps(fields, ensure_ascii=False)



def stored_pairs(store: ObjectiveStore) -> Iterator[Pair]:
    """Pairs from the saved objective runs: each finished task whose answer a check backs
    (`agent.support.supported`, read from the parts the store keeps for it). A question
    (`agent run --single`) is its own instruction; a planned run's written answer is
    backed by no check and is left out."""
    for run in store.runs(limit=1_000_000):
        for task in store.tasks(run.id):
            parts = written(task)
            if task.status is not TaskStatus.DONE or not task.result.strip() or not supported(parts):
                continue
            instruction = run.objective if run.options.single else f"Objective: {run.objective}\n\nTask: {task.text}"
            yield Pair(instruction, task.result.strip(), sum(isinstance(p, CallRecord) for p in parts))


def judged_text(text: str, scorer: Scorer, *, tau: float = PAPER_TAU) -> dict[str, object]:
    """One line of the call-annotation export: the text with only the calls that pass
    the filter, and the verdict on every call."""
    kept, verdicts = filter_calls(text, scorer, tau=tau)
    return {"text": kept, "calls": [{**asdict(v), "gain": v.gain, "kept": v.keep(tau)} for v in verdicts]}
