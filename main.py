"""GloResNet second reader: ``python main.py [SCAN.nii.gz] [--weights DIR]`` (see viewer/app.py).

Python puts this script's folder (the repository root) first on ``sys.path``, so ``viewer`` and
``model`` import from any working directory without an install or a path edit.
"""

import sys

from viewer.app import run

if __name__ == "__main__":
    sys.exit(run(sys.argv))
