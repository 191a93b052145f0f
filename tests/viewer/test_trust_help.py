"""Help > User guide: written for the radiologist (issue 30; issue 11 shipped the README's developer
text), shipped with the app and shown offline."""

import re

from viewer.panels.help_dialog import GUIDE_PATH, UserGuideDialog

#: What a radiologist's guide must not contain: commands, paths and field names of the developer text.
DEVELOPER_TEXT = (".venv", "python", "AppDataLocation", "prev_hash", ".jsonl", "~/.", "pip ", "--install", "`")


def test_guide_is_written_for_the_radiologist_and_covers_what_they_meet():
    text = GUIDE_PATH.read_text(encoding="utf-8")
    for phrase in DEVELOPER_TEXT:
        assert phrase not in text, f"developer text in the user guide: {phrase!r}"
    lower = " ".join(text.split()).lower()
    for topic in (
        "dicom",
        "outside what these weights were trained on",
        "show probability and heatmap anyway",
        "reader-first mode",
        "atrial width",
        "left or right",
        "segmentation overlay",
        "findings",
        "post-menstrual age",
        "verify audit log",
        "hide identifiers",
    ):
        assert topic in lower, f"the user guide does not cover {topic!r}"
    assert not re.search(r"\bissue \d+", lower)  # no project history


def test_help_menu_opens_the_guide_rendered_from_markdown(qtbot, window):
    titles = [a.text().replace("&", "") for a in window.help_menu.actions()]
    assert "User guide" in titles
    window.user_guide_action.trigger()
    dialog = window.findChild(UserGuideDialog)
    qtbot.waitExposed(dialog)
    text = dialog.browser.toPlainText()
    assert "Reader-first mode" in text and "atrial width" in text and "Outside what these weights" in text
    assert "**" not in text  # rendered, not shown as raw Markdown
