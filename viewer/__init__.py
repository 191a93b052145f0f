"""Desktop viewer of the GloResNet second reader (PyQt6 + pyqtgraph); imports ``model``, never the reverse.

What may import what: any viewer module may import ``model`` (and ``model.simulation`` only for the
built-in sample); services and controllers never import ``main_window`` at run time (type hints only).

Architecture (FSLeyes display model / views / actions; napari worker pattern):

* ``display`` — pure geometry and intensity defaults, no Qt: which voxel axes each plane shows,
  the image rectangle in mm (true voxel aspect), orientation letters for the radiological and
  neurological conventions, window presets, the cursor readout (the head mask and the heatmap
  maximum are ``model.heatmap``'s); ``make_scan`` prepares all of it once per scan.
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
* ``main_window`` — the window: builds the views and panels, owns the services and controllers
  below, and forwards its public methods (``open_path``, ``start_analysis``, ``record_decision``,
  ``export_report``...) to them. It stays small; new features go into their own modules.
* Services, shared by the window and the batch dialog: ``feedback`` (one-line errors, status,
  the overwrite question), ``job_runner`` (keeps workers alive, stops them on close),
  ``model_provider`` (the weights folder, device and loaded network), ``audit_recorder`` (the
  window's side of the audit log: the site signing key, verify before every append).
* Controllers of the window: ``scan_opener``, ``analysis_controller``, ``reader_controller`` (the
  reader's decisions and the audit log), ``export_controller``; ``window_actions`` holds every
  QAction, the menus and toolbar as data (``MENUS``, ``TOOLBAR``) and keeps their states in step.
* The reading's record (issue 11): ``blinding`` (reader-first as a session property: per-scan
  impression and "result ever shown"), ``decision_history`` and ``measure_panel`` (the History
  and Measure tabs: decisions from the audit log; ruler in mm and PMA at scan),
  ``record_sections`` (no Qt: history, chain head, site key, measurements and PMA on the PDF),
  ``orientation`` / ``orientation_notice`` (letters marked assumed, the amber notice),
  ``screenshot`` (the caption strip of an exported PNG), ``help_dialog`` (Help > User guide),
  ``elided_label`` (one-line texts that elide rather than widen the window).
* Batch: ``batch_dialog`` (talks to the window only through its ``BatchHost`` Protocol),
  ``batch_jobs`` (the Qt-free job and the worklist cache), ``worklist_model`` (the table),
  ``batch_layout`` (widgets), ``batch_case`` (open a case in the viewer and analyse it).
* ``app`` — command line, QApplication, pyqtgraph configuration, theme; ``desktop_entry`` installs
  the Linux launcher.
"""
