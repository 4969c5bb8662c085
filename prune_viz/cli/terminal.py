"""What the subcommands show on a terminal: a progress bar on stderr, sizes in MB."""

from __future__ import annotations

import sys

from prune_viz.core.tasks import TaskState


def progress_printer(stream=None) -> TaskState:
    """A TaskState that draws a one-line progress bar on stderr when it is a terminal."""
    stream = stream or sys.stderr
    interactive = stream.isatty()
    last = {"text": ""}

    def show(fraction: float, message: str) -> None:
        if not interactive:
            return
        width = 30
        filled = int(fraction * width)
        text = f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% {message[:40]:<40}"
        if text != last["text"]:
            stream.write(text)
            stream.flush()
            last["text"] = text

    state = TaskState(on_progress=show)
    state.finish = lambda: interactive and (stream.write("\r" + " " * 80 + "\r"), stream.flush())
    return state


def megabytes(n: int) -> str:
    return f"{n / 1e6:.3f} MB"
