"""What continuing from the KV cache saves: one agent run with 10 calculator calls on the
local model, through the full loop (detect, run the tool, splice, continue).

    evaluated: prompt tokens the model had to evaluate, summed over the run's requests,
               plus the tokens it generated (each generated token is evaluated once too)
    transcript: tokens of the final text (the templated system and user turns, then the
               assistant's text with every call and result spliced in)
    re-sending: what the same requests cost if every request evaluated its whole prompt
               (the sum of their prompt tokens, plus the generated tokens)

Target: evaluated / transcript <= 1.05, i.e. each token of the transcript is evaluated
about once, however many times the loop stopped to splice a result.

    python benchmarks/continuation.py [--model smollm2-135m] [--calls 10]
"""

from __future__ import annotations

import argparse
import time

from agent import Agent, CallTrigger
from agent.models import LlamaModel, resolve_model
from tools.calculator import calculator

TASK = (
    "Compute, one after another with the calculator: 12*7, 15% of 80, 400/1400, 2^10, 99+1, "
    "7*8, 1000/8, 3^5, 81/9, 17*3."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    model = resolve_model(args.model, n_ctx=4096, n_threads=args.threads)
    assert isinstance(model, LlamaModel), "the continuation benchmark needs a local GGUF model"
    agent = Agent(model=model, tools=[calculator], max_calls=args.calls, max_tokens=1500,
                  trigger=CallTrigger("[", k=3), constrain=True, no_progress=args.calls * 2, timeout=None)
    model.engine.llama.reset()
    start = time.perf_counter()
    result = agent.run(TASK)
    seconds = time.perf_counter() - start
    prompt = agent.prompt(TASK)
    head = model.engine.head_tokens(model.template.head(prompt.system, prompt.user))
    transcript = len(head) + model.count_tokens(prompt.assistant + result.text)
    usage = result.usage
    evaluated = usage.evaluated_tokens + usage.completion_tokens
    resent = usage.prompt_tokens + usage.completion_tokens
    print(f"model: {model.name}  calls: {len(result.calls)}  requests: {usage.requests}  "
          f"stop: {result.stop_reason.value}  {seconds:.1f} s")
    print(f"transcript tokens:                    {transcript:7d}")
    print(f"prompt tokens evaluated:              {usage.evaluated_tokens:7d}")
    print(f"tokens generated:                     {usage.completion_tokens:7d}")
    print(f"evaluated / transcript:               {evaluated / transcript:7.3f}  (target <= 1.05)")
    print(f"re-sending every prompt would cost:   {resent:7d} tokens, {resent / transcript:.2f} x the transcript")
    if len(result.calls) < args.calls:
        print(f"note: the model made {len(result.calls)} calls, not {args.calls}")


if __name__ == "__main__":
    main()
