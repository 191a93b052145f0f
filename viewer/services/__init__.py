"""Services with no knowledge of the window, shared by the window, its controllers and the batch dialog.

* ``worker`` -- runs a generator job in a QThread with progress, cancel and one-line errors;
  ``jobs`` -- the viewer's long jobs as plain generators (no Qt): open a scan, the sample, weights;
  analyse; write the report; ``job_runner`` -- keeps workers alive and stops them on close;
  ``model_provider`` -- the weights folder, device and loaded network.
* ``feedback`` -- one-line errors, status, the overwrite question; ``settings`` -- what persists
  (QSettings) and where the audit log lives; ``blinding`` -- reader-first mode as a session
  property; ``record_sections`` -- the reading's record on the PDF (no Qt);
  ``desktop_entry`` -- installs the Linux launcher (``python -m viewer.services.desktop_entry``).

May import: ``viewer.display`` and ``model`` only.
"""
