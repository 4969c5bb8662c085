"""The one base of the errors a user can fix (a bad file, a bad k, missing data), so the command
line, the window and its panels tell them from bugs without keeping their own lists."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix; ``str(error)`` is one sentence saying what is wrong."""


# A file that is missing, unreadable or unwritable is the user's to fix too.
USER_FIXABLE = (UserError, OSError)
