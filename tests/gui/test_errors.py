"""Error boxes speak of what the user can do in the window, in words, never a bare class name."""

from __future__ import annotations

from prune_viz.core.data import MissingData
from prune_viz.core.errors import UserError
from prune_viz.gui.errors import error_text


def test_missing_data_points_at_the_data_button_not_at_flags():
    sentence, _ = error_text(
        MissingData("This needs the MNIST training images, which are not on this machine."), "fine-tune the model"
    )
    assert "Data... button" in sentence and "--data" not in sentence and "PRUNE_VIZ_MNIST" not in sentence


def test_unexpected_errors_give_their_words_and_keep_the_class_for_the_details():
    sentence, details = error_text(RuntimeError("the graph could not be built"), "evaluate")
    assert sentence == "Could not evaluate: the graph could not be built."
    assert "RuntimeError" in details and "RuntimeError" not in sentence
    sentence, _ = error_text(Exception(), "evaluate")
    assert "Exception" not in sentence and sentence.startswith("Could not evaluate:")


def test_a_new_user_error_class_is_shown_in_its_own_words_without_being_listed():
    class NewlyAddedError(UserError):
        pass

    sentence, details = error_text(NewlyAddedError("The frobnicator is not set."), "open m.keras")
    assert sentence == "The frobnicator is not set."
    assert details == "NewlyAddedError: The frobnicator is not set."


def test_an_os_error_names_what_failed_and_the_file():
    sentence, _ = error_text(PermissionError(13, "Permission denied", "/read-only/l.pvlesson"), "save the lesson")
    assert sentence == "Could not save the lesson: Permission denied (/read-only/l.pvlesson)."


OFFLINE = (
    "URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz: None -- "
    "<urlopen error [Errno -2] Name or service not known> while downloading the MNIST training images into "
    "/home/student/.keras/datasets/mnist.npz for fine-tuning"
)


def test_a_long_error_is_cut_between_words_and_said_whole_in_the_details():
    sentence, details = error_text(Exception(OFFLINE), "fine-tune the model")
    shown = sentence.removeprefix("Could not fine-tune the model: ")
    assert shown.endswith("…") and len(shown) <= 200
    kept = shown.removesuffix("…").split()
    assert kept == OFFLINE.split()[: len(kept)]  # whole words only: no "Name or s"
    assert "Name or service not known" in sentence
    assert details == f"Exception: {OFFLINE}"
