"""Install a Linux desktop entry (``.desktop`` file + icon) that starts the app by double-click.

``python -m viewer.services.desktop_entry --install`` writes
``~/.local/share/applications/gloresnet.desktop`` (``$XDG_DATA_HOME`` is honoured) from the
template ``resources/gloresnet.desktop.in``, with absolute paths to *this* Python interpreter (the
virtual environment's) and to ``main.py``, so the app starts from any working directory. The icon is
``resources/icons/gloresnet.png`` (rendered from ``gloresnet.svg`` with ``--render-icon``).
``--uninstall`` removes the entry; ``--print`` shows it without writing. No Qt is needed except for
``--render-icon``.

Quoting follows the Desktop Entry Specification 1.4 ("The Exec key"): an argument containing a
space or a reserved character is put in double quotes, and inside them ``"``, `````, ``$`` and
``\\`` are escaped with a backslash; then every backslash is doubled again by the string-value
escaping, and a literal ``%`` is written ``%%``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "resources" / "gloresnet.desktop.in"
ICON_SVG = ROOT / "resources" / "icons" / "gloresnet.svg"
ICON_PNG = ROOT / "resources" / "icons" / "gloresnet.png"
MAIN_PY = ROOT / "main.py"
ENTRY_NAME = "gloresnet.desktop"

_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def quote_exec_arg(arg: str) -> str:
    """One argument of an ``Exec`` key, quoted per the Desktop Entry Specification."""
    arg = arg.replace("%", "%%")
    if any(c in _RESERVED for c in arg):
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        arg = f'"{inner}"'
    return arg.replace("\\", "\\\\")  # the general string escaping of desktop-entry values


def render_entry(
    python: str | Path = sys.executable,
    main_py: str | Path = MAIN_PY,
    icon: str | Path = ICON_PNG,
    template: str | Path = TEMPLATE,
) -> str:
    """The ``.desktop`` text with absolute paths filled in (``%f``: a file opened with the app)."""
    python, main_py, icon = (str(Path(p).absolute()) for p in (python, main_py, icon))
    exec_line = f"{quote_exec_arg(python)} {quote_exec_arg(main_py)} %f"
    text = Path(template).read_text(encoding="utf-8")
    return text.replace("@EXEC@", exec_line).replace("@PYTHON@", python.replace("\\", "\\\\")).replace("@ICON@", icon)


def applications_dir() -> Path:
    """``$XDG_DATA_HOME/applications`` (default ``~/.local/share/applications``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "applications"


def install(target_dir: str | Path | None = None, python: str | Path = sys.executable) -> Path:
    """Write the desktop entry (atomically, mode 0755) and return its path."""
    from model.fileio import write_bytes_atomic

    target = Path(target_dir) if target_dir is not None else applications_dir()
    path = target / ENTRY_NAME
    write_bytes_atomic(path, render_entry(python=python).encode("utf-8"))
    path.chmod(0o755)  # some desktops only launch entries marked executable
    return path


def uninstall(target_dir: str | Path | None = None) -> bool:
    """Remove the desktop entry; True when there was one."""
    path = (Path(target_dir) if target_dir is not None else applications_dir()) / ENTRY_NAME
    if path.exists():
        path.unlink()
        return True
    return False


def render_icon_png(svg: str | Path = ICON_SVG, png: str | Path = ICON_PNG, size: int = 256) -> Path:
    """Render the SVG icon to a ``size`` x ``size`` PNG with Qt's SVG renderer."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import Qt
    from PyQt6.QtGui import QGuiApplication, QImage, QPainter
    from PyQt6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - QPainter needs an application
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(png), "PNG"):
        raise OSError(f"cannot write {png}")
    return Path(png)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m viewer.services.desktop_entry",
        description="Install the GloResNet second reader's Linux desktop entry.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--install", action="store_true", help=f"write {applications_dir() / ENTRY_NAME}")
    group.add_argument("--uninstall", action="store_true", help="remove it")
    group.add_argument("--print", action="store_true", help="show the entry without writing it")
    group.add_argument("--render-icon", action="store_true", help=f"render {ICON_PNG.name} from {ICON_SVG.name}")
    parser.add_argument(
        "--dir", metavar="DIR", help="applications folder (default: %(default)s)", default=str(applications_dir())
    )
    args = parser.parse_args(argv)
    if args.print:
        sys.stdout.write(render_entry())
    elif args.render_icon:
        print(render_icon_png())
    elif args.install:
        path = install(args.dir)
        print(f"Installed {path}; the app appears in the desktop's application menu as 'GloResNet second reader'.")
    else:
        print("Removed the desktop entry." if uninstall(args.dir) else "No desktop entry was installed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
