"""The segmentation overlay of one plane: label outlines (or filled labels) and the current finding.

A :class:`SegmentationLayer` adds two image items to a :class:`viewer.views.slice_view.SliceView`'s view
box, on the same image rectangle as the scan (:func:`viewer.display.image_rect_mm`), so labels and
anatomy line up voxel for voxel:

* the labels of the shown slice in the colours of :data:`model.segmentation.SEG_CLASSES`: by
  default only each label's outline (the voxels of a label that touch another label), so the anatomy
  under them stays readable; filled on request; with the reader's opacity and per-label visibility;
* a magenta ring around the current finding's component (a lesion's connected component, or the
  structure measured), drawn just outside it so it never covers what it points at.

What may be drawn (reader-first, out of distribution) is :class:`viewer.segmentation_state.SegmentationState`'s
decision (:meth:`~viewer.segmentation_state.SegmentationState.display_labels`); this module only draws.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF

from model.segmentation import SEG_CLASSES
from viewer.display import image_rect_mm, plane_slice

#: Colour of the ring around the current finding (not a label colour).
HIGHLIGHT_COLOUR = (255, 0, 255)
#: Z order: above the heatmap (10), below its contour lines (15) and the crosshair (20).
LABEL_Z, HIGHLIGHT_Z = 12, 14


def label_lut() -> np.ndarray:
    """RGBA (256, 4) uint8: the colour of every label value (alpha 0 for values not in the table)."""
    lut = np.zeros((256, 4), np.uint8)
    for c in SEG_CLASSES:
        if c.value:
            lut[c.value] = (*c.colour, 255)
    return lut


LUT = label_lut()


def outline(labels2d: np.ndarray) -> np.ndarray:
    """Voxels of a 2D label slice that touch a different label (4-neighbourhood), bool, same shape.

    Each label is outlined from the inside (both sides of a border are marked, each in its own colour).
    """
    edge = np.zeros(labels2d.shape, bool)
    dv = labels2d[1:, :] != labels2d[:-1, :]
    dh = labels2d[:, 1:] != labels2d[:, :-1]
    edge[1:, :] |= dv
    edge[:-1, :] |= dv
    edge[:, 1:] |= dh
    edge[:, :-1] |= dh
    return edge


def ring(mask2d: np.ndarray) -> np.ndarray:
    """The voxels just outside a 2D mask (8-neighbourhood dilation minus the mask), bool."""
    padded = np.pad(mask2d, 1)
    grown = np.zeros_like(padded)
    for dv in (-1, 0, 1):
        for dh in (-1, 0, 1):
            grown |= np.roll(np.roll(padded, dv, 0), dh, 1)
    return (grown & ~padded)[1:-1, 1:-1]


def rgba_slice(labels2d: np.ndarray, drawn_values, filled: bool) -> np.ndarray:
    """RGBA image (rows, cols, 4) uint8 of a label slice: ``drawn_values`` only, outlines unless ``filled``."""
    drawn = np.zeros(256, bool)
    drawn[list(drawn_values)] = True
    values = labels2d.astype(np.intp)
    visible = drawn[values]
    if not filled:
        visible &= outline(labels2d)
    rgba = LUT[values]
    rgba[..., 3] = np.where(visible, rgba[..., 3], 0)
    return rgba


class SegmentationLayer:
    """Labels and the current finding's ring on one plane view.

    Parameters
    ----------
    view : viewer.views.slice_view.SliceView
    seg : viewer.segmentation_state.SegmentationState

    Attributes
    ----------
    label_item, highlight_item : pyqtgraph.ImageItem
    """

    def __init__(self, view, seg):
        self.view, self.seg = view, seg
        self.label_item = pg.ImageItem(axisOrder="row-major")
        self.label_item.setZValue(LABEL_Z)
        self.highlight_item = pg.ImageItem(axisOrder="row-major")
        self.highlight_item.setZValue(HIGHLIGHT_Z)
        for item in (self.label_item, self.highlight_item):
            item.setVisible(False)
            view.view_box.addItem(item, ignoreBounds=True)
        self._shown_index = None
        state = view.state
        state.cursor_changed.connect(self._on_cursor_changed)
        state.scan_changed.connect(lambda _s: self.redraw())
        seg.changed.connect(self.redraw)
        seg.display_changed.connect(self.redraw)
        seg.finding_changed.connect(lambda _i: self.redraw())
        self.redraw()

    def _on_cursor_changed(self, _ijk) -> None:
        if self.view.slice_index != self._shown_index:
            self.redraw()

    def _rect(self) -> QRectF:
        volume = self.view.state.volume
        return QRectF(*image_rect_mm(volume.shape, volume.spacing_mm, self.view.geom))

    def redraw(self) -> None:
        """Draw the labels and the ring of the current slice (or hide them)."""
        seg, index = self.seg, self.view.slice_index
        self._shown_index = index
        labels = seg.display_labels() if seg.visible else None
        volume = self.view.state.volume
        if labels is None or index is None or volume is None or labels.shape != volume.shape:
            self.label_item.setVisible(False)
            self.highlight_item.setVisible(False)
            return
        rect = self._rect()
        sl = plane_slice(labels, self.view.geom, index)
        self.label_item.setImage(rgba_slice(sl, seg.drawn_values(), seg.filled), levels=(0, 255), rect=rect)
        self.label_item.setOpacity(seg.opacity)
        self.label_item.setVisible(True)
        mask = seg.component_mask()
        if mask is None:
            self.highlight_item.setVisible(False)
            return
        m2d = plane_slice(mask, self.view.geom, index)
        r = ring(m2d)
        if not r.any():
            self.highlight_item.setVisible(False)
            return
        rgba = np.zeros((*r.shape, 4), np.uint8)
        rgba[r] = (*HIGHLIGHT_COLOUR, 255)
        self.highlight_item.setImage(rgba, levels=(0, 255), rect=rect)
        self.highlight_item.setVisible(True)

    def displayed_rgba(self) -> np.ndarray | None:
        """The RGBA label image drawn now (None when hidden) -- what the reader sees, for tests."""
        return self.label_item.image if self.label_item.isVisible() else None

    def displayed_highlight(self) -> np.ndarray | None:
        return self.highlight_item.image if self.highlight_item.isVisible() else None
