"""Every error a user can fix is a core.errors.UserError, so no caller keeps its own list of them."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import prune_viz.core
from prune_viz.core.errors import USER_FIXABLE, UserError, clipped_words

NOT_THE_USERS = {
    "prune_viz.core.tasks.Cancelled",  # the user asked for it: reported as cancelled, not as an error
    "prune_viz.core.score_store.StaleWarmUp",  # stops a warm-up thread whose settings moved on; never shown
}

USER_FIXABLE_CLASSES = {
    "prune_viz.core.activations.ActivationsUnavailable",
    "prune_viz.core.compare.CompareError",
    "prune_viz.core.criteria.TaylorUnavailable",
    "prune_viz.core.data_base.DataError",
    "prune_viz.core.data_base.MissingData",
    "prune_viz.core.evaluation.FlipsUnavailable",
    "prune_viz.core.metrics.LabelMismatch",
    "prune_viz.core.errors.UserError",
    "prune_viz.core.export_errors.CompactionError",
    "prune_viz.core.export_errors.ExportError",
    "prune_viz.core.files.OutputExists",
    "prune_viz.core.files.WriteRefused",
    "prune_viz.core.finetune.FinetuneError",
    "prune_viz.core.inputs.EvaluationUnavailable",
    "prune_viz.core.lesson.LessonError",
    "prune_viz.core.patterns.PatternError",
    "prune_viz.core.io.load_errors.ModelLoadError",
    "prune_viz.core.io.open_options.CustomObjectsError",
    "prune_viz.core.pruning.PruningError",
    "prune_viz.core.training.TrainingError",
}


def public_exception_classes(package) -> dict[str, type]:
    """Every public exception class defined in ``package``'s modules, by its full name."""
    found = {}
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
                and not name.startswith("_")
            ):
                found[f"{info.name}.{name}"] = value
    return found


def test_every_public_core_error_is_a_user_error_or_named_as_not_the_users():
    classes = public_exception_classes(prune_viz.core)
    assert set(classes) == USER_FIXABLE_CLASSES | NOT_THE_USERS  # a new error class must be placed here
    assert [name for name in USER_FIXABLE_CLASSES if not issubclass(classes[name], UserError)] == []
    assert [name for name in NOT_THE_USERS if issubclass(classes[name], USER_FIXABLE)] == []


def test_the_command_lines_usage_error_is_a_user_error():
    from prune_viz.cli.errors import UsageError

    assert issubclass(UsageError, UserError)


def test_user_errors_keep_the_bases_callers_catch_them_by():
    from prune_viz.core.compare import CompareError
    from prune_viz.core.criteria import TaylorUnavailable
    from prune_viz.core.data import DataError, MissingData
    from prune_viz.core.export import CompactionError, ExportError
    from prune_viz.core.files import OutputExists, WriteRefused
    from prune_viz.core.lesson import LessonError
    from prune_viz.core.pruning import PruningError
    from prune_viz.core.training import TrainingError

    assert issubclass(OutputExists, WriteRefused) and issubclass(OutputExists, FileExistsError)
    assert all(issubclass(cls, ValueError) for cls in (CompareError, LessonError, PruningError, TrainingError))
    assert issubclass(MissingData, DataError) and issubclass(TaylorUnavailable, DataError)
    assert issubclass(CompactionError, ExportError)


def test_an_os_error_is_the_users_to_fix_but_a_bug_is_not():
    assert isinstance(FileNotFoundError(2, "No such file or directory", "m.keras"), USER_FIXABLE)
    assert not isinstance(RuntimeError("the graph could not be built"), USER_FIXABLE)
    assert not isinstance(ValueError("a bug's words"), USER_FIXABLE)


def test_clipped_words_cut_at_a_word_end_and_say_so():
    text = "Could not reach the server: [Errno -2] Name or service not known"
    assert clipped_words(text, 200) == text
    assert clipped_words("two\n  lines", 200) == "two lines"
    for limit in range(10, len(text)):
        clipped = clipped_words(text, limit)
        assert len(clipped) <= limit and clipped.endswith("…")
        kept = clipped.removesuffix("…").split()
        whole = text.split()[: len(kept)]
        assert kept[:-1] == whole[:-1] and kept[-1] == whole[-1].rstrip(":"), (limit, clipped)  # never part of a word
    assert clipped_words(text, 45) == "Could not reach the server: [Errno -2] Name…"
    assert clipped_words("/a/very/long/path/without/spaces", 10) == "/a/very/l…"
