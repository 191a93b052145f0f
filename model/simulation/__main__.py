"""``python -m model.simulation cohort|sample ...`` (see :mod:`model.simulation.cohort`)."""

import sys

from model.simulation.cohort import main

if __name__ == "__main__":
    sys.exit(main())
