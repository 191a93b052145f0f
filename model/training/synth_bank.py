"""The synthetic trainer's anatomy and sample stream, and the seed ranges of its held-out sets.

The anatomy bank (``checkpoints/anatomy/*.npz``: one phantom or infant-sized ICBM label-map pair
per seed, normal and injured, built in parallel and cached), :class:`PairStream` (sample ``j`` of a
run fully determined by ``(seed, j)``, rendered on access in DataLoader workers), and the seed
bases of the validation and calibration pairs. Shared by :mod:`model.training.synth_train`,
:mod:`model.training.synth_eval` and :mod:`model.training.fusion_fit`, which must draw the same
held-out anatomy. May import the core, :mod:`model.simulation` and :mod:`model.training.loop`.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from model.fileio import atomic_output
from model.inference import flip_lr
from model.preprocessing import PreprocessConfig
from model.simulation.synth import _PACK, AnatomyPair, PairRenderer, anatomy_pair
from model.training.loop import hashed_seed

#: Seeds of the held-out validation pairs: ``VALIDATION_SEED_BASE + seed * 1000 + k``.
VALIDATION_SEED_BASE = 9_000_000
#: Seeds of the held-out pairs the 'youden' decision threshold is chosen on (disjoint from the
#: training bank, seed * 10^6 + k, and from validation, 9 * 10^6 + seed * 1000 + k).
CALIBRATION_SEED_BASE = 8_000_000


def seed_for(*parts) -> int:
    """The synthetic trainer's 31-bit seed fixed by ``parts`` (:func:`model.training.loop.hashed_seed`)."""
    return hashed_seed(*parts, bits=31)


# ------------------------------------------------------------------------------------------- anatomy bank
def bank_file(folder: Path, seed: int, icbm: bool = False) -> Path:
    """The bank file of anatomy ``seed`` in ``folder``: ``anatomy-<seed>.npz``, or ``icbm-<seed>.npz``."""
    return folder / f"{'icbm' if icbm else 'anatomy'}-{seed}.npz"


def _build_one(args: tuple) -> str:
    folder, seed, icbm = args
    path = bank_file(Path(folder), seed, icbm is not None)
    if not path.is_file():
        if icbm is not None:
            from model.simulation.icbm_anatomy import icbm_pair

            pair = icbm_pair(seed, icbm)
        else:
            pair = anatomy_pair(seed)
        packed = pair.normal.astype(np.int16) * _PACK + pair.injured.astype(np.int16)
        with atomic_output(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh,
                    packed=packed,
                    spacing_mm=pair.spacing_mm,
                    pma_weeks=pair.pma_weeks,
                    findings=json.dumps(pair.findings),
                )
    return str(path)


def build_bank(folder: Path, seeds: list[int], processes: int = 2, icbm: Path | None = None) -> None:
    """Anatomy pairs for ``seeds`` (skips those present): phantoms as ``anatomy-<seed>.npz``, or,
    with ``icbm`` (the ICBM152 2009c folder), infant-sized ICBM anatomy as ``icbm-<seed>.npz``."""
    folder.mkdir(parents=True, exist_ok=True)
    todo = [s for s in seeds if not bank_file(folder, s, icbm is not None).is_file()]
    if not todo:
        return
    source = None if icbm is None else str(icbm)
    with ProcessPoolExecutor(max_workers=max(1, processes)) as pool:
        for _ in tqdm(
            pool.map(_build_one, [(str(folder), s, source) for s in todo], chunksize=4),
            total=len(todo),
            desc="anatomy bank",
            unit="infant",
        ):
            pass


def load_pair(path: Path) -> AnatomyPair:
    """An :class:`AnatomyPair` from a bank file (injury mask = where the two maps differ)."""
    with np.load(path) as z:
        packed = z["packed"]
        normal, injured = (packed // _PACK).astype(np.uint8), (packed % _PACK).astype(np.uint8)
        return AnatomyPair(
            normal,
            injured,
            normal != injured,
            float(z["spacing_mm"]),
            float(z["pma_weeks"]),
            json.loads(str(z["findings"])),
            int(path.stem.split("-")[1]),
        )


class PairStream(torch.utils.data.Dataset):
    """Pair ``j`` of the run: anatomy and nuisance fixed by ``(seed, j)``; rendered on access."""

    def __init__(self, bank: list[Path], cfg: PreprocessConfig, seed: int, start: int, total: int):
        self.bank, self.cfg, self.seed, self.start, self.total = bank, cfg, seed, start, total
        self._renderer = None
        self._cache: dict[int, AnatomyPair] = {}

    def __len__(self) -> int:
        return self.total - self.start

    def __getitem__(self, i: int):
        j = self.start + i
        if self._renderer is None:
            torch.set_num_threads(1)
            self._renderer = PairRenderer(self.cfg)
        k = seed_for(self.seed, "subject", j) % len(self.bank)
        if k not in self._cache:
            if len(self._cache) > 64:
                self._cache.pop(next(iter(self._cache)))
            self._cache[k] = load_pair(self.bank[k])
        r = self._renderer.render(self._cache[k], seed_for(self.seed, "render", j))
        x, mask, seg = r.x, r.mask, r.seg
        if seed_for(self.seed, "flip", j) % 2:
            x, mask, seg = flip_lr(x), flip_lr(mask), flip_lr(seg)
        return x, r.y, mask, seg


def collate_pairs(items):
    """One batch from :class:`PairStream` items: the pairs' (x, y, mask, seg) concatenated."""
    xs, ys, ms, ss = zip(*items)
    return torch.cat(xs), torch.cat(ys), torch.cat(ms), torch.cat(ss)
