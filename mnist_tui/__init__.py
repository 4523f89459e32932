"""mnist-tui: train MNIST digit classifiers in the terminal and watch them learn.

This module only carries the version: importing the package must stay cheap and must
import neither Textual nor TensorFlow.
"""

__version__ = "0.1.0"
