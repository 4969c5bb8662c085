"""What a stored layer's weights say about it when no config does: the Keras class its stored name
names ("multi_head_attention_1" -> MultiHeadAttention), a config its weight shapes imply, and the
input shapes to build a layer with when its config carries no ``build_config`` (Keras 2 files).

Every guess here is checked: a layer built from it is kept only if its weights have exactly the
stored shapes."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

Shape = tuple[int, ...]


def to_snake_case(name: str) -> str:
    """A class name as Keras names its storage groups and default layer names ("MultiHeadAttention"
    -> "multi_head_attention", "TFOpLambda" -> "tf_op_lambda")."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


@functools.cache
def _layer_classes() -> dict[str, str]:
    """snake_case name -> class name, for the layer classes Keras exports."""
    import keras

    found = {}
    for name in dir(keras.layers):
        value = getattr(keras.layers, name)
        if isinstance(value, type) and issubclass(value, keras.layers.Layer) and value.__name__ == name:
            found.setdefault(to_snake_case(name), name)
    for name in ("Sequential", "Functional"):
        found[to_snake_case(name)] = name
    return found


def class_named_by(stored_name: str | None) -> str | None:
    """The Keras class a stored name is the default layer name or storage key of
    ("dense_3" -> "Dense"), or None."""
    if not stored_name:
        return None
    base = re.sub(r"_\d+$", "", stored_name)
    return _layer_classes().get(base)


# -- configs implied by weight shapes (weights in Keras's order) ------------------------------------


def _dense(shapes: list[Shape]):
    if len(shapes) in (1, 2) and len(shapes[0]) == 2 and shapes[1:] in ([], [(shapes[0][1],)]):
        return {"units": shapes[0][1], "use_bias": len(shapes) == 2}, ((None, shapes[0][0]),)
    return None


def _conv(rank: int):
    def infer(shapes: list[Shape]):
        kernel = shapes[0]
        if len(shapes) in (1, 2) and len(kernel) == rank + 2 and shapes[1:] in ([], [(kernel[-1],)]):
            config = {"filters": kernel[-1], "kernel_size": list(kernel[:rank]), "use_bias": len(shapes) == 2}
            return config, ((None,) * (rank + 1) + (kernel[-2],),)
        return None

    return infer


def _embedding(shapes: list[Shape]):
    if len(shapes) == 1 and len(shapes[0]) == 2:
        return {"input_dim": shapes[0][0], "output_dim": shapes[0][1]}, ((None, None),)
    return None


def _layer_normalization(shapes: list[Shape]):
    if len(shapes) == 2 and shapes[0] == shapes[1] and len(shapes[0]) == 1:
        return {}, ((None, shapes[0][0]),)
    return None


def _batch_normalization(shapes: list[Shape]):
    if len(shapes) == 4 and len(set(shapes)) == 1 and len(shapes[0]) == 1:
        return {}, ((None, shapes[0][0]),)
    return None


def _multi_head_attention(shapes: list[Shape]):
    """query, key, value and output kernels, each followed by its bias when ``use_bias``."""
    use_bias = len(shapes) == 8
    if len(shapes) not in (4, 8):
        return None
    query, key, value, output = shapes[:: 2 if use_bias else 1]
    if not (len(query) == len(key) == len(value) == len(output) == 3):
        return None
    heads, key_dim, value_dim = query[1], query[2], value[2]
    config = {"num_heads": heads, "key_dim": key_dim, "value_dim": value_dim, "use_bias": use_bias}
    if output[2] != query[0]:
        config["output_shape"] = output[2]
    return config, ((None, None, query[0]), (None, None, value[0]), (None, None, key[0]))


def _recurrent(gates: int, class_name: str):
    def infer(shapes: list[Shape]):
        if len(shapes) not in (2, 3) or len(shapes[0]) != 2 or len(shapes[1]) != 2:
            return None
        units = shapes[1][0]
        if shapes[0][1] != gates * units:
            return None
        config = {"units": units, "use_bias": len(shapes) == 3}
        if class_name == "GRU" and len(shapes) == 3:
            config["reset_after"] = len(shapes[2]) == 2
        return config, ((None, None, shapes[0][0]),)

    return infer


INFERENCE: dict[str, Callable] = {
    "Dense": _dense,
    "Conv1D": _conv(1),
    "Conv2D": _conv(2),
    "Conv3D": _conv(3),
    "Embedding": _embedding,
    "LayerNormalization": _layer_normalization,
    "BatchNormalization": _batch_normalization,
    "MultiHeadAttention": _multi_head_attention,
    "LSTM": _recurrent(4, "LSTM"),
    "GRU": _recurrent(3, "GRU"),
    "SimpleRNN": _recurrent(1, "SimpleRNN"),
}

# the order of a layer's sub-layer groups in its weights, for the classes that store some
SUB_LAYER_ORDER = {"MultiHeadAttention": ["query", "key", "value", "attention_output"]}


def implied_config(class_name: str, shapes: list[Shape]) -> tuple[dict, tuple] | None:
    """(config, build arguments) that weights of ``shapes`` (Keras's order) imply for ``class_name``."""
    infer = INFERENCE.get(class_name)
    if infer is None or not shapes:
        return None
    try:
        return infer(shapes)
    except (IndexError, TypeError):
        return None


def candidate_input_shapes(shapes: list[Shape]) -> Iterator[tuple]:
    """Input shapes (batch axis first, as ``build`` takes them) that a layer with weights of ``shapes``
    may have been built with, the likeliest first: channels last, then channels first, of each rank,
    with each size the weights show as the channels."""
    if not shapes:
        return
    first = shapes[0]
    sizes = [first[-2]] if len(first) >= 2 else []
    sizes += [d for shape in shapes for d in (shape[0], shape[-1]) if shape] + [d for s in shapes for d in s]
    seen = set()
    ranks = [len(first)] if 2 <= len(first) <= 5 else []
    ranks += [r for r in (2, 3, 4, 5) if r not in ranks]
    for size in dict.fromkeys(sizes):
        for rank in ranks:
            for shape in ((None,) * (rank - 1) + (size,), (None, size) + (None,) * (rank - 2)):
                if shape not in seen:
                    seen.add(shape)
                    yield shape
    whole = (None, *first)
    if whole not in seen:
        yield whole
