"""A training run's state as a checkpoint, and back: what ``fit(..., checkpoint=path)`` restores.

:func:`training_state` gathers everything needed to continue a run bit for
bit (model, optimiser, scheduler, the generator in scope, the loader's
permutation and position, counters, history, the running sums and the
callbacks' states); :func:`restore_training` puts a decoded one back into
a :class:`~chainrule.training.Trainer` set up for the same data.

Callback states are matched by class name, in order: the k-th callback of
a class takes the k-th saved state of that class.
"""

from __future__ import annotations

from .. import random as _random
from . import checkpoint as ckpt

__all__ = ["restore_training", "training_state"]


def training_state(trainer) -> dict:
    """The state of ``trainer``'s run (see the module doc)."""
    loader = trainer.loader
    return {
        "kind": "training",
        "epoch": trainer.epoch,
        "global_step": trainer.global_step,
        "epochs": trainer.epochs,
        "stop_training": bool(trainer.stop_training),
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": None if trainer.scheduler is None else trainer.scheduler.state_dict(),
        "rng": trainer._rng_state(),
        "loader": None if loader is None else loader.state_dict(),
        "n_samples": None if loader is None else len(loader.dataset),
        "history": trainer.history.state_dict(),
        **trainer.running.state_dict(),
        "callbacks": [[type(c).__name__, c.state_dict()] for c in trainer.callbacks],
    }


def restore_training(trainer, path) -> None:
    """Load the training checkpoint at ``path`` into ``trainer`` (before its loop runs).

    Raises:
        CheckpointError: not a training checkpoint, another model or other
            data, or a file missing some of its pieces.
    """
    state = ckpt.load_checkpoint(path)
    if not isinstance(state, dict) or state.get("kind") != "training":
        raise ckpt.CheckpointError(
            f"Expected a training checkpoint. Received: {path!r} holds only model weights"
        )
    try:
        _restore(trainer, state, path)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        if isinstance(err, ckpt.CheckpointError):
            raise
        # a valid checksum is no signature: a forged file may lack pieces
        raise ckpt.CheckpointError(
            f"Expected a complete training checkpoint in {str(path)!r}. Received: "
            f"{type(err).__name__}: {err} while restoring it (a forged or foreign file)"
        ) from None


def _restore(trainer, state: dict, path) -> None:
    ckpt.check_state_matches(trainer.model, state["model"], source=repr(str(path)))
    loader = trainer.loader
    if loader is not None and state["n_samples"] != len(loader.dataset):
        raise ckpt.CheckpointError(
            f"Expected the training data of the saved run ({state['n_samples']} rows). "
            f"Received: {len(loader.dataset)} rows"
        )
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None and state["scheduler"] is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    trainer.epoch = int(state["epoch"])
    trainer.global_step = int(state["global_step"])
    trainer.stop_training = bool(state["stop_training"])
    trainer.history.load_state_dict(state["history"])
    if loader is not None and state["loader"] is not None:
        loader.load_state_dict(state["loader"])
    trainer.running.load_state_dict(state)
    saved = list(state["callbacks"])
    for cb in trainer.callbacks:
        for i, (name, cstate) in enumerate(saved):
            if name == type(cb).__name__:
                cb.load_state_dict(cstate)
                del saved[i]
                break
    with trainer._rng_scope():
        _random.set_rng_state(state["rng"])
