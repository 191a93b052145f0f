"""Batch > Score folder: a folder of scans becomes a sortable, filterable worklist.

* ``host`` -- :class:`BatchHost`, what the dialog needs of the main window;
* ``dialog`` -- the dialog and ``install_batch_menu``; ``layout`` -- its widgets (given the dialog as
  ``layout.LayoutHost``); ``case`` -- open a worklist case in the viewer and analyse it;
  ``jobs`` -- the Qt-free scoring job and the per-folder worklist cache; ``worklist_model`` -- the
  table model, its sorting proxy and reader-first blinding.

May import: ``panels``, ``views``, ``state``, ``services``, ``display`` and ``model``; never
``viewer.main_window`` or ``viewer.controllers``.
"""
