"""Benchmarks of prune-viz's hot paths, run by ``prune-viz bench``.

``core_bench`` measures the headless engine (evaluation, sweep, flips;
``slider_bench`` the slider step, ``kinds_bench`` the Embedding+LSTM and
transformer-block models, ``scale_bench`` the big models, ``compaction_bench``
compaction, on the models of ``models``); ``gui_bench`` the Qt front end. ``report`` holds the
figures and their table, ``measure`` the timers and memory readings. Each
figure is reported with its target and the ratio to it, measured side by side
in one run so the ratios hold on a noisy machine.
"""
