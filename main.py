"""GloResNet second reader: ``python main.py [SCAN.nii.gz] [--weights DIR]`` (see viewer/app.py)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from viewer.app import run  # noqa: E402 - after the repository root is on sys.path

if __name__ == "__main__":
    sys.exit(run(sys.argv))
