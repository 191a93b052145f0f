"""``python -m model.train``: the training command (the protocol lives in :mod:`model.training.train`)."""

import sys

from model.training.train import main

if __name__ == "__main__":
    sys.exit(main())
