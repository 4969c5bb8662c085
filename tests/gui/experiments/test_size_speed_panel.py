"""The Size and speed panel: the report of core.export.size_and_speed, shown as measured."""

from __future__ import annotations

from prune_viz.gui.experiments.base import megabytes

from panel_helpers import click_and_wait, table_texts


def test_size_and_speed_shows_the_report_and_compaction_only_for_unit_pruning(qtbot, panel, session):
    tab = panel.size_speed
    tab.repeats.setValue(1)
    session.configure(method="unit", k=50)
    click_and_wait(qtbot, tab)
    report = tab.report
    assert report.config == session.config
    rows = table_texts(tab.table)
    assert [(r[0], r[1]) for r in rows] == [(row.name, megabytes(row.bytes)) for row in report.rows]
    assert len(rows) == 4 and rows[3][0].startswith("compacted")
    assert rows[0][3] == f"{report.rows[0].latency_seconds * 1000:.1f} ms"
    assert report.rows[3].bytes < report.rows[0].bytes
    summary = tab.summary.text()
    assert f"{report.coupling.useless_weights:,} non-zero weights read only dead units" in summary
    assert f"{report.compaction.parameters_after:,} parameters" in summary

    session.configure(method="weight", k=90)
    assert "measure again" in tab.stale_note.text()  # the numbers shown are for the old settings
    click_and_wait(qtbot, tab)
    rows = table_texts(tab.table)
    assert [r[0] for r in rows] == [row.name for row in tab.report.rows if not row.name.startswith("compacted")]
    assert "offered for unit pruning only" in tab.summary.text()


def test_size_and_speed_adds_packed_nm_storage_for_nm_pruning(qtbot, panel, session):
    tab = panel.size_speed
    tab.repeats.setValue(1)
    session.configure(method="nm", nm=(2, 4))
    click_and_wait(qtbot, tab)
    rows = {r[0]: r for r in table_texts(tab.table)}
    packed = next(name for name in rows if name.startswith("packed 2:4 (values + indices)"))
    sizes = {row.name: row.bytes for row in tab.report.rows}
    # half the values, and two bits of index each: well under CSR's 4-byte index per value
    assert sizes[packed] < sizes["CSR arrays (kernels) + dense other weights"] < sizes["dense .keras (zeros in place)"]
    assert not any(name.startswith("compacted") for name in rows)
