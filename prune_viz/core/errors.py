"""The one base of the errors a user can fix (a bad file, a bad k, missing data), so the command
line, the window and its panels tell them from bugs without keeping their own lists."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix; ``str(error)`` is one sentence saying what is wrong."""


# A file that is missing, unreadable or unwritable is the user's to fix too.
USER_FIXABLE = (UserError, OSError)


def clipped_words(text: object, limit: int = 200) -> str:
    """``text`` on one line, and past ``limit`` characters cut at a word's end with "…" (a cut
    mid-word, "Name or s", reads as a broken message)."""
    words = " ".join(str(text).split())
    if len(words) <= limit:
        return words
    head = words[:limit]  # one character past what fits, so a word ending right at the limit is kept
    kept = head.rsplit(" ", 1)[0] if " " in head else head[: limit - 1]  # one long word (a path): cut it
    return kept.rstrip(" ,;:(-") + "…"
