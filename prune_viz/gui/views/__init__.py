"""Pictures of a model's weights and results (heatmaps, histogram, tiles, curves, confusion) and the
look they share. Views are bound to the core Session and import nothing from the shell."""
