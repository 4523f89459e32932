"""mnist-tui: train MNIST digit classifiers in the terminal and watch them learn.

This module only carries the version and one setting: importing the package must stay cheap
and must import neither Textual nor TensorFlow.

One BLAS thread for NumPy (unless the environment says otherwise), set here because every
entry point (the CLI, the trainer process) imports this before NumPy. The app's NumPy work is
small matmuls (the scratch net's batches of 32, the NumPy forward pass for draw-a-digit and
the Network tab), which OpenBLAS's threads made up to 30x slower on a busy 2-core machine:
they spin for a core another process holds. Keras's backends use thread pools of their own.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
