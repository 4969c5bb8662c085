"""Benchmarks of prune-viz's hot paths, run by ``prune-viz bench``.

``core_bench`` measures the headless engine (slider step, evaluation, sweep,
scale, compaction); ``gui_bench`` the Qt front end. Each figure is reported
with its target and the ratio to it, measured side by side in one run so the
ratios hold on a noisy machine.
"""
