"""Data: in-memory datasets, the minibatch loader, bundled and user datasets."""

from .datasets import BUNDLED, SplitDataset, load_dataset, load_raw, load_split
from .files import read_csv, read_npz
from .loader import DataLoader, TensorDataset, standardize, train_val_split
from .validation import check_class_labels, check_features, check_targets

__all__ = [
    "TensorDataset", "DataLoader", "train_val_split", "standardize",
    "load_dataset", "load_split", "load_raw", "SplitDataset", "BUNDLED",
    "read_csv", "read_npz", "check_features", "check_targets", "check_class_labels",
]
