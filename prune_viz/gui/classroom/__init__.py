"""The classroom features: the lab (draw a digit, which digits break first) and the guided lessons."""
