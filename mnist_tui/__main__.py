"""``python -m mnist_tui`` runs the same entry point as the ``mnist-tui`` command."""

import sys

from mnist_tui.cli import main

if __name__ == "__main__":
    sys.exit(main())
