"""Desktop viewer of the GloResNet second reader (PyQt6 + pyqtgraph); imports ``model``, never the reverse.

Architecture (FSLeyes display model / views / actions; napari worker pattern):

* ``display`` — pure geometry and intensity defaults, no Qt: which voxel axes each plane shows,
  the image rectangle in mm (true voxel aspect), orientation letters for the radiological and
  neurological conventions, the automatic window.
* ``state`` — ``ViewerState``, the one object holding what is shown (scan, cursor voxel,
  window/level, display convention, heatmap visibility/opacity, analysis result); its setters emit
  ``*_changed`` signals and every view redraws from them. Data are never flipped for display.
* ``slice_view`` / ``ortho_view`` — one plane (scan image, heatmap image on the same rectangle,
  crosshair, edge letters) and the three planes side by side; mouse gestures become state changes.
* ``result_panel`` — progress, P(injury), the flag, the model's identity, the intended use, the
  heatmap controls.
* ``jobs`` — opening a scan, opening the sample and analysing as plain generators (no Qt);
  ``worker`` runs a generator in a QThread with progress, cancel and one-line errors.
* ``main_window`` — actions, menus, toolbar, status bar; starts jobs and feeds results to the state.
* ``app`` — command line, QApplication, pyqtgraph configuration, theme.
"""
