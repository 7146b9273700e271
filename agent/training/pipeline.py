"""The whole method for one tool set: corpus, sampling and filtering, fine-tuning in a
child process, quantization, registration. `train(config)` yields typed events;
`run(config)` drains them and returns the last."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.models import user_models
from agent.models.catalog import model_path, model_profile
from agent.parts import calls_in, parts_of
from agent.tools import Tool, installed_tools
from agent.training import annotating, balance, corpus, prompted
from agent.training.compound import compound, worked_answer
from agent.training.events import (EpochFinished, Progress, SamplingFinished, StageStarted, TrainEvent,
                                   TrainingFinished)
from agent.training.plan import FitPlan
from agent.training.sampling import Annotated, SamplingConfig, positions, same_number, without_calls
from agent.training.fit import UnsupportedArchitecture, check_architecture
from agent.training.worker import UnsupportedModel, run_child


@dataclass(frozen=True)
class TrainConfig:
    base: str = "smollm2-135m"
    """A packaged model name or a GGUF path."""
    name: str = "smollm2-135m-tools"
    """The spec the tuned model is registered under."""
    tools: tuple[Tool, ...] = ()
    """The tools to learn (default: the calculator)."""
    texts: tuple[str, ...] = ()
    """The corpus; empty: the generated word problems."""
    corpus_size: int = 640
    """Generated problems to annotate when `texts` is empty (the pipeline in about 21
    minutes on 2 cores; benchmarks/RESULTS.md, runs 61 and 62)."""
    extra_texts: tuple[str, ...] = ()
    """Training texts used as they are (e.g. instruction–answer pairs from saved runs)."""
    answer_calls_only: bool = True
    """A text that ends in "the answer is N" joins the training set only if the filter kept
    a call for N: one whose answer the model wrote unaided would teach it to answer
    without the tool. Texts without that phrase join with any kept call."""
    every_step: bool = False
    """A text joins only if the filter kept a call at every position before a new number
    (`sampling.positions`). Off by default: on 260 problems it left 11 multi-step texts of
    111 (36 of 126 without it; runs 6 and 7 in benchmarks/RESULTS.md)."""
    compound: bool = True
    """A worked answer with several steps joins only with a call kept at each, rewritten
    as one compound call after "The answer is" (`agent.training.compound`); a chain that
    does not compose is left out. The tuned model then answers a multi-step question with
    one call, as it answers a one-step one (runs 16 to 36 in benchmarks/RESULTS.md)."""
    multi_step_repeats: int = 2
    """Times a text whose call does several operations (a multi-step answer as one compound
    call) is trained in each epoch. Run 39's texts in two orders solved 14 and 5 of the 41
    multi-step problems trained once, 17 and 16 trained twice (runs 45, 46, 48 and 49 in
    benchmarks/RESULTS.md); training takes half as long again. Three times helped one
    seed of three and cost the others one-step problems (runs 52 to 55)."""
    rare_operation_repeats: int = 2
    """At most this many times, a one-step text whose operation is rarer than the most
    common one's is trained in each epoch (`balance.times`); 1 trains every one-step text
    once. Twice raised the texts of seeds 0 and 2 from 47.2% and 44.0% of the arithmetic
    set to 52.8% and 55.2% (multi-step problems 11 → 18 and 8 → 21 of 41) and lowered seed
    1's from 49.6% to 44.0% (14 → 11); training takes about a seventh longer (runs 56 to 60 in
    benchmarks/RESULTS.md, on the corpus before `agent.training.measures`)."""
    agreeing_only: bool = True
    """A text joins only if every numeric result is the number written after it
    (`results_agree`)."""
    examples: int | None = None
    """Few-shot examples per tool in the tuned model's question prompts (its recipe in the
    catalog, which `Agent` and `agent eval` use); None: the base model's, so that the two
    are asked alike. With the base's three examples, seven tuned models of runs 5 to 44
    solved 1.3 more problems of 125 on average than without (−2 to +5; benchmarks/RESULTS.md)."""
    prompted: bool = False
    """Train the texts in the question layout after the system prompt the tuned model is
    asked with (`agent.training.prompted`), `per_prompt` texts to a prompt; use
    `n_ctx=512` for room (the system prompt is about 230 tokens with the installed tools).
    Off by default: on the same 80 texts it did worse (15.2% vs 22.4% on the arithmetic
    set, benchmarks/RESULTS.md) and took three times as long to train."""
    per_prompt: int = 3
    n_ctx: int = 256
    """Tokens per training window."""
    dataset: Path | None = None
    """Training texts kept by an earlier run (its `dataset.jsonl`): sampling is skipped."""
    sampling: SamplingConfig = SamplingConfig()
    sampling_workers: int = field(default_factory=annotating.default_workers)
    """Processes that sample at once, sharing `threads` (default: one per core, at most
    `annotating.MAX_WORKERS`)."""
    epochs: int = 3
    """Three epochs of the default corpus keep the whole pipeline under 30 minutes on 2
    cores (21.0 minutes with 640 problems and the defaults' repeats, run 61 in
    benchmarks/RESULTS.md)."""
    lr: float = 5e-5
    lr_min: float | None = None
    """Where the cosine schedule ends (None: a tenth of `lr`)."""
    val_split: float = 0.1
    ftype: str = "q8_0"
    """The tuned model's type. Not the packaged SmolLM2's q4_1: the fine-tuning moves the
    weights by less than half a Q4_1 step, so re-quantizing to Q4_1 put them back where
    they were (the tuned Q4_1 file answered exactly as the base; its F32 checkpoint and a
    Q8_0 copy answered as trained)."""
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    """llama.cpp threads: the training's, and the sampling workers' between them (default:
    one per core; two threads trained SmolLM2-135M at 88 tokens/s against 47 for one)."""
    last_blocks: int = 0
    average: bool = True
    """The tuned weights are the mean of every epoch's checkpoint (`agent.training.soup`),
    not the last epoch's. In four trainings of three epochs the mean scored 47.2 / 42.4 /
    44.8 / 27.2% of the arithmetic set where the last epoch scored 40.8 / 22.4 / 38.4 /
    32.8% (runs 35 to 38, benchmarks/RESULTS.md)."""
    base_share: float = 0.5
    """The base model's share in the tuned weights, which become (1 - s) * tuned + s * base
    (WiSE-FT, Wortsman et al. 2022): the training's wordings teach the calls, the base keeps
    what it read elsewhere. Half and half solved 4 to 14 more of the arithmetic set's 125
    problems than the tuned weights alone in eight tuned models of nine (one fewer in the
    ninth); a third or two thirds of the base did less (runs 39 to 49 in
    benchmarks/RESULTS.md). 0 keeps the tuned weights alone."""
    max_steps: int = 0
    home: Path | None = None
    """The data folder the model is registered in (default: `$INTERLEAF_HOME`, else the
    user data directory)."""
    workdir: Path | None = None
    """The training set (`dataset.jsonl`), checkpoints and intermediate files (default:
    `<home>/training/<name>`); a run with the same workdir resumes from its last
    finished epoch."""
    seed: int = 0

    @property
    def lr_end(self) -> float:
        """Where the learning rate ends."""
        return self.lr / 10 if self.lr_min is None else self.lr_min

    def folder(self) -> Path:
        return self.workdir or user_models.models_dir(self.home).parent / "training" / self.name


def _tools(config: TrainConfig) -> tuple[Tool, ...]:
    if config.tools:
        return config.tools
    from agent.tools import installed

    return (installed("Calculator"),)


def _base_path(spec: str) -> Path:
    path = Path(spec).expanduser()
    if spec.lower().endswith(".gguf"):
        if not path.is_file():
            raise ConfigError(f"no such model file: {spec}")
        return path
    return model_path(spec)


def sample(config: TrainConfig, tool: Tool, texts: list[str]) -> Iterator[Progress | Annotated]:
    """Annotate `texts` with calls to `tool` by a copy of the base made for it
    (`annotating.sampling_model`); yields progress and each annotated text."""
    kept, started = 0, time.monotonic()
    model = annotating.sampling_model(_base_path(config.base), config.folder())
    run = annotating.annotated(model, tool, config.sampling, texts,
                               workers=config.sampling_workers, threads=config.threads)
    try:
        with closing(run):  # stopped early, the models and workers are let go at once
            for i, annotated in enumerate(run, 1):
                kept += annotated.kept
                elapsed = time.monotonic() - started
                yield Progress("sample", i, len(texts), kept=kept, seconds_left=elapsed / i * (len(texts) - i))
                yield annotated
    finally:
        model.unlink(missing_ok=True)


def _corpus(config: TrainConfig) -> list[str]:
    if config.texts:
        return list(config.texts)
    return corpus.generated(config.corpus_size, seed=config.seed)


def _sampled(config: TrainConfig, texts: list[str]) -> Generator[TrainEvent, None, list[str]]:
    """Sampling with each tool in turn (each sees the calls of the ones before); returns
    the texts with at least one kept call."""
    totals = {"positions": 0, "sampled": 0, "kept": 0}
    called = [False] * len(texts)
    complete = [False] * len(texts)
    too_long: set[int] = set()
    steps = [len(positions(text)) for text in texts]
    for tool in _tools(config):
        annotated: list[str] = []
        for item in sample(config, tool, texts):
            if isinstance(item, Annotated):
                totals["positions"] += item.positions
                totals["sampled"] += item.sampled
                totals["kept"] += item.kept
                called[len(annotated)] = called[len(annotated)] or item.kept > 0
                complete[len(annotated)] = complete[len(annotated)] or item.kept >= steps[len(annotated)]
                if item.too_long:
                    too_long.add(len(annotated))
                annotated.append(item.text)
            else:
                yield item
        texts = annotated
    chosen = [final for text, has, full, count in zip(texts, called, complete, steps)
              if has and (final := _final(config, text, full, count)) is not None] + list(config.extra_texts)
    yield SamplingFinished(len(texts), totals["positions"], totals["sampled"], totals["kept"], len(chosen),
                           sum(len(t) for t in chosen) // 4, len(too_long))
    return chosen


_ANSWER = re.compile(r"answer is (\[?)", re.IGNORECASE)
_RESULT_THEN_NUMBER = re.compile(r"→ (-?[\d.]+)\] \$?(-?[\d,]*\d(?:\.\d+)?)")


def results_agree(text: str) -> bool:
    """Whether every call whose result is a number, followed by a number in the text, has
    the number the text writes: the loss filter also keeps a result that the number only
    begins with (`→ 0.7175] 71.75`, `→ 30000] 300`) or has the other sign (`→ -6399] 6399`)."""
    for result, written in _RESULT_THEN_NUMBER.findall(text):
        try:
            if not same_number(result, written):
                return False
        except ValueError:
            return False
    return True


def _final(config: TrainConfig, text: str, complete: bool, steps: int) -> str | None:
    """The annotated text as it joins the training set (its source had `steps`
    positions, each with a kept call if `complete`), or None if it does not."""
    stepped = config.compound and steps > 1 and worked_answer(text)
    if not complete and (config.every_step or stepped):
        return None
    if stepped:
        rewritten = compound(text)
        if rewritten is None:
            return None
        text = rewritten
    return text if _selected(config, text) else None


def documents(config: TrainConfig, chosen: Sequence[str]) -> list[str]:
    """The documents trained in each epoch: the chosen texts, a multi-step one
    `config.multi_step_repeats` times, a one-step one with a rare operation up to
    `config.rare_operation_repeats` times (`balance.times`), after the question prompt
    with `config.prompted`."""
    counts = balance.times(chosen, multi_step=config.multi_step_repeats, rare_operation=config.rare_operation_repeats)
    docs = [text for text, n in zip(chosen, counts) for _ in range(n)]
    if not config.prompted:
        return docs
    examples = config.examples
    if examples is None:
        examples = 0 if config.base.lower().endswith(".gguf") else model_profile(config.base).question.examples
    preamble = prompted.question_preamble(list(installed_tools([]).values()), examples)
    return prompted.documents(docs, preamble, per_prompt=config.per_prompt)


def _steps_called(text: str) -> tuple[bool, int]:
    """For a text with its calls in: whether it has a call for each position of the text
    without them, and how many positions that has."""
    steps = len(positions(without_calls(text)))
    return len(calls_in(parts_of(text))) >= steps, steps


def _selected(config: TrainConfig, text: str) -> bool:
    return (not config.answer_calls_only or answer_called(text)) and (not config.agreeing_only or results_agree(text))


def answer_called(text: str) -> bool:
    """Whether the text's last "answer is" (if it has one) is followed by a call."""
    found = _ANSWER.findall(text)
    return not found or found[-1] == "["


