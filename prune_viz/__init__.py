"""prune-viz: a desktop lab for neural-network pruning."""

__version__ = "0.1.0"
