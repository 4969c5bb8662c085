"""What the panels share: the message after a cancelled write."""

from __future__ import annotations

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
