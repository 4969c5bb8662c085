"""The side panels that drive the Session: pruning controls, evaluation, the slider's warm-up."""
