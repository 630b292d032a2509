"""Training: the one fit loop (``Trainer``/``fit``), callbacks, history, metrics,
safe checkpoints, run folders and the shared recipe vocabulary; the strategies
of §8.7 that drive the loop (greedy supervised pretraining, FitNets hints,
continuation)."""

from .averaging import PolyakAveraging
from .callbacks import (
    Callback,
    EarlyStopping,
    LambdaCallback,
    LearningRateSchedulerCallback,
    ModelCheckpoint,
)
from .checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model_state,
    save_checkpoint,
    save_model,
)
from .continuation import ParameterNoise, continuation
from .curvature import CurvatureMonitor
from .divergence import DivergenceCheck, DivergenceWarning
from .evaluation import evaluate, predict
from .history import History
from .losses import LOSSES, get_loss
from .metrics import Metric, get_metric
from .multitask import MISSING_LABEL, MultiTaskLoss, TaskMetric
from .pretraining import greedy_pretrain, hint_loss, hint_train
from .tensorboard import TensorBoard
from .tolerance import EpochScore, InverseScalingLR, ToleranceStopping
from .trainer import NonFiniteLossError, Trainer, fit

__all__ = [
    "LOSSES",
    "MISSING_LABEL",
    "Callback",
    "CheckpointError",
    "CurvatureMonitor",
    "DivergenceCheck",
    "DivergenceWarning",
    "EarlyStopping",
    "EpochScore",
    "History",
    "InverseScalingLR",
    "LambdaCallback",
    "LearningRateSchedulerCallback",
    "Metric",
    "ModelCheckpoint",
    "MultiTaskLoss",
    "NonFiniteLossError",
    "ParameterNoise",
    "PolyakAveraging",
    "TaskMetric",
    "TensorBoard",
    "ToleranceStopping",
    "Trainer",
    "continuation",
    "evaluate",
    "fit",
    "get_loss",
    "get_metric",
    "greedy_pretrain",
    "hint_loss",
    "hint_train",
    "load_checkpoint",
    "load_model_state",
    "predict",
    "save_checkpoint",
    "save_model",
]
