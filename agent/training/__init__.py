"""Toolformer end to end: the model annotates texts with its own calls, the loss filter
keeps the calls that help, and the model is fine-tuned on the result in process with
llama.cpp's training API (in a child process), quantized back and registered as a model
spec. The core never imports this package.

    from agent.training import TrainConfig, run
    result = run(TrainConfig(name="smollm2-135m-tools"))   # then Agent(model="smollm2-135m-tools")
"""

from agent.training.events import (EpochFinished, Progress, SamplingFinished, StageStarted, TrainEvent,
                                   TrainingFinished, to_json)
from agent.training.pipeline import TrainConfig, run, texts_from_runs, train
from agent.training.sampling import SamplingConfig
from agent.training.worker import TrainingFailed, UnsupportedModel

__all__ = [
    "EpochFinished", "Progress", "SamplingConfig", "SamplingFinished", "StageStarted", "TrainConfig", "TrainEvent",
    "TrainingFailed", "TrainingFinished", "UnsupportedModel", "run", "texts_from_runs", "to_json", "train",
]
