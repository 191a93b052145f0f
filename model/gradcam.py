"""Grad-CAM (Selvaraju et al. 2017; paper section 5.5.2) with pytorch-grad-cam, on the scan's grid.

pytorch-grad-cam computes the map: hooks on the target layer (``layer4``), the gradient of the
injury logit, channel weights = spatial mean of the gradients, ReLU of the weighted sum, and a
min-max scaling to [0, 1]. Two things are ours:

* **Upsampling.** For 3D the library upsamples with ``scipy.ndimage.zoom`` (corner-aligned), which
  puts the centre of the first 4x4x4 feature cell on the first input voxel; at 128^3 that shifts
  the map outward by up to 16 voxels. We take the map on the feature grid and upsample it
  cell-centred (``align_corners=False``), where each feature cell's centre really is.
* **Hook lifetime and errors.** :func:`gradcam_session` registers hooks on enter and always
  releases them on exit, and lets errors propagate (``GradCAM.__exit__`` swallows IndexError).

Only the target layer's parameters require gradients during a session, so autograd records and
back-propagates through ``layer4`` and the head only; a Grad-CAM pass costs about one forward pass.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget


class _FeatureGridGradCAM(GradCAM):
    """GradCAM whose map stays on the target layer's own grid (no library upsampling)."""

    def get_target_width_height(self, input_tensor):  # noqa: D102 - library hook
        activation = self.activations_and_grads.activations[0]
        # The library reverses this tuple before zooming; zoom factors are then all 1.
        return tuple(int(n) for n in reversed(activation.shape[2:]))


@contextmanager
def gradcam_session(model: torch.nn.Module, layer_name: str):
    """Context in which ``cam_pass`` can be called; hooks and requires_grad are restored on exit.

    Parameters
    ----------
    model : torch.nn.Module
        In eval mode.
    layer_name : str
        Dotted name of the target layer (the model card's ``gradcam_layer``).

    Yields
    ------
    pytorch_grad_cam.GradCAM
    """
    layer = model.get_submodule(layer_name)
    saved = [(p, p.requires_grad) for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in layer.parameters():
        p.requires_grad_(True)
    cam = _FeatureGridGradCAM(model=model, target_layers=[layer])
    try:
        yield cam
    finally:
        cam.activations_and_grads.release()
        for p, flag in saved:
            p.requires_grad_(flag)
        model.zero_grad(set_to_none=True)


def cam_pass(cam: GradCAM, x: torch.Tensor, target_class: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """One forward + Grad-CAM for ``target_class``.

    Parameters
    ----------
    cam : GradCAM
        From :func:`gradcam_session`.
    x : torch.Tensor, shape (1, 1, X, Y, Z), float32
        Network input (already on the model's device).
    target_class : int
        Softmax index whose logit is explained (1 = injury).

    Returns
    -------
    probabilities : np.ndarray, shape (n_classes,), float32
        softmax of the same forward pass's logits.
    grid_map : np.ndarray, shape (fx, fy, fz), float32 in [0, 1]
        Grad-CAM on the target layer's grid (4x4x4 for layer4 at 128^3).
    """
    with torch.enable_grad():
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(target_class)])
    logits = cam.outputs.detach().float()
    probabilities = torch.softmax(logits, dim=1)[0].cpu().numpy().astype(np.float32)
    return probabilities, np.asarray(maps[0], dtype=np.float32)


def upsample_cell_centred(grid_map: np.ndarray, shape: tuple) -> torch.Tensor:
    """Trilinear upsampling of a feature-grid map to ``shape`` with cell-centred alignment.

    Returns
    -------
    torch.Tensor, float32, shape ``shape``, values clipped to [0, 1]
    """
    t = torch.as_tensor(grid_map, dtype=torch.float32)[None, None]
    out = F.interpolate(t, size=tuple(shape), mode="trilinear", align_corners=False)[0, 0]
    return out.clamp_(0.0, 1.0)
