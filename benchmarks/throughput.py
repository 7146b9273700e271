"""Streaming throughput of the embedded backend against raw llama-cpp-python.

Tokens per second streamed through `LlamaModel.stream()` divided by tokens per second of
`Llama.create_completion(stream=True)` on the same loaded model, the same prompt tokens
and greedy decoding, in the same run (target: at least 0.95). Both start from an empty
KV cache every time, and the two are run in alternation so background load hits both.
Rates are reported by wall clock (what the target is about) and by CPU time, which
background load on the machine disturbs much less.

    python benchmarks/throughput.py [--model smollm2-135m] [--tokens 256] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from agent.models import Completion, LlamaModel, Prompt, Request, resolve_model

PROMPT = Prompt(
    "You are a storyteller.",
    "Write a long, detailed story about a dragon who learns to count, with many chapters.",
)


Timing = tuple[float, float]
"""Wall-clock and CPU seconds of one run."""


def _now() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(start: Timing) -> Timing:
    wall, cpu = _now()
    return wall - start[0], cpu - start[1]


def through_backend(model: LlamaModel, tokens: int) -> tuple[Timing, int, str]:
    model.engine.llama.reset()
    completion = Completion()
    start = _now()
    text = "".join(model.stream(Request(PROMPT, max_tokens=tokens), completion))
    return _since(start), completion.usage.completion_tokens, text


def raw_llama(model: LlamaModel, tokens: int) -> tuple[Timing, str]:
    llama: Any = model.engine.llama
    prompt_tokens = model.prompt_tokens(PROMPT)
    llama.reset()
    start = _now()
    parts = [
        chunk["choices"][0]["text"]
        for chunk in llama.create_completion(
            prompt_tokens, max_tokens=tokens, temperature=0.0, repeat_penalty=1.0, stream=True
        )
    ]
    return _since(start), "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    model = resolve_model(args.model, n_ctx=2048, n_threads=args.threads)
    assert isinstance(model, LlamaModel), "the throughput benchmark needs a local GGUF model"
    through_backend(model, 16)
    raw_llama(model, 16)
    ours: list[Timing] = []
    theirs: list[Timing] = []
    same_text = True
    count = 0
    for round_ in range(args.rounds):
        if round_ % 2:
            raw, raw_text = raw_llama(model, args.tokens)
            timing, count, text = through_backend(model, args.tokens)
        else:
            timing, count, text = through_backend(model, args.tokens)
            raw, raw_text = raw_llama(model, args.tokens)
        ours.append(timing)
        theirs.append(raw)
        same_text = same_text and raw_text == text
    report(model, count, ours, theirs, args.rounds)
    if not same_text:
        print("note: the two produced different text, so their token counts may differ")


def report(model: LlamaModel, count: int, ours: list[Timing], theirs: list[Timing], rounds: int) -> None:
    print(f"model: {model.name}  threads: {model.options.n_threads}  tokens per run: {count}  rounds: {rounds}")
    for label, index in (("wall clock", 0), ("CPU time", 1)):
        backend = statistics.median(count / t[index] for t in ours)
        raw = statistics.median(count / t[index] for t in theirs)
        paired = statistics.median(t[index] / o[index] for o, t in zip(ours, theirs, strict=True))
        print(f"{label}:")
        print(f"  Interleaf LlamaModel.stream():              {backend:8.1f} tokens/s (median)")
        print(f"  llama-cpp-python create_completion(stream): {raw:8.1f} tokens/s (median)")
        print(f"  ratio: {paired:.3f} (median of per-round ratios; target >= 0.95)")


if __name__ == "__main__":
    main()
