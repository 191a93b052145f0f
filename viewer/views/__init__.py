"""The planes and what is drawn on them, driven by :class:`viewer.state.ViewerState`'s signals.

* ``slice_view`` -- one plane: scan, heatmap, contours, crosshair, edge letters, slider, zoom and
  pan; mouse gestures become state changes. ``ortho_view`` -- the planes in a layout (1 × 3,
  2 × 2 with ``info_panel``, one maximised). ``info_panel`` -- the fourth cell: the cursor readout
  and the result at a glance.
* ``segmentation_overlay`` -- label outlines or filled labels and the current finding on a plane;
  ``screenshot`` -- the caption strip of an exported PNG; ``orientation`` -- edge letters, marked
  when assumed; ``elided_label`` -- one-line texts that elide rather than widen the window.

May import: ``state``, ``segmentation_state``, ``services``, ``display`` and ``model``.
"""
