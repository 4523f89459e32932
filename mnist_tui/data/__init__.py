"""Data layer: locating, parsing, validating and preprocessing MNIST-style data.

Kept free of Textual and (at import time) Keras so it is fast and testable alone.
"""

from __future__ import annotations

from .idx import parse_idx, read_idx_file
from .npz import load_npz
from .prep import normalise, one_hot, shape_for, split_validation, take_subset
from .sources import DATA_ENV, DATASETS, Dataset, keras_cache_dir, load_dataset

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "Dataset",
    "keras_cache_dir",
    "load_dataset",
    "load_npz",
    "normalise",
    "one_hot",
    "parse_idx",
    "read_idx_file",
    "shape_for",
    "split_validation",
    "take_subset",
]
