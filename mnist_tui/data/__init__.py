"""Data layer: locating, parsing, validating and preprocessing MNIST-style data.

Kept free of Textual and (at import time) Keras so it is fast and testable alone.
"""

from __future__ import annotations

from .idx import parse_idx, read_idx_file
from .npz import load_npz
from .prep import normalise, one_hot, shape_for, split_validation, take_subset
from .sources import (
    BUNDLED_DIR,
    DATA_ENV,
    DATASETS,
    Dataset,
    DataSource,
    describe_source,
    keras_cache_dir,
    load_dataset,
    network_answers,
)

__all__ = [
    "BUNDLED_DIR",
    "DATASETS",
    "DATA_ENV",
    "DataSource",
    "Dataset",
    "describe_source",
    "keras_cache_dir",
    "load_dataset",
    "load_npz",
    "network_answers",
    "normalise",
    "one_hot",
    "parse_idx",
    "read_idx_file",
    "shape_for",
    "split_validation",
    "take_subset",
]
