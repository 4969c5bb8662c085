"""Entry script of the PyInstaller bundle: the same `main` as the `prune-viz` console script."""

import sys

from prune_viz.cli import main

if __name__ == "__main__":
    sys.exit(main())