def _progress(message: dict[str, Any]) -> TrainEvent | None:
    kind = message.get("type")
    if kind == "stage":
        return StageStarted(message["stage"], message.get("detail", ""))
    if kind == "step":
        return Progress("train", message["step"], message["steps"], loss=message["loss"],
                        tokens_per_s=message["tokens_per_s"], seconds_left=message["seconds_left"],
                        epoch=message["epoch"])
    if kind == "epoch":
        return EpochFinished(message["epoch"], message["train_loss"], message["val_loss"], message["checkpoint"])
    return None


def train(config: TrainConfig) -> Iterator[TrainEvent]:
    """Run the method (see the module doc), yielding events; the last is `TrainingFinished`."""
    started = time.monotonic()
    name = user_models.check_name(config.name)
    if not 0 <= config.base_share < 1:
        raise ConfigError(f"the base's share must be at least 0 and below 1, got {config.base_share}")
    if config.rare_operation_repeats < 1:
        raise ConfigError(f"one-step texts are trained at least once, got {config.rare_operation_repeats}")
    if config.multi_step_repeats < 1:
        raise ConfigError(f"multi-step texts are trained at least once, got {config.multi_step_repeats}")
    folder = config.folder()
    try:
        check_architecture(_base_path(config.base))
    except UnsupportedArchitecture as exc:
        raise UnsupportedModel(str(exc)) from None
    if config.dataset is not None:
        yield StageStarted("corpus", f"the training texts of {config.dataset}")
        saved = [json.loads(line)["text"] for line in config.dataset.read_text(encoding="utf-8").splitlines() if line]
        chosen = [final for text in saved if (final := _final(config, text, *_steps_called(text))) is not None]
    else:
        yield StageStarted("corpus", f"{len(config.texts)} texts" if config.texts else
                           f"{config.corpus_size} generated")
        texts = _corpus(config)
        yield StageStarted("sample", f"{len(texts)} texts")
        chosen = yield from _sampled(config, texts)
    if not chosen:
        raise ConfigError("the filter kept no call: nothing to train on (a larger corpus or a lower tau may help)")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "dataset.jsonl", "w", encoding="utf-8") as dataset:
        dataset.writelines(json.dumps({"text": text}, ensure_ascii=False) + "\n" for text in chosen)
    docs = documents(config, chosen)
    plan = FitPlan(base=_base_path(config.base), texts=tuple(docs), workdir=folder, n_ctx=config.n_ctx,
                   output=folder / f"{name}.gguf", ftype=config.ftype, epochs=config.epochs, lr=config.lr,
                   lr_min=config.lr_end, val_split=config.val_split, threads=config.threads,
                   last_blocks=config.last_blocks, average=config.average, base_share=config.base_share,
                   max_steps=config.max_steps, seed=config.seed)
    epochs: list[dict[str, Any]] = []
    for message in run_child(plan):
        event = _progress(message)
        if isinstance(event, EpochFinished):
            epochs.append({"epoch": event.epoch, "train_loss": event.train_loss, "val_loss": event.val_loss})
        if event is not None:
            yield event
    yield StageStarted("register", name)
    target = user_models.models_dir(config.home) / f"{name}.gguf"
    target.parent.mkdir(parents=True, exist_ok=True)
    plan.output.replace(target)
    user_models.register(name, target, base=config.base,
                         description=f"{config.base} fine-tuned on its own filtered tool calls ({config.ftype})",
                         examples=config.examples, home=config.home)
    yield TrainingFinished(name, str(target), time.monotonic() - started, epochs)


def run(config: TrainConfig) -> TrainingFinished:
    """`train(config)` to the end; its last event."""
    last: TrainEvent | None = None
    for last in train(config):
        pass
    assert isinstance(last, TrainingFinished)
    return last


def texts_from_runs(pairs: Iterable[Any]) -> tuple[str, ...]:
    """Instruction–answer pairs (`agent.finetune.Pair`) as training texts."""
    return tuple(f"Question: {p.instruction}\nAnswer: {p.output}" for p in pairs)
