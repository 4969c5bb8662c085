"""Import TensorFlow once, without its C++ start-up chatter on stderr.

TF 2.21 logs "oneDNN custom operations are on", "Could not find cuda
drivers" and, at the first op, "failed call to cuInit" through absl before any log level applies
(TF_CPP_MIN_LOG_LEVEL does not reach them), which breaks the promise of one clean error line on stderr.
So the first import runs with file descriptor 2 pointed at a temporary file;
if the import fails, what TF wrote is replayed before the error propagates.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading

_lock = threading.Lock()


def import_tensorflow():
    """Return the tensorflow module, importing it quietly the first time."""
    if "tensorflow" in sys.modules:
        import tensorflow

        return tensorflow
    with _lock:
        if "tensorflow" in sys.modules:
            import tensorflow

            return tensorflow
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                import keras  # noqa: F401  (Keras 3 adds its own start-up lines)
                import tensorflow

                tensorflow.constant(0)  # device initialisation logs "failed call to cuInit"
            except BaseException:
                os.dup2(saved, 2)
                capture.seek(0)
                sys.stderr.write(capture.read().decode("utf-8", "replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        return tensorflow
