"""The test suite. Imported by pytest before any test module or conftest, so before NumPy.

One BLAS thread: the suite's NumPy work is small matmuls (the scratch net, the NumPy forward
pass), which OpenBLAS's threads make up to 30x slower on a busy 2-core machine (they spin
for a core another process holds). Keras's own thread pools are not affected.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
