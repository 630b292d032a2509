"""Training: the one fit loop (``Trainer``/``fit``), callbacks, history, metrics,
safe checkpoints, run folders and the shared recipe vocabulary."""

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
from .curvature import CurvatureMonitor
from .evaluation import evaluate, predict
from .history import History
from .losses import LOSSES, get_loss
from .metrics import Metric, get_metric
from .multitask import MISSING_LABEL, MultiTaskLoss, TaskMetric
from .tensorboard import TensorBoard
from .tolerance import EpochScore, InverseScalingLR, ToleranceStopping
from .trainer import NonFiniteLossError, Trainer, fit

__all__ = [
    "LOSSES",
    "MISSING_LABEL",
    "Callback",
    "CheckpointError",
    "CurvatureMonitor",
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
    "PolyakAveraging",
    "TaskMetric",
    "TensorBoard",
    "ToleranceStopping",
    "Trainer",
    "evaluate",
    "fit",
    "get_loss",
    "get_metric",
    "load_checkpoint",
    "load_model_state",
    "predict",
    "save_checkpoint",
    "save_model",
]
