"""Training: the fit loop, callbacks, history, metrics and safe checkpoints."""

from .callbacks import (
    Callback, EarlyStopping, LambdaCallback, LearningRateSchedulerCallback, ModelCheckpoint,
)
from .checkpoint import CheckpointError, load_checkpoint, load_model_state, save_checkpoint
from .checkpoint import save_model
from .history import History
from .losses import LOSSES, get_loss
from .metrics import Metric, get_metric
from .trainer import NonFiniteLossError, Trainer, evaluate, fit, predict

__all__ = [
    "fit", "evaluate", "predict", "Trainer", "History", "NonFiniteLossError",
    "Callback", "EarlyStopping", "ModelCheckpoint", "LearningRateSchedulerCallback",
    "LambdaCallback", "CheckpointError", "save_checkpoint", "load_checkpoint",
    "save_model", "load_model_state", "Metric", "get_metric", "get_loss", "LOSSES",
]
