"""The subcommands' names, in --help order: enough to tell a subcommand from a model path
without importing any subcommand (so the app's start-up imports nothing it does not need)."""

COMMAND_NAMES = (
    "inspect",
    "evaluate",
    "compare",
    "train",
    "sweep",
    "flips",
    "spectrum",
    "export",
    "finetune",
    "budget",
    "bench",
)
