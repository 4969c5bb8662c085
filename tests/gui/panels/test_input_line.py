"""Issue 27: the evaluation panel's "Input" line says once how data that is not images is fed (it said
"fed as they are (not images: no scaling) (table.csv is not images, so it is fed as it is)"). Looked at
with a CSV and an .npz of vectors from tests/own_data.py, evaluated from the panel's button."""

from __future__ import annotations

import re

import pytest

from prune_viz.core.session import open_model

from gui_helpers import WAIT_MS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("model", "data"), [("table.keras", "table.csv"), ("regression.keras", "regression.npz")], ids=["csv", "npz"]
)
def test_the_input_line_of_vectors_says_how_they_are_fed_once(qtbot, make_window, own_data, model, data):
    window = make_window(size=(1280, 720))
    window.session.set_data(data_path=str(own_data / data))
    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        window.set_opened_model(str(own_data / model), open_model(own_data / model))
    with qtbot.waitSignal(window.controller.shown, timeout=WAIT_MS):
        window.evaluation.evaluate_button.click()
    lines = re.sub(r"<[^>]+>", "", window.evaluation.result_view.details.text().replace("<br>", "\n")).splitlines()
    inputs = [line for line in lines if line.startswith("Input:")]
    assert inputs == [f"Input: {data} is not images, so it is fed as it is"]
