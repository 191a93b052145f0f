"""``python -m model.ood``: see :mod:`model.ood.cli`."""

import sys

from model.ood.cli import main

sys.exit(main())
