"""Desktop viewer of the GloResNet second reader (PyQt6 + pyqtgraph); imports ``model``, never the reverse.

Sub-packages by role (FSLeyes keeps ``views/``, ``controls/``, ``actions/``; napari ``_qt/widgets``,
``_qt/dialogs``, ``components/``), layered top to bottom. A module may import the layers below its
own, never above; ``lint-imports`` keeps it so (the contracts in ``pyproject.toml``, type-hint-only
imports included), and no two siblings import each other at any depth.

==========================  ========================================================================
layer                       what lives there
==========================  ========================================================================
``app``                     command line, QApplication, pyqtgraph configuration, theme.
``main_window``             the window: builds views and panels, owns the services and controllers,
                            forwards its public methods (``open_path``, ``start_analysis``…) to
                            them. Only ``app`` imports it.
``controllers`` | ``batch`` what the window does (open, analyse, read, export, audit, DICOM, the
                            reading room, the commands) and the Batch menu's worklist; each is given
                            the window as a small Protocol (``controllers.host.WindowHost`` and
                            its extensions, ``batch.host.BatchHost``). Independent of each other.
``panels``                  the side panel's tabs and the dialogs (result, reader, measure, header,
                            image, history, findings, measurements, notices, series picker, help,
                            shortcuts).
``views``                   the planes (``slice_view``, ``ortho_view``, ``info_panel``), their
                            overlays and screenshots, orientation letters, the eliding label.
``state`` | ``segmentation_state``  the display models every view redraws from: what is shown, and
                            the label map with its display settings.
``services``                no window knowledge: worker threads, the Qt-free jobs, the model
                            provider, feedback, settings, reader-first blinding, the record's
                            sections on the PDF, the Linux launcher.
``display``                 pure geometry and intensity defaults, no Qt: the axes each plane shows,
                            the image rectangle in mm, window presets, the cursor readout;
                            ``make_scan`` prepares them once per scan.
==========================  ========================================================================

Data are never flipped for display: the planes are oriented by the display geometry, and the
radiological or neurological convention is a state setting.
"""
