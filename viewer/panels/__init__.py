"""The side panel's tabs and the window's dialogs: widgets that show and edit what the state holds.

* tabs: ``result_panel`` (probability, heatmap controls, the out-of-distribution notice),
  ``reader_panel`` (impression and decision), ``image_panel`` (window/level, view),
  ``header_panel`` (the file's header facts), ``decision_history`` (History: the audit entries of
  this scan), ``measure_panel`` (ruler in mm, PMA at scan), ``findings_panel`` (segmentation
  overlay controls, legend, findings; its ``RoomHost`` Protocol is what the Findings and
  Measurements tabs need of the reading room), ``measurements_panel`` (measures against age,
  growth chart);
* notices and dialogs: ``ood_notice``, ``orientation_notice``, ``series_picker``, ``help_dialog``
  (Help > User guide), ``shortcuts`` (Help > Keyboard shortcuts, built from the menus).

May import: ``views``, ``state``, ``segmentation_state``, ``services``, ``display`` and ``model``;
never the controllers, the batch package or the main window.
"""
