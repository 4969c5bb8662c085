"""The slider's plans are computed ahead on a thread of their own once a model with big layers is
open, and again when the settings (other than k) change: a step is then lookups, and shows the
same heatmap as a step computed on the spot. Offscreen, on the small trained MLP, opened with
every layer ranked bucket by bucket as a big layer is."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core import magnitudes
from prune_viz.core.pruning import count_to_prune
from prune_viz.core.session import open_model

FIRST_LAYER = 784 * 64


@pytest.fixture
def bucketed_window(make_window, trained_mlp_path, monkeypatch):
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    window = make_window()
    window.set_opened_model(str(trained_mlp_path), open_model(trained_mlp_path))
    return window


def _no_bucket_reads(monkeypatch) -> None:
    monkeypatch.setattr(magnitudes.MagnitudeOrder, "_read", lambda *_: pytest.fail("a slider step read a bucket"))


def test_after_opening_every_slider_step_is_computed_ahead(qtbot, bucketed_window, monkeypatch):
    window = bucketed_window
    warm_up = window.slider_warm_up
    with qtbot.waitSignal(warm_up.ready, timeout=60_000) as ready:
        pass
    assert ready.args[0].with_k(0.0) == window.session.config.with_k(0.0)
    assert not warm_up.busy
    _no_bucket_reads(monkeypatch)
    for k in (3, 41, 77, 100):  # the user drags: the heatmap and the readout follow
        window.controls.slider.setValue(k)
        qtbot.wait(5)
        shown = window.heatmaps.view.displayed_image()
        assert int(np.isnan(shown).sum()) == count_to_prune(FIRST_LAYER, k)
        assert f"{k}%" in window.controls.readout.text()


def test_new_settings_are_warmed_up_again_unit_pruning_too(qtbot, bucketed_window, monkeypatch):
    window = bucketed_window
    warm_up = window.slider_warm_up
    qtbot.waitUntil(lambda: not warm_up.busy, timeout=60_000)
    with qtbot.waitSignal(warm_up.ready, timeout=60_000) as ready:
        window.global_action.trigger()
    assert ready.args[0].scope == "global"
    _no_bucket_reads(monkeypatch)
    window.controls.slider.setValue(64)
    qtbot.wait(5)
    result = window.session.result
    pruned = sum(layer.pruned for layer in result.layers if layer.name in result.config.included)
    assert pruned == count_to_prune(
        sum(layer.size for layer in result.layers if layer.name in result.config.included), 64
    )

    with qtbot.waitSignal(warm_up.ready, timeout=60_000) as ready:
        window.unit_action.trigger()  # unit plans and their counts are computed ahead too
    assert ready.args[0].method == "unit" and ready.args[0].scope == "global"
    from prune_viz.core.planner import Planner

    monkeypatch.setattr(Planner, "_unit_plan_counted", lambda *_: pytest.fail("a unit step computed a plan"))
    window.controls.slider.setValue(30)
    qtbot.wait(5)
    result = window.session.result
    included = [layer for layer in result.layers if layer.name in result.config.included]
    assert sum(layer.pruned_units for layer in included) == count_to_prune(sum(layer.units for layer in included), 30)


def test_a_run_of_settings_changes_starts_one_warm_up_for_the_last(qtbot, bucketed_window, monkeypatch):
    from prune_viz.core.pruning import Pruner

    window = bucketed_window
    warm_up = window.slider_warm_up
    qtbot.waitUntil(lambda: not warm_up.busy, timeout=60_000)
    started = []
    warm_up_for_real = Pruner.warm_up

    def counted(pruner, config, task=None):
        started.append(config.scope)
        return warm_up_for_real(pruner, config, task)

    monkeypatch.setattr(Pruner, "warm_up", counted)
    for action in (window.global_action, window.layer_action, window.global_action):  # quick clicks
        action.trigger()
    qtbot.waitUntil(lambda: not warm_up.busy, timeout=60_000)
    assert started == ["global"]


def _reads_on_threads(monkeypatch) -> list[int]:
    """The threads that read a group of buckets (a pass over a big layer's weights) from now on."""
    import threading

    threads: list[int] = []
    read = magnitudes.MagnitudeOrder._read
    monkeypatch.setattr(
        magnitudes.MagnitudeOrder,
        "_read",
        lambda order, groups: threads.append(threading.get_ident()) or read(order, groups),
    )
    return threads


def test_a_step_before_the_warm_up_reads_the_weights_off_the_gui_thread(qtbot, bucketed_window, monkeypatch):
    import threading

    window = bucketed_window
    window.slider_warm_up.stop()  # as in the first seconds after opening: no step is computed ahead
    threads = _reads_on_threads(monkeypatch)
    for k in (7, 33, 58):
        window.controls.slider.setValue(k)
        assert window.session.config.k != k  # the window goes on; the session takes k when it is lookups
        qtbot.waitUntil(lambda k=k: window.session.config.k == k, timeout=20_000)
        shown = window.heatmaps.view.displayed_image()
        assert int(np.isnan(shown).sum()) == count_to_prune(FIRST_LAYER, k)
        assert f"{k}%" in window.controls.readout.text()
    assert threads and threading.get_ident() not in threads


def test_cold_steps_in_a_row_end_at_the_last_and_a_settings_change_drops_them(qtbot, bucketed_window, monkeypatch):
    window = bucketed_window
    warm_up = window.slider_warm_up
    warm_up.stop()
    slider = window.controls.slider
    for k in (10, 20, 90):  # a drag: the ks passed while a step is computed are skipped
        slider.setValue(k)
    qtbot.waitUntil(lambda: warm_up.step_job is None, timeout=20_000)
    assert window.session.config.k == 90
    shown = window.heatmaps.view.displayed_image()
    assert int(np.isnan(shown).sum()) == count_to_prune(FIRST_LAYER, 90)

    warm_up.stop()
    slider.setValue(40)
    assert warm_up.step_job is not None
    window.global_action.trigger()  # new settings before the step was taken: it is dropped with the old ones
    assert warm_up.step_job is None
    qtbot.wait(200)
    assert window.session.config.k == 90 and window.session.config.scope == "global"
    assert slider.value() == 90  # the slider shows the k the views show

    import threading

    from prune_viz.core.pruning import Pruner

    release = threading.Event()  # a warm-up that runs but has not got far: the steps are cold
    monkeypatch.setattr(Pruner, "warm_up", lambda *_args: release.wait(30) and 0)
    window.layer_action.trigger()
    qtbot.waitUntil(lambda: warm_up.job is not None and warm_up.job.running, timeout=5_000)
    slider.setValue(70)
    assert warm_up.step_job is not None
    window.session.configure(k=5.0)  # k set by other means (a lesson step) before the step was taken: it stays
    qtbot.waitUntil(lambda: warm_up.step_job is None, timeout=20_000)
    qtbot.wait(50)
    release.set()
    assert window.session.config.k == 5 and slider.value() == 5


def test_a_step_waits_for_a_thread_exactly_when_the_core_says_it_reads_weights(qtbot, bucketed_window, monkeypatch):
    from prune_viz.core.pruning import Pruner

    window = bucketed_window
    warm_up = window.slider_warm_up
    warm_up.stop()
    window.unit_action.trigger()
    warm_up.stop()  # no warm-up yet: the step's cost alone decides
    slider = window.controls.slider
    slider.setValue(20)  # a unit step is a few NumPy calls: taken at once
    assert warm_up.step_job is None and window.session.config.k == 20
    monkeypatch.setattr(Pruner, "step_reads_weights", lambda _pruner, config: True)
    slider.setValue(40)  # the core says this one reads weights: computed on a thread first
    assert warm_up.step_job is not None and window.session.config.k == 20
    qtbot.waitUntil(lambda: window.session.config.k == 40, timeout=20_000)
