"""Reading and writing saved models, one module per format or job.

``loading`` opens any format (chosen by content) into a ``LoadedModel``: ``keras_archive``,
``hdf5`` and ``saved_model`` read one format each, helped by ``archive_checks`` and ``hdf5_check``
(safety checks before a library reads a file), ``config_migration`` (Keras 2 configs for Keras 3),
``unfilled_model`` and ``layer_weights`` (a fast archive load). A model that cannot be rebuilt
opens from its weights only (``weights_only``, reading them with ``stored_weights`` and guessing
sub-layers with ``layer_inference``); ``open_options`` holds the user's custom objects file and the
Lambda switch. ``saving`` writes a .keras archive with prune-viz's metadata; ``weights_copy`` writes
a weights-only model's pruned weights into a copy of its file. The names callers use are exported here.
"""

from prune_viz.core.io.load_errors import ModelLoadError
from prune_viz.core.io.loaded_model import LoadedModel, StoredLayer, StoredVariable, variable_copy
from prune_viz.core.io.loading import load_model, sniff_format
from prune_viz.core.io.open_options import CustomObjectsError, OpenOptions
from prune_viz.core.io.saving import save_keras_with_metadata

__all__ = [
    "CustomObjectsError",
    "LoadedModel",
    "ModelLoadError",
    "OpenOptions",
    "StoredLayer",
    "StoredVariable",
    "load_model",
    "save_keras_with_metadata",
    "sniff_format",
    "variable_copy",
]
