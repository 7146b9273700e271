"""The embedded backend: a GGUF model run in process by llama-cpp-python.

Prompts are rendered with the model's own chat template (from the GGUF file; Gemma files
without one get Gemma 3's), the assistant's text is continued verbatim, and each
continuation evaluates only the tokens the KV cache does not already hold
(`completion.usage.evaluated_tokens`). Caches that other prompts would overwrite are
saved and restored when a later prompt shares their prefix (`state_cache_mb` of them
per loaded model; 0 turns this off).

Context window: a prompt that does not fit in `n_ctx` raises `ContextWindowExceeded` (an
`agent.errors.ContextOverflow`, so a run ends with "context full" and keeps its text)
before anything is evaluated; nothing is truncated. A completion that fills the window
stops with finish_reason "length".
"""

from __future__ import annotations

import codecs
from collections.abc import Generator, Iterator
from os import PathLike
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp.llama_grammar import LlamaGrammar

from agent.errors import ConfigError, ContextOverflow
from agent.models.base import Capabilities, CallTrigger, Completion, FinishReason, Profile, Prompt, Request
from agent.models.chat_template import BUILTIN_TEMPLATES, PLAIN_TEMPLATE, QA_TEMPLATE, ChatTemplate
from agent.models.llama_engine import STATE_BYTES, Engine, EngineOptions, load_engine
from agent.models.llama_sampling import TriggerProcessor, schema_grammar
from agent.models.stops import StopMatcher


class ContextWindowExceeded(ContextOverflow):
    """The prompt does not fit in the model's context window."""

    def __init__(self, model: str, prompt_tokens: int, n_ctx: int) -> None:
        super().__init__(prompt_tokens, n_ctx)
        self.model = model
        message = (
            f"the prompt for {model} is {prompt_tokens} tokens, but its context window is "
            f"{n_ctx} tokens (n_ctx) and at least one token must be left to generate; "
            f"shorten the prompt or load the model with a larger n_ctx: `--n-ctx {_suggest(prompt_tokens)}` "
            f"on the command line, resolve_model({model!r}, n_ctx={_suggest(prompt_tokens)}) in Python"
        )
        self.args = (message,)


def _suggest(tokens: int) -> int:
    size = 512
    while size <= tokens:
        size *= 2
    return size


