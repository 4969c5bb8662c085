"""The errors of writing a pruned model and of compacting it (``core.export``, ``core.compaction``)."""

from __future__ import annotations

from prune_viz.core.errors import UserError


class ExportError(UserError):
    """The model cannot be written as asked; the message is one sentence."""


class CompactionError(ExportError):
    """The architecture cannot be compacted; the message says which layer and why."""
