"""Desktop viewer of the GloResNet second reader (PyQt6 + pyqtgraph); imports ``model``, never the reverse.

Architecture (FSLeyes display model / views / actions; napari worker pattern):

* ``display`` — pure geometry and intensity defaults, no Qt: which voxel axes each plane shows,
  the image rectangle in mm (true voxel aspect), orientation letters for the radiological and
  neurological conventions, window presets, the head mask that confines the heatmap on screen, the
  heatmap maximum, the cursor readout; ``make_scan`` prepares all of it once per scan.
* ``state`` — ``ViewerState``, the one object holding what is shown (scan, cursor voxel,
  window/level and inversion, display convention, heatmap overlay settings, layout, analysis
  result, the reader's impression and decision, reader-first mode); its setters emit
  ``*_changed`` signals and every view redraws from them. Data are never flipped for display.
* ``slice_view`` / ``ortho_view`` — one plane (scan image, heatmap image on the same rectangle,
  contour lines, crosshair, edge letters, slice slider, its own zoom and pan) and the planes in a
  layout (1 × 3, 2 × 2 with ``info_panel``, one maximised); mouse gestures become state changes.
* ``result_panel``, ``reader_panel``, ``image_panel``, ``header_panel`` — the side panel's tabs:
  result and heatmap controls with the reader's decision; window/level and view; the file's header.
* ``jobs`` — opening a scan, the sample or a weights folder, analysing and writing the PDF report
  as plain generators (no Qt); ``worker`` runs a generator in a QThread with progress, cancel and
  one-line errors. ``export`` (no Qt) gathers what the report shows.
* ``settings`` — what persists (QSettings) and where the audit log lives (QStandardPaths).
* ``shortcuts`` — Help > Keyboard shortcuts, built from the menus when it opens.
* ``main_window`` — actions, menus, toolbar, status bar; starts jobs, feeds results to the state,
  records decisions in the audit log (``model.record.audit``) and writes exports.
* ``app`` — command line, QApplication, pyqtgraph configuration, theme; ``desktop_entry`` installs
  the Linux launcher.
"""
