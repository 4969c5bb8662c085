"""User errors (core.errors.UserError, and OSError) exit with code 2 and one line."""

from __future__ import annotations

from prune_viz.core.data import ENV_VAR, MissingData
from prune_viz.core.errors import UserError


class UsageError(UserError):
    """A user error that argparse did not catch; exit code 2."""


POINT_AT_DATA = (
    "Point prune-viz at data with --data SOURCE (a folder of MNIST IDX files or of images, an .npz, a CSV, "
    f"or a Keras data set name such as fashion_mnist) or at MNIST with the {ENV_VAR} environment variable."
)


def user_error_message(exc: BaseException) -> str:
    """One line for a core.errors.USER_FIXABLE exception."""
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror}: {exc.filename}"
    if isinstance(exc, MissingData):
        return f"{exc} {POINT_AT_DATA}"
    return str(exc)