class LlamaModel:
    """A local GGUF model. Instances with the same file and engine options share one
    loaded model (and its KV cache) within a process."""

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        name: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        chat_template: str | None = None,
        top_k: int = 40,
        top_p: float = 0.95,
        min_p: float = 0.05,
        repeat_penalty: float = 1.0,
        profile: Profile | None = None,
        state_cache_mb: float = STATE_BYTES / 2**20,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"no GGUF model file at {str(self.path)!r}")
        if n_ctx < 16 or n_batch < 1 or (n_threads is not None and n_threads < 1):
            raise ConfigError("n_ctx must be at least 16, n_batch and n_threads at least 1")
        if state_cache_mb < 0:
            raise ConfigError("state_cache_mb must be at least 0")
        self._name = name or self.path.stem
        threads = EngineOptions(n_threads=n_threads).threads()
        self.options = EngineOptions(n_ctx=n_ctx, n_batch=n_batch, n_threads=threads,
                                     state_bytes=int(state_cache_mb * 2**20))
        self._chat_template = chat_template
        self._template: ChatTemplate | None = None
        self._question: ChatTemplate | None = None
        self._capabilities = Capabilities(
            grammar=True, context_window=n_ctx, structured=("json_schema", "grammar"), exact_usage=True,
            prefix_cache=True, layouts=("chat", "question"), profile=profile or Profile(),
        )
        self.sampling: dict[str, Any] = {
            "top_k": top_k,
            "top_p": top_p,
            "min_p": min_p,
            "repeat_penalty": repeat_penalty,
        }

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"LlamaModel({self._name!r}, path={str(self.path)!r}, n_ctx={self.options.n_ctx})"

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def n_ctx(self) -> int:
        return self.options.n_ctx

    @property
    def engine(self) -> Engine:
        """The loaded model (loaded on first use, then shared)."""
        return load_engine(self.path, self.options)

    @property
    def template(self) -> ChatTemplate:
        if self._template is None:
            self._template = self._load_template(self.engine)
        return self._template

    def template_for(self, prompt: Prompt) -> ChatTemplate:
        """The chat template, or the question-and-answer layout when the prompt asks for it."""
        if prompt.layout == "question":
            if self._question is None:
                vocab = self.engine.vocab
                self._question = ChatTemplate(QA_TEMPLATE, bos_token=vocab.bos_text, eos_token=vocab.eos_text)
            return self._question
        return self.template

    def _load_template(self, engine: Engine) -> ChatTemplate:
        meta = engine.metadata
        source = (
            self._chat_template
            or meta.get("tokenizer.chat_template")
            or BUILTIN_TEMPLATES.get(meta.get("general.architecture", ""))
            or PLAIN_TEMPLATE
        )
        vocab = engine.vocab
        return ChatTemplate(source, bos_token=vocab.bos_text, eos_token=vocab.eos_text)

    def render(self, prompt: Prompt) -> str:
        """The full prompt text the model continues."""
        return self.template_for(prompt).render(prompt)

    def count_tokens(self, text: str, *, special: bool = False) -> int:
        return len(self.engine.llama.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        """The tokens the next request for `prompt` would send (cache-aware)."""
        engine = self.engine
        return engine.prompt_tokens(self.template_for(prompt).head(prompt.system, prompt.user), prompt.assistant)

    def stream(self, request: Request, completion: Completion) -> Generator[str, None, None]:
        engine = self.engine
        template = self.template_for(request.prompt)
        with engine.session():
            yield from self._stream(engine, template, request, completion)

    def _stream(
        self, engine: Engine, template: ChatTemplate, request: Request, completion: Completion
    ) -> Iterator[str]:
        prompt = request.prompt
        tokens = engine.prompt_tokens(template.head(prompt.system, prompt.user), prompt.assistant)
        if not tokens:
            raise ConfigError("the prompt is empty")
        if len(tokens) >= engine.n_ctx:
            raise ContextWindowExceeded(self._name, len(tokens), engine.n_ctx)
        usage = completion.usage
        usage.requests = 1
        usage.prompt_tokens = len(tokens)
        limit = min(request.max_tokens, engine.n_ctx - len(tokens))
        if limit <= 0:
            completion.finish_reason = "length"
            return
        trigger = self._trigger(engine, request.trigger)
        kwargs = self._sampling(engine, request, trigger)
        fed_back = engine.take_unevaluated()
        reused = engine.rewind(tokens)
        # The token generated last, never evaluated, is counted once: as generated.
        usage.evaluated_tokens = len(tokens) - reused - (fed_back == (reused, tokens[reused]))
        generated = engine.llama.generate(tokens[reused:], reset=False, **kwargs)
        try:
            yield from self._decode(engine, generated, request, completion, limit, trigger)
        finally:
            generated.close()

    def _sampling(
        self, engine: Engine, request: Request, trigger: TriggerProcessor | None
    ) -> dict[str, Any]:
        llama = engine.llama
        llama.set_seed(request.seed if request.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED)
        kwargs: dict[str, Any] = dict(self.sampling, temp=max(0.0, request.temperature))
        grammar = request.grammar
        if request.response_schema is not None:
            if grammar is not None:
                raise ConfigError("a request takes a grammar or a response_schema, not both")
            grammar = schema_grammar(request.response_schema)
        if grammar is not None:
            engine.vocab.check_grammar(grammar)
            kwargs["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
        if trigger is not None:
            kwargs["logits_processor"] = llama_cpp.LogitsProcessorList([trigger])
        return kwargs

    def _trigger(self, engine: Engine, trigger: CallTrigger | None) -> TriggerProcessor | None:
        if trigger is None or not trigger.text or (trigger.k <= 0 and not trigger.disabled):
            return None
        first = engine.llama.tokenize(trigger.text.encode("utf-8"), add_bos=False, special=False)
        if not first:
            return None
        return TriggerProcessor(engine.vocab, trigger, int(first[0]))

    def _decode(
        self,
        engine: Engine,
        generated: Iterator[int],
        request: Request,
        completion: Completion,
        limit: int,
        trigger: TriggerProcessor | None,
    ) -> Iterator[str]:
        usage = completion.usage
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        stops = StopMatcher(request.stop)
        piece, is_eog = engine.vocab.piece, engine.vocab.is_eog
        finish: FinishReason = "length"
        for token in generated:
            if is_eog(token):
                finish = "end"
                break
            usage.completion_tokens += 1
            engine.unevaluated = (int(engine.llama.n_tokens), token)
            text = decoder.decode(piece(token))
            if text:
                if trigger is not None:
                    trigger.observe(text)
                emit, stop = stops.feed(text)
                if emit:
                    yield emit
                if stop is not None:
                    completion.finish_reason = "stop"
                    completion.stop_sequence = stop
                    return
            if usage.completion_tokens >= limit:
                break
        emit, stop = stops.feed(decoder.decode(b"", final=True))
        if stop is not None:
            completion.finish_reason, completion.stop_sequence = "stop", stop
        else:
            completion.finish_reason = finish
            emit += stops.flush()
        if emit:
            yield emit
