"""What the main window does, one controller per concern; each gets the window as a small Protocol.

* ``host`` -- :class:`WindowHost`, what every controller may use of the window (state, settings,
  feedback, workers, the audit log path, errors, the status bar); each controller module extends it
  with exactly what it drives (``AnalysisHost``, ``ScanOpenerHost``, ``ReaderHost``,
  ``ExportsHost``, ``ReadingRoomHost``), and ``actions_host.ActionsHost`` says what the commands
  call and create.
* ``scan_opener`` (File > Open, recent files), ``analysis`` (Analyse / Cancel in a worker),
  ``reader`` (impression, accept / reject / override, the audit log), ``audit`` (the site signing
  key, verify before every append), ``exports`` (screenshot, heatmap, PDF) with
  ``export_content`` (what the report shows, no Qt), ``dicom`` (open a DICOM folder, identifiers,
  export as DICOM), ``reading_room`` (segmentation overlay, findings, measurements), ``actions``
  (every QAction, the menus, toolbar and status bar, as data).

May import: ``panels``, ``views``, ``state``, ``segmentation_state``, ``services``, ``display`` and
``model``; never ``viewer.main_window`` or ``viewer.batch``.
"""
