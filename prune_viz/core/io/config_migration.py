"""Keras 2 (tf_keras) model configs converted into ones Keras 3 builds."""

from __future__ import annotations


def keras2_config_for_keras3(config):
    """A Keras 2 (tf_keras) model config that Keras 3 can build, or None if it needs no change.

    Keras 2 layer configs carry arguments Keras 3 refuses (``batch_input_shape`` on the first
    layer of a Sequential, ``rng_type`` on random augmentation layers, ...), and tf_keras .keras
    archives name their classes by tf_keras modules. Unknown arguments are dropped, a
    ``batch_input_shape`` outside an InputLayer becomes ``input_shape``, and modules are renamed.
    """
    import copy

    import keras

    fixed = copy.deepcopy(config)
    changed = _fix_config_node(fixed, keras)
    return fixed if changed else None


def _fix_config_node(node, keras, first_in_sequential: bool = False) -> bool:
    changed = False
    if isinstance(node, list):
        for item in node:
            changed |= _fix_config_node(item, keras)
        return changed
    if not isinstance(node, dict):
        return False
    class_name = node.get("class_name")
    module = node.get("module")
    if isinstance(module, str) and module.split(".")[0] == "tf_keras" and isinstance(class_name, str):
        if class_name == "Functional":  # built from its public name: keras.Model reads a functional config
            node.update(module="keras", class_name="Model", registered_name="Model")
        else:
            node["module"] = "keras.layers" if hasattr(keras.layers, class_name) else "keras"
        changed = True
    config = node.get("config")
    if class_name in ("Functional", "Model") and isinstance(config, dict):
        changed |= _shift_nested_sequential_nodes(config)
    if class_name == "BatchNormalization" and isinstance(config, dict):
        axis = config.get("axis")
        if isinstance(axis, list) and len(axis) == 1:  # Keras 2 wrote [3]; Keras 3 takes 3
            config["axis"] = axis[0]
            changed = True
    if isinstance(class_name, str) and isinstance(config, dict):
        layer_class = getattr(keras.layers, class_name, None)
        if isinstance(layer_class, type) and issubclass(layer_class, keras.layers.Layer):
            changed |= _drop_unknown_arguments(layer_class, config, first_in_sequential)
        layers = config.get("layers")
        if class_name == "Sequential" and isinstance(layers, list):
            first = layers[0] if layers else None
            starts_with_input = isinstance(first, dict) and first.get("class_name") == "InputLayer"
            for position, layer in enumerate(layers):
                changed |= _fix_config_node(layer, keras, position == 0 and not starts_with_input)
            rest = {k: v for k, v in config.items() if k != "layers"}
            changed |= _fix_config_node(list(rest.values()), keras)
            return changed
    for value in node.values():
        if isinstance(value, (dict, list)):
            changed |= _fix_config_node(value, keras)
    return changed


def _shift_nested_sequential_nodes(config: dict) -> bool:
    """Keras 2 counts a nested Sequential's own input as its node 0, so the outer model calls
    node 1; Keras 3 gives such a Sequential no node of its own. Renumber those references."""
    layers = config.get("layers")
    if not isinstance(layers, list):
        return False
    sequential = {
        layer.get("name") for layer in layers if isinstance(layer, dict) and layer.get("class_name") == "Sequential"
    }
    if not sequential:
        return False
    changed = False

    def shift(reference) -> None:
        nonlocal changed
        if (
            isinstance(reference, list)
            and len(reference) >= 3
            and reference[0] in sequential
            and isinstance(reference[1], int)
            and reference[1] >= 1
        ):
            reference[1] -= 1
            changed = True

    for layer in layers:
        if isinstance(layer, dict):
            for node in layer.get("inbound_nodes") or []:
                for reference in node if isinstance(node, list) else []:
                    shift(reference)
    outputs = config.get("output_layers")
    if isinstance(outputs, list):
        for reference in outputs if outputs and isinstance(outputs[0], list) else [outputs]:
            shift(reference)
    return changed


def _drop_unknown_arguments(layer_class, config: dict, first_in_sequential: bool) -> bool:
    import inspect

    if layer_class.__name__ == "InputLayer":
        return False
    accepted = {"name", "dtype", "trainable", "autocast", "input_shape", "input_dim", "activity_regularizer"}
    for cls in layer_class.__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        try:
            accepted |= {
                p.name
                for p in inspect.signature(init).parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            }
        except (TypeError, ValueError):
            return False  # cannot tell what it takes: leave it alone
    changed = False
    if "batch_input_shape" in config and "batch_input_shape" not in accepted:
        batch_shape = config.pop("batch_input_shape")
        if first_in_sequential and isinstance(batch_shape, list) and batch_shape:
            config.setdefault("input_shape", batch_shape[1:])
        changed = True
    for key in [k for k in config if k not in accepted]:
        del config[key]
        changed = True
    return changed
