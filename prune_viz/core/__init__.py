"""Qt-free core: model loading, pruning, data, evaluation and the Session.

Nothing under this package may import Qt (tests/core/test_no_qt.py checks it).
"""
