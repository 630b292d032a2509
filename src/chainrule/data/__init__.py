"""Data: in-memory datasets, the minibatch loader, bundled and user datasets."""

from .curriculum import CurriculumSampler
from .datasets import BUNDLED, SplitDataset, load_dataset, load_raw, load_split
from .files import read_csv, read_npz
from .loader import DataLoader, TensorDataset, standardize, train_val_split
from .validation import check_class_labels, check_features, check_targets

__all__ = [
    "BUNDLED",
    "CurriculumSampler",
    "DataLoader",
    "SplitDataset",
    "TensorDataset",
    "check_class_labels",
    "check_features",
    "check_targets",
    "load_dataset",
    "load_raw",
    "load_split",
    "read_csv",
    "read_npz",
    "standardize",
    "train_val_split",
]
