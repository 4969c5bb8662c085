"""The Qt desktop app (PySide6 + pyqtgraph) over prune_viz.core."""
