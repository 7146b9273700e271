"""The model annotates texts with its own calls (Toolformer, section 2).

For each text: the positions where the model, shown a few examples of the tool, puts
the open marker among its `top_k` most likely next tokens; at each, up to `per_position`
candidate calls (`answer_candidates` after "answer is") decoded one at a time under the
tool's call grammar (the first greedy, the rest sampled); each candidate is executed; a
call is kept only if its result is the number the text writes next and the loss filter
of `agent.finetune` finds that the result makes the next tokens easier to predict by at
least `tau` (its weighted loss, `CallVerdict.gain` and `keep`). The first kept call at a
position is inserted and ends the sampling there; a text with at least one kept call
joins the training set.

Candidate positions are the places before a number (` 42`, ` $4.50`) that has not
appeared earlier in the text: a calculator's result can only help predict a number the
text did not already give, and scoring every position would cost far more.

Losses are scored after a short preamble of worked examples with completed calls
(`scoring_prefix`; Toolformer scores the bare text): a model of 135M parameters that has
never seen a call does not copy a result it is shown, so without the preamble even a
right result scores as no help.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from agent.arithmetic import format_value
from agent.dispatch import Dispatcher
from agent.finetune import CallVerdict, weighted_loss
from agent.grammar import tool_grammar
from agent.markup import DEFAULT_MARKUP, Markup, ParsedCall
from agent.tools import Tool, Toolbox
from agent.training.prefix import Draw, PrefixModel
from agent.training.scorer import CachedScorer

_BEFORE_NUMBER = re.compile(r" (?=\$?\d)")
_NUMBER = re.compile(r"\$?\d[\d,]*(?:\.\d+)?")
_ANSWER_END = re.compile(r"answer is$", re.IGNORECASE)

SAMPLING_INSTRUCTION = (
    "Your task is to add calls to a {name} API to a piece of text. The calls should help you get information "
    "required to complete the text. You can call the API by writing \"{open}{name}(input){close}\" where "
    "\"input\" is what the {name} gets. Here are some examples of API calls:"
)

CALCULATOR_SHOTS = (
    "Question: A van holds 14 crates of 36 melons. How many melons does it hold?\n"
    "Answer: The answer is [Calculator(14 * 36)] 504.",
    ("Question: Ella has $50 and buys 3 hats at $12.50 each. How many dollars are left?\n"
     "Answer: First, 3 hats at $12.50 is [Calculator(3 * 12.50)] 37.5. Taking 37.5 from $50, the answer is "
     "[Calculator(50 - 37.5)] 12.5."),
    "Question: A club has 1,240 members, and 15% of them vote. How many members vote?\n"
    "Answer: The answer is [Calculator(15% of 1240)] 186.",
    "Question: 18 of 72 cars are red. What percent are red?\nAnswer: The answer is [Calculator(18 / 72 * 100)] 25.",
    ("Question: A farm has 300 hens. It sells 64 of them and then hatches 25 chicks. How many birds does it have?\n"
     "Answer: First, 300 less the 64 sold is [Calculator(300 - 64)] 236. Adding the 25 chicks to 236, the answer is "
     "[Calculator(236 + 25)] 261."),
    ("Question: A shop's $90 coat is 20% off. What does it cost now, in dollars?\n"
     "Answer: First, 20% of $90 is [Calculator(20% of 90)] 18. Taking 18 off $90, the answer is "
     "[Calculator(90 - 18)] 72."),
)
"""Calls without results, Toolformer's prompt style, in the answer layout of the agent's
question prompts (one call per step), with steps led by words naming their numbers as the
generated corpus writes them, and an addition (without one, the base model answered
`Adding 222 to 473, the answer is` with products); a percentage of a number is `p% of N`, as the
calculator takes it (with no such example the model proposed no right call for a
percentage); a number written `1,240` is called as `1240`; words and numbers of their
own."""


@dataclass(frozen=True)
class SamplingConfig:
    top_k: int = 20
    per_position: int = 3
    show_text: bool = True
    """The model proposes calls having read the whole text (Toolformer's "Input: x /
    Output: x[1:i-1] ["), the number the call should give included; the filter scores
    the text without it."""
    answer_candidates: int = 8
    """Candidates at a position right after "answer is", where a multi-step problem needs
    a compound expression the model rarely proposes greedily."""
    tau: float = 0.5
    """Toolformer's τf for the calculator."""
    temperature: float = 0.8
    max_call_tokens: int = 32
    continuation_chars: int = 16
    """Enough for the five weighted tokens (digits are one token each)."""
    seed: int = 0


@dataclass
class Annotated:
    """One text after sampling and filtering."""

    source: str
    text: str
    """The text with the kept calls inserted."""
    positions: int = 0
    """Positions where the open marker was in the top k."""
    sampled: int = 0
    """Distinct candidate calls sampled and executed."""
    verdicts: list[CallVerdict] = field(default_factory=list)
    kept: int = 0
    too_long: bool = False
    """The text and the sampling prompt do not fit the model's context: no calls."""


def sampling_prompt(tool: Tool, markup: Markup = DEFAULT_MARKUP, *, show_text: bool = True) -> str:
    """The instruction and the examples; with `show_text`, each example is the text
    without calls ("Input:"), then with them ("Output:"), as in Toolformer's prompt."""
    shots = CALCULATOR_SHOTS if tool.name == "Calculator" else tuple(_call_free(e, markup) for e in tool.examples)
    if show_text:
        shots = tuple(f"Input: {without_calls(s, markup)}\nOutput: {s}" for s in shots)
    head = SAMPLING_INSTRUCTION.format(name=tool.name, open=markup.open, close=markup.close)
    return head + "\n\n" + "\n\n".join(shots) + "\n\n"


def without_calls(example: str, markup: Markup = DEFAULT_MARKUP) -> str:
    """`example` with its calls (and the space before each) taken out."""
    return re.sub(rf"\s*{re.escape(markup.open)}[^{re.escape(markup.close)}]*{re.escape(markup.close)}", "", example)


def _call_free(example: str, markup: Markup) -> str:
    """A tool example with the results dropped: `[Name(x) → r]` becomes `[Name(x)]`."""
    return re.sub(rf"\s*{re.escape(markup.arrow)}[^{re.escape(markup.close)}]*", "", example)


def scoring_prefix(tool: Tool, markup: Markup = DEFAULT_MARKUP) -> str:
    """Worked examples with completed calls, before each text the filter scores."""
    if tool.name != "Calculator":
        return "\n\n".join(tool.examples) + "\n\n" if tool.examples else ""
    shots = [re.sub(r"\[Calculator\(([^)]*)\)\]", lambda m: _completed(tool, m.group(1), markup), s)
             for s in CALCULATOR_SHOTS]
    return "\n\n".join(shots) + "\n\n"


def _completed(tool: Tool, expression: str, markup: Markup) -> str:
    """A shot's call with the result the tool gives (`15% of 1240` is the calculator's)."""
    return markup.completed(tool.name, expression, str(tool.fn(expression)))


def positions(text: str) -> list[int]:
    """Offsets before a number in the answer part of `text` (all of it without one) that
    has not appeared earlier in the text."""
    start = text.find("Answer:")
    start = start + len("Answer:") if start >= 0 else 0
    found = []
    for match in _BEFORE_NUMBER.finditer(text, start):
        number = _NUMBER.match(text, match.end())
        if number and number.group(0).lstrip("$").rstrip(".,") not in text[: match.start()]:
            found.append(match.start())
    return found


class Sampler:
    """Samples, executes and filters calls to one tool."""

    def __init__(self, sampler_model: PrefixModel, scorer_model: PrefixModel, tool: Tool, *,
                 config: SamplingConfig = SamplingConfig(), markup: Markup = DEFAULT_MARKUP) -> None:
        self.lm, self.tool, self.config, self.markup = sampler_model, tool, config, markup
        self.scorer = CachedScorer(scorer_model)
        self.prompt = sampling_prompt(tool, markup, show_text=config.show_text)
        self.preamble = scoring_prefix(tool, markup)
        self.grammar = tool_grammar(tool, markup)
        self.open_token = self.lm.tokenize(" " + markup.open)[0]
        self.dispatcher = Dispatcher(Toolbox([tool]), timeout=10.0)
        self.rng = random.Random(config.seed)

    def annotate(self, text: str) -> Annotated:
        self.rng.seed(f"{self.config.seed}:{text}")  # a text's calls depend on it alone, not on the texts before
        out = Annotated(source=text, text=text)
        head = self._head(text)
        if not self.fits(text):
            out.too_long = True
            return out
        inserts: list[tuple[int, str]] = []
        for offset in positions(text):
            before = text[:offset]
            if not self._open_in_top_k(head + before):
                continue
            out.positions += 1
            best = self._best(out, before, text[offset:], head=head)
            if best is not None:
                inserts.append((offset, " " + self.markup.completed(best.name, best.raw, best.result)))
        out.kept = len(inserts)
        for offset, call in reversed(inserts):
            out.text = out.text[:offset] + call + out.text[offset:]
        return out

    def _head(self, text: str) -> str:
        return self.prompt + (f"Input: {text}\nOutput: " if self.config.show_text else "")

    def fits(self, text: str) -> bool:
        """Whether the prompt, `text` and a call fit the model's context."""
        need = len(self.lm.tokenize(self._head(text) + text, bos=True)) + CALL_ROOM + self.config.max_call_tokens
        return need <= self.lm.n_ctx

    def _best(self, out: Annotated, before: str, after: str, *, head: str = "") -> CallVerdict | None:
        """The first call the filter keeps at one position, proposed after `head` (the
        prompt) and `before`. A call whose number is not the one the text writes next is
        not scored (the filter would keep a result the number only begins with); every
        agreeing call has the same result, so the first kept one is taken."""
        count = self.config.answer_candidates if _ANSWER_END.search(before) else self.config.per_position
        written = _NUMBER.match(after.lstrip())
        for raw in self._candidates(head + before, count):
            result = self._execute(raw)
            if result is None:
                continue
            out.sampled += 1
            if written is not None and not _same_number(result, written.group(0)):
                continue
            if not _operands_given(raw, before):
                continue
            verdict = self._judge(before, after, raw, result)
            if verdict is None:
                continue
            out.verdicts.append(verdict)
            if verdict.keep(self.config.tau):
                return verdict
        return None

    def _open_in_top_k(self, text: str) -> bool:
        """Whether the open marker is among the `top_k` likeliest tokens after `text`."""
        tokens = self.lm.tokenize(text, bos=True)
        self.lm.eval(tokens)
        logits = self.lm.logits_at(len(tokens) - 1)
        kth = np.partition(logits, -self.config.top_k)[-self.config.top_k]
        return bool(logits[self.open_token] >= kth)

    def _candidates(self, text: str, count: int) -> Iterator[str]:
        """Up to `count` distinct calls after `text`, decoded one at a time: the first
        greedy, the rest sampled."""
        head = self.lm.tokenize(text + " " + self.markup.opened(self.tool.name), bos=True)
        found: list[str] = []
        for i in range(count):
            draw = Draw(self.config.temperature, self.rng.randrange(2**31)) if i else Draw()
            raw = self.lm.propose(head, draw, grammar=self.grammar, close=self.markup.close,
                                  max_tokens=self.config.max_call_tokens)
            if raw and raw not in found:
                found.append(raw)
                yield raw

    def _execute(self, raw: str) -> str | None:
        outcome = self.dispatcher.run(ParsedCall.of(self.tool.name, raw))
        return outcome.result if outcome.error is None else None

    def _judge(self, before: str, after: str, raw: str, result: str) -> CallVerdict | None:
        """The filter's verdict on one call inserted at `before|after`. The contexts are
        built here rather than by `judge_calls` so that the space before the call stays
        with the call, as in the training text: the text without a call is then `before`
        followed by `after` exactly, with no doubled space."""
        after = after[: self.config.continuation_chars]
        if not after.strip():
            return None
        name = self.tool.name

        def loss(context: str) -> float:
            return weighted_loss(self.scorer.token_logprobs(self.preamble + context, after))

        return CallVerdict(
            name, raw, result,
            loss_with_result=loss(before + " " + self.markup.completed(name, raw, result)),
            loss_without_call=loss(before),
            loss_without_result=loss(before + " " + self.markup.completed(name, raw, "")),
        )

    def close(self) -> None:
        self.dispatcher.close()


def same_number(result: str, written: str) -> bool:
    """Whether a call's result is the number the text writes after it (`$1,250.` is
    1250); `ValueError` when either is not a number."""
    return float(result) == float(written.lstrip("$").rstrip(".").replace(",", ""))


def _same_number(result: str, written: str) -> bool:
    """`same_number`, where a result that is not a number (a unit, an equation) is left
    to the loss."""
    try:
        float(result)
    except ValueError:
        return True
    try:
        return same_number(result, written)
    except ValueError:
        return False


CALL_ROOM = 8
"""Tokens beside a call's arguments: the open marker, the tool's name, `(` and `)`."""

CONSTANTS = frozenset({"1", "2", "10", "12", "24", "60", "100", "1000"})
"""Numbers a call may use that the text need not give (percent, dozen, hours, metric)."""


def _operands_given(raw: str, before: str) -> bool:
    """Whether every number of the call is written in the text before it (or is one of
    `CONSTANTS`): the sampler reads the whole text, number to come included, and would
    otherwise reach it with made-up operands (`10 / 10 * 26` for 10% of 260)."""
    given = {_plain(n) for n in _NUMBER.findall(before.replace("$", ""))} | CONSTANTS
    return all(_plain(n) in given for n in re.findall(r"\d+(?:\.\d+)?", raw))


def _plain(number: str) -> str:
    """A number as the calculator writes it: `1,250.50` and `1250.5` are the same."""
    digits = number.replace(",", "").rstrip(".")
    return format_value(Fraction(digits)) if digits else digits
