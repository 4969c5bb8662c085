"""A model MNIST can feed but whose outputs it cannot score (26 letters, not 10 digits): the core says
why up front, in the one sentence a run would raise, before any data is read (issue 30, item 14)."""

from __future__ import annotations

import pytest

from prune_viz.core.data import DataError
from prune_viz.core.inputs import EvaluationUnavailable, evaluation_problem, wrong_class_count
from prune_viz.core.session import Session, open_model

WHY = "The model has 26 outputs; MNIST evaluation needs 10 class scores. Pruning and inspecting its weights still work."


def test_the_sentence_and_the_rule():
    assert wrong_class_count(26) == WHY
    assert evaluation_problem((None, 28, 28, 1), (None, 26)) == WHY
    assert evaluation_problem((None, 28, 28, 1), (None, 10)) is None
    assert evaluation_problem((None, 784), None) is None  # outputs unknown until it runs: not said up front
    assert "224x224x3" in evaluation_problem((None, 224, 224, 3), (None, 26))  # the input is said first


def test_a_26_class_model_is_said_up_front_before_looking_for_data(letters_cnn_path, tmp_path):
    opened = open_model(letters_cnn_path)
    assert opened.loaded.output_shape == (None, 26)
    assert opened.evaluation_problem == WHY
    session = Session()  # the default MNIST: the outputs are said before the bundled test set is read
    session.set_model(opened)
    assert session.evaluation_problem == WHY
    with pytest.raises(EvaluationUnavailable) as raised:
        session.evaluate()
    assert str(raised.value) == WHY
    assert session.data is None  # nothing was read
    assert session.configure(k=50.0).included_sparsity() == pytest.approx(0.5, abs=0.01)  # pruning still works
    # other data (issue 27) may fit a model MNIST does not, so a path that is not there is said as such
    session.set_data(data_path=str(tmp_path / "no-mnist-here"))
    assert session.evaluation_problem is None
    with pytest.raises(DataError, match="no-mnist-here does not exist"):
        session.evaluate()


def test_an_mnist_model_has_no_problem(trained_mlp_path):
    assert open_model(trained_mlp_path).evaluation_problem is None
