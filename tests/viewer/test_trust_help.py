"""Issue 11: Help > User guide shows the README's reading section, shipped with the app (offline)."""

from viewer.help_dialog import GUIDE_PATH, README_PATH, UserGuideDialog, reading_section


def test_shipped_guide_is_the_readme_reading_section():
    assert GUIDE_PATH.is_file()
    assert GUIDE_PATH.read_text(encoding="utf-8") == reading_section(README_PATH.read_text(encoding="utf-8")), (
        "resources/help/user-guide.md is out of date: run python -m viewer.help_dialog"
    )


def test_help_menu_opens_the_guide_rendered_from_markdown(qtbot, window):
    titles = [a.text().replace("&", "") for a in window.help_menu.actions()]
    assert "User guide" in titles
    window.user_guide_action.trigger()
    dialog = window.findChild(UserGuideDialog)
    qtbot.waitExposed(dialog)
    text = dialog.browser.toPlainText()
    assert "Reader-first mode" in text and "atrial width" in text
    assert "**" not in text  # rendered, not shown as raw Markdown
