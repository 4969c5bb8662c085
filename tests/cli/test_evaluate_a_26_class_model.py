"""``prune-viz evaluate`` on a model with 26 outputs: the core's one sentence, exit 2 (issue 30, item 14)."""

from __future__ import annotations

from prune_viz.core.inputs import wrong_class_count

from cli_helpers import assert_one_line_error, run


def test_evaluate_says_why_and_exits_2(capsys, letters_cnn_path, mnist_dir):
    code, out, err = run(capsys, "evaluate", letters_cnn_path, "--data", mnist_dir)
    assert_one_line_error(code, err)
    assert err.strip() == f"prune-viz: error: {wrong_class_count(26)}"
    assert "Accuracy" not in out
