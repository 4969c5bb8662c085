"""Reading and writing saved models, one module per format or job.

``loading`` opens any format (chosen by content) into a ``LoadedModel``: ``keras_archive``,
``hdf5`` and ``saved_model`` read one format each, helped by ``archive_checks`` and ``hdf5_check``
(safety checks before a library reads a file), ``config_migration`` (Keras 2 configs for Keras 3),
``unfilled_model`` and ``layer_weights`` (a fast archive load). ``saving`` writes a .keras archive
with prune-viz's metadata. The names callers use are exported here.
"""

from prune_viz.core.io.load_errors import ModelLoadError
from prune_viz.core.io.loaded_model import LoadedModel, variable_copy
from prune_viz.core.io.loading import load_model, sniff_format
from prune_viz.core.io.saving import save_keras_with_metadata

__all__ = ["LoadedModel", "ModelLoadError", "load_model", "save_keras_with_metadata", "sniff_format", "variable_copy"]
