"""What persists between runs (QSettings, INI format in the user's configuration folder) and where
the audit log lives (QStandardPaths ``AppDataLocation``).

:class:`Settings` is a typed front to one ``QSettings``: recent files (at most :data:`MAX_RECENT`,
most recent first, de-duplicated by absolute path), window geometry and layout, the last folders
used for opening and exporting, the heatmap overlay, the display convention, the reader's name and
reader-first mode. Tests point ``QSettings`` at a temporary folder (``QSettings.setPath``), so
they never touch the real user's settings.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QByteArray, QCoreApplication, QSettings, QStandardPaths

from model.record.audit import AUDIT_FILE_NAME

ORGANISATION = "GloResNet"
APPLICATION = "GloResNet second reader"
#: Longest recent-files list.
MAX_RECENT = 10


def set_application_identity(app: QCoreApplication | None = None) -> None:
    """Organisation and application name: they decide where QSettings and the audit log live."""
    app = app or QCoreApplication.instance()
    if app is not None:
        app.setOrganizationName(ORGANISATION)
        app.setApplicationName(APPLICATION)


def open_settings() -> QSettings:
    """The app's settings (INI file under the user's configuration folder, e.g. ``~/.config``)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


def default_audit_log_path() -> Path:
    """``<AppDataLocation>/audit-log.jsonl``, e.g. ``~/.local/share/GloResNet/GloResNet second reader/``."""
    set_application_identity()
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if not base:
        base = str(Path.home() / ".local" / "share" / ORGANISATION / APPLICATION)
    return Path(base) / AUDIT_FILE_NAME


def default_export_folder() -> Path:
    """The user's Documents folder (home when there is none)."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs) if docs and Path(docs).is_dir() else Path.home()


#: The program's own folder (the checkout or installation): no dialog starts here, no key is kept here.
PROGRAM_FOLDER = Path(__file__).resolve().parents[2]


def in_program_folder(path) -> bool:
    """True when ``path`` is the program's folder or inside it."""
    try:
        Path(path).resolve().relative_to(PROGRAM_FOLDER)
    except (ValueError, OSError):
        return False
    return True


def start_folder(*candidates) -> Path:
    """Where a file dialog starts: the first candidate that is an existing folder outside the program's
    folder (the last folder used, the open scan's), else Documents (:func:`default_export_folder`).

    A dialog given no folder starts in the working directory, which is the program's folder when the
    app is started from it (issue 30): every dialog passes this instead.
    """
    for candidate in candidates:
        if not candidate:
            continue
        folder = Path(candidate)
        if folder.is_dir() and not in_program_folder(folder):
            return folder
    return default_export_folder()


class Settings:
    """Typed access to the persisted settings.

    Parameters
    ----------
    qsettings : QSettings, optional
        Default :func:`open_settings`.
    """

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings if qsettings is not None else open_settings()

    def _get(self, key, default, kind):
        value = self.q.value(key, default, type=kind)
        return default if value is None else value

    def sync(self) -> None:
        self.q.sync()

    # -- recent files ---------------------------------------------------------------------------
    def recent_files(self) -> list:
        """Absolute paths, most recent first (at most :data:`MAX_RECENT`)."""
        files = self._get("files/recent", [], list)
        return [str(f) for f in files if f][:MAX_RECENT]

    def add_recent_file(self, path) -> list:
        """Put ``path`` first (removing an earlier copy) and trim to :data:`MAX_RECENT`."""
        path = str(Path(path).absolute())
        files = [path] + [f for f in self.recent_files() if f != path]
        files = files[:MAX_RECENT]
        self.q.setValue("files/recent", files)
        return files

    def remove_recent_file(self, path) -> None:
        self.q.setValue("files/recent", [f for f in self.recent_files() if f != str(path)])

    def clear_recent_files(self) -> None:
        self.q.setValue("files/recent", [])

    # -- folders ------------------------------------------------------------------------------
    @property
    def last_open_folder(self) -> str:
        return self._get("files/last_open_folder", "", str)

    @last_open_folder.setter
    def last_open_folder(self, folder) -> None:
        self.q.setValue("files/last_open_folder", str(folder))

    @property
    def last_export_folder(self) -> str:
        return self._get("files/last_export_folder", "", str)

    @last_export_folder.setter
    def last_export_folder(self, folder) -> None:
        self.q.setValue("files/last_export_folder", str(folder))

    # -- window -------------------------------------------------------------------------------
    def window_geometry(self) -> QByteArray | None:
        value = self.q.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        value = self.q.value("window/splitter")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window(self, geometry: QByteArray, splitter: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/splitter", splitter)

    @property
    def layout(self) -> tuple:
        """(layout key, plane of the one-plane layout)."""
        return self._get("view/layout", "1x3", str), self._get("view/single_plane", "axial", str)

    @layout.setter
    def layout(self, value) -> None:
        self.q.setValue("view/layout", value[0])
        self.q.setValue("view/single_plane", value[1])

    @property
    def radiological(self) -> bool:
        return bool(self._get("view/radiological", True, bool))

    @radiological.setter
    def radiological(self, on: bool) -> None:
        self.q.setValue("view/radiological", bool(on))

    # -- overlay ------------------------------------------------------------------------------
    def overlay(self) -> dict:
        """Heatmap overlay settings (keys visible, opacity, colormap, threshold, contours); {} if unset."""
        if not self.q.contains("overlay/opacity"):
            return {}
        return {
            "visible": bool(self._get("overlay/visible", True, bool)),
            "opacity": float(self._get("overlay/opacity", 0.5, float)),
            "colormap": self._get("overlay/colormap", "inferno", str),
            "threshold": float(self._get("overlay/threshold", 0.15, float)),
            "contours": bool(self._get("overlay/contours", False, bool)),
        }

    def save_overlay(self, visible: bool, opacity: float, colormap: str, threshold: float, contours: bool) -> None:
        for key, value in (
            ("visible", bool(visible)),
            ("opacity", float(opacity)),
            ("colormap", colormap),
            ("threshold", float(threshold)),
            ("contours", bool(contours)),
        ):
            self.q.setValue(f"overlay/{key}", value)

    # -- reader -------------------------------------------------------------------------------
    @property
    def reader_name(self) -> str:
        return self._get("reader/name", "", str).strip()

    @reader_name.setter
    def reader_name(self, name: str) -> None:
        self.q.setValue("reader/name", str(name).strip())

    @property
    def reader_first(self) -> bool:
        return bool(self._get("reader/reader_first", False, bool))

    @reader_first.setter
    def reader_first(self, on: bool) -> None:
        self.q.setValue("reader/reader_first", bool(on))

    @property
    def audit_log_path(self) -> Path:
        """Where decisions are logged (a path stored in the settings wins over the default)."""
        stored = self._get("reader/audit_log", "", str)
        return Path(stored) if stored else default_audit_log_path()
