"""``python -m model.norms``: see :mod:`model.norms.cli`."""

import sys

from model.norms.cli import main

sys.exit(main())
