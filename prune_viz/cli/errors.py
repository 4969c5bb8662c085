"""User errors: the ones a user can fix (bad file, bad k, missing data) exit with code 2 and one line."""

from __future__ import annotations

import functools

from prune_viz.core.data import ENV_VAR, DataError, MissingData
from prune_viz.core.files import WriteRefused
from prune_viz.core.inputs import EvaluationUnavailable
from prune_viz.core.io import ModelLoadError
from prune_viz.core.pruning import PruningError


class UsageError(Exception):
    """A user error that argparse did not catch; exit code 2."""


POINT_AT_DATA = (f"Point prune-viz at a folder of MNIST IDX files or an .npz with --data PATH or the {ENV_VAR} "
                 "environment variable.")

USER_ERRORS = (ModelLoadError, DataError, PruningError, EvaluationUnavailable, WriteRefused, UsageError, OSError)


def user_error_message(exc: BaseException) -> str:
    """One line for a USER_ERRORS exception."""
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror}: {exc.filename}"
    if isinstance(exc, MissingData):
        return f"{exc} {POINT_AT_DATA}"
    return str(exc)


def experiment_errors_are_user_errors(fn):
    """Turn the experiment modules' own one-sentence errors into UsageError (exit 2)."""

    @functools.wraps(fn)
    def wrapper(args):
        from prune_viz.core.export import ExportError
        from prune_viz.core.finetune import FinetuneError
        from prune_viz.core.training import TrainingError

        try:
            return fn(args)
        except (ExportError, FinetuneError, TrainingError) as exc:
            raise UsageError(str(exc)) from exc

    return wrapper
