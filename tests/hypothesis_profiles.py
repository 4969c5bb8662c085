"""Hypothesis's two profiles: the default one locally, and on CI (``$CI`` set) fewer examples, no
deadline and a fixed seed, so that a CI run is quick and repeatable (imported by name: tests/conftest.py
loads the profile before any test module is collected)."""

from __future__ import annotations

import os

from hypothesis import settings

DEFAULT_EXAMPLES = settings.get_profile("default").max_examples
settings.register_profile("ci", max_examples=DEFAULT_EXAMPLES // 4, deadline=None, derandomize=True)


def load() -> str:
    name = "ci" if os.environ.get("CI") else "default"
    settings.load_profile(name)
    return name


def examples(local: int) -> int:
    """A test's own example count (``local``, for the default profile), scaled by the loaded profile."""
    return max(1, local * settings().max_examples // DEFAULT_EXAMPLES)
