"""Training-time augmentation on preprocessed (z-scored, RAS+) batches: flips, rotations, mixup.

All functions take an explicit ``torch.Generator`` so a seeded run repeats exactly, and work on
(N, C, X, Y, Z) float tensors on any device. Nothing here runs at inference (METHOD.md: no random
transforms at test time; TTA is the deterministic left-right flip of :mod:`model.inference`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from model.inference import flip_lr


def random_flip_lr(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Flip each volume of an (N, C, X, Y, Z) RAS+ batch left-right with probability ``p``."""
    mask = torch.rand(x.shape[0], generator=generator) < p
    if mask.any():
        x = x.clone()
        x[mask] = flip_lr(x[mask])
    return x


def rotation_matrices(n: int, max_degrees: float, generator: torch.Generator) -> torch.Tensor:
    """``n`` random 3D rotations (uniform random axis, angle uniform in [-max, max] degrees).

    Rodrigues' formula. Returns (n, 3, 3) float32.
    """
    axis = torch.randn(n, 3, generator=generator)
    axis = axis / axis.norm(dim=1, keepdim=True).clamp_min(1e-8)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(max_degrees)
    k = torch.zeros(n, 3, 3)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(1, 2)
    eye = torch.eye(3).expand(n, 3, 3)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    return eye + s * k + (1 - c) * (k @ k)


def random_rotate(
    x: torch.Tensor, generator: torch.Generator, max_degrees: float = 10.0, p: float = 0.5
) -> torch.Tensor:
    """Rotate each volume about the grid centre by a random 3D rotation with probability ``p``.

    Trilinear resampling (``F.grid_sample``, ``align_corners=True``); outside the grid the value
    is the volume's minimum (its background after z-scoring). Rotations are in normalised grid
    coordinates, which for the 128^3 network grid is what "random 3D rotation" of the paper's
    augmentation can mean once the aspect ratio has been dropped (Eq. 3).
    """
    if p <= 0 or max_degrees <= 0:
        return x
    mask = torch.rand(x.shape[0], generator=generator) < p
    if not mask.any():
        return x
    idx = torch.nonzero(mask).flatten()
    rot = rotation_matrices(len(idx), max_degrees, generator).to(x.device, x.dtype)
    theta = torch.cat([rot, torch.zeros(len(idx), 3, 1, device=x.device, dtype=x.dtype)], dim=2)
    sub = x[idx]
    # grid_sample's last grid coordinate indexes the first spatial dim, so permute (X, Y, Z) -> (Z, Y, X).
    sub_zyx = sub.permute(0, 1, 4, 3, 2)
    grid = F.affine_grid(theta, list(sub_zyx.shape), align_corners=True)
    background = sub.amin(dim=(1, 2, 3, 4), keepdim=True)
    out = F.grid_sample(sub_zyx - background, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    out = out.permute(0, 1, 4, 3, 2) + background
    x = x.clone()
    x[idx] = out
    return x


def _beta_sample(alpha: float, generator: torch.Generator) -> float:
    """Beta(alpha, alpha) sample drawn from a NumPy generator seeded by ``generator``."""
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, prob: float, generator: torch.Generator):
    """Mixup (paper Eq. 9): x~ = lam x_i + (1 - lam) x_j, y~ likewise, lam ~ Beta(alpha, alpha).

    Applied to the whole batch with probability ``prob`` (else returned unchanged), on z-scored
    volumes, pairing each item with a random permutation of the batch.

    Parameters
    ----------
    x : torch.Tensor, shape (N, C, X, Y, Z)
    y : torch.Tensor, shape (N, K)
        Soft (one-hot) labels.

    Returns
    -------
    x_mixed, y_mixed : tensors of the input shapes
    lam : float
        1.0 when mixup was not applied.
    """
    if prob <= 0 or alpha <= 0 or torch.rand((), generator=generator).item() >= prob:
        return x, y, 1.0
    lam = _beta_sample(alpha, generator)
    perm = torch.randperm(x.shape[0], generator=generator).to(x.device)
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm.to(y.device)], lam
