"""A Keras archive's model built from its config with its variables allocated but left unwritten
(the weights read next overwrite them), its saved initializers given back afterwards."""

from __future__ import annotations

import functools

from prune_viz.core.io.config_migration import keras2_config_for_keras3


def model_from_config(config: dict, custom_objects: dict | None = None, safe_mode: bool = True):
    """(model, converted): the model ``config`` describes, its variables allocated but not yet
    written (``load_layer_weights`` writes them), built as Keras 3 wrote it or else from its Keras 2
    config converted; ``custom_objects`` and ``safe_mode`` as Keras's loader takes them."""
    import copy

    import keras

    unfilled = dict(copy.deepcopy(config), compile_config=None)  # compile=False, as in keras.saving.load_model
    _unfilled_initializers(unfilled)
    _unfilled_class()  # registered with Keras, which the nested and Keras 2 configs' readers consult
    try:
        model = keras.saving.deserialize_keras_object(unfilled, custom_objects=custom_objects, safe_mode=safe_mode)
        converted = False
    except Exception:
        fixed = keras2_config_for_keras3(unfilled)
        if fixed is None:
            raise
        model = keras.saving.deserialize_keras_object(fixed, custom_objects=custom_objects, safe_mode=safe_mode)
        converted = True
    _restore_initializers(model.layers, config.get("config", {}).get("layers"))
    _replace_unfilled(model, set())
    return model, converted


def unfilled(config: dict) -> dict:
    """A copy of a layer's or model's config whose initializers leave variables unwritten (for
    variables that stored weights overwrite next); ``filled_initializers`` undoes it on what it built."""
    import copy

    unfilled_config = copy.deepcopy(config)
    _unfilled_initializers(unfilled_config)
    _unfilled_class()
    return unfilled_config


def filled_initializers(layer) -> None:
    """Zeros for any initializer of ``layer`` and its sub-layers that ``unfilled`` made: a later build
    or an exported config must never meet it."""
    _replace_unfilled(layer, set())


_UNFILLED = {"module": None, "class_name": "prune_viz>Unfilled", "config": {}, "registered_name": "prune_viz>Unfilled"}


@functools.cache
def _unfilled_class():
    import keras

    @keras.saving.register_keras_serializable(package="prune_viz")
    class Unfilled(keras.initializers.Initializer):
        """A variable's memory, allocated but never written: the weights loaded next overwrite it,
        so a big kernel costs neither the time nor the memory of values drawn only to be dropped."""

        def __call__(self, shape, dtype=None):
            import tensorflow as tf

            return tf.raw_ops.Empty(shape=shape, dtype=tf.as_dtype(dtype or "float32"), init=False)

    return Unfilled


def _unfilled_initializers(node) -> None:
    """Every ``*_initializer`` in a config made ``Unfilled``, in place. It also makes building
    tolerant of initializer arguments this Keras does not know (3.12 refuses the ``input_axes``
    3.15 writes for GlorotUniform)."""
    if isinstance(node, list):
        for item in node:
            _unfilled_initializers(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_initializer") and value is not None:
                node[key] = dict(_UNFILLED)
            else:
                _unfilled_initializers(value)


def _replace_unfilled(layer, seen: set) -> None:
    """Zeros for any ``Unfilled`` initializer ``_restore_initializers`` did not reach (a wrapped
    layer, an RNN cell...): a later build or an exported config must never meet it."""
    import keras

    if id(layer) in seen:
        return
    seen.add(id(layer))
    for key, value in list(vars(layer).items()):
        if isinstance(value, _unfilled_class()) and not key.startswith("_"):
            setattr(layer, key, keras.initializers.Zeros())
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, keras.layers.Layer):
                _replace_unfilled(item, seen)


def _initializer(config):
    """The Keras initializer ``config`` describes, without the arguments this Keras does not take."""
    import inspect

    import keras

    initializers = keras.initializers
    try:
        return initializers.get(config)
    except Exception:
        cls = getattr(initializers, config.get("class_name", ""), None) if isinstance(config, dict) else None
        if not isinstance(cls, type) or not isinstance(config.get("config"), dict):
            raise
        accepted = inspect.signature(cls.__init__).parameters
        return cls(**{k: v for k, v in config["config"].items() if k in accepted})


def _restore_initializers(layers, configs) -> None:
    """Give each layer back the initializers its saved config names (``Unfilled`` built it), so that
    the model's config, and any file exported from it, stays the user's (less any initializer
    argument this Keras does not take)."""
    if not isinstance(configs, list):
        return
    by_name = {
        c["config"].get("name"): c["config"]
        for c in configs
        if isinstance(c, dict) and isinstance(c.get("config"), dict)
    }
    for layer in layers:
        config = by_name.get(layer.name)
        if config is None:
            continue
        for key, value in config.items():
            if key.endswith("_initializer") and value is not None and hasattr(layer, key):
                try:
                    setattr(layer, key, _initializer(value))
                except Exception:
                    pass
        if hasattr(layer, "layers"):  # a nested Sequential or Functional model
            _restore_initializers(layer.layers, config.get("layers"))
