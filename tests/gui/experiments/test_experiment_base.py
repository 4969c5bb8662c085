"""What the panels share: the message after a cancelled write, and error boxes."""

from __future__ import annotations

from gui_helpers import WAIT_MS


def test_a_cancelled_write_reports_whether_the_file_was_written(tmp_path):
    import time

    from prune_viz.gui.experiments.base import write_outcome

    old = tmp_path / "old.keras"
    old.write_bytes(b"x")
    start = time.time() + 60  # as if the job began a minute after old.keras was written
    new = tmp_path / "new.keras"
    assert write_outcome(new, start) == "new.keras was not written"
    assert write_outcome(old, start) == "old.keras was not written"
    assert write_outcome(old, time.time()) == "old.keras was written"


def test_a_panels_job_failing_with_a_new_user_error_class_shows_its_sentence(qtbot, jobs):
    from prune_viz.core.errors import UserError
    from prune_viz.gui.experiments.base import JobStrip

    class NewlyAddedError(UserError):
        pass

    def fail(task):
        raise NewlyAddedError("The frobnicator is not set.")

    strip = JobStrip(jobs, "Run")
    qtbot.addWidget(strip)
    strip.start(fail, "sweep", "Sweep", lambda value: None, "run the sweep")
    qtbot.waitUntil(lambda: not strip.busy, timeout=WAIT_MS)
    assert strip.error_box.text() == "The frobnicator is not set."
    assert strip.message.text() == "Could not run the sweep."
