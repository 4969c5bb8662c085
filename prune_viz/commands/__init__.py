"""CLI subcommands beyond inspect/evaluate; each module registers itself with prune_viz.cli."""
