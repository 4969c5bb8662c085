"""prune-viz uses Keras and TensorFlow through their public APIs only: no ``keras.src``, ``tf_keras`` or
``tensorflow.python`` import and no use of a private member that the loader once relied on. Scans the
package source with ``ast``. (Class paths inside model configs, such as the ``module`` Keras 3 writes for
a Functional model, are data, not imports.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "prune_viz"

# private Keras/TensorFlow members once called to load faster; each ties prune-viz to one Keras version
PRIVATE_ATTRIBUTES = {
    "_initialize",
    "_deferred_initialize",
    "_value",
    "_model_from_config",
    "_save_state",
    "_load_state",
    "_walk_saveable",
    "H5IOStore",
    "global_state",
    "_direct_assign",
    "_flatten_layers",
}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def private_uses(source: str) -> list[str]:
    """``keras.src``/``tf_keras`` imports and known private attributes used in ``source``, as "line: what"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        private = [name for name in names if name.startswith(("keras.src", "tf_keras")) or ".python." in f".{name}."]
        if private:  # one finding per statement
            found.append(f"{node.lineno}: import {private[0]}")
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            found.append(f"{node.lineno}: .{node.attr}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).startswith(("keras.src", "tf_keras"))
        ):
            found.append(f"{node.lineno}: import_module({node.args[0].value!r})")
    return found


def test_the_scan_finds_what_it_looks_for():
    sample = (
        "from keras.src.saving import saving_lib\nimport keras.src.backend\n"
        "from tensorflow.python.ops import array_ops\nimport tf_keras\n"
        "saving_lib._model_from_config(c)\nv._initialize(x)\nv._value\n"
        "importlib.import_module('keras.src.saving')\n"
    )
    assert len(private_uses(sample)) == 8
    assert private_uses("import keras\nkeras.saving.load_model(p)\nmodel.load_weights(p)\n") == []


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_keras_or_tensorflow_api(path):
    assert private_uses(path.read_text(encoding="utf-8")) == []
