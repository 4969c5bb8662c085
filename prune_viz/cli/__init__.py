"""Command line: ``prune-viz [MODEL]`` opens the app; subcommands run the headless core.

One module per subcommand (``inspect``, ``evaluate``, ``train``, ``sweep``, ``export``,
``finetune``, ``bench``), each with ``add_parser(subparsers)`` and ``run(args)``; the
options they share are in ``arguments``. Errors the user can fix (bad file, bad k,
missing data) exit with code 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import os
import sys

from prune_viz.cli.command_names import COMMAND_NAMES


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ banner is noise on a terminal
    if not argv or argv[0] not in (*COMMAND_NAMES, "-h", "--help", "--version"):
        # anything that is not a subcommand (a model path, GUI options) opens the app, which shows
        # its first window before it imports the rest
        from prune_viz.gui.shell.app import run_app

        return run_app(argv)
    from prune_viz.cli.errors import USER_ERRORS, user_error_message
    from prune_viz.cli.parser import COMMANDS, build_parser
    from prune_viz.core.tasks import Cancelled

    args = build_parser().parse_args(argv)
    try:
        from prune_viz.core.tf_runtime import import_tensorflow

        import_tensorflow()  # every command needs it; import it before anything can log
        return COMMANDS[args.command].run(args)
    except BrokenPipeError:  # e.g. `prune-viz inspect M | head`: the reader left, which is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail too
        return 141
    except USER_ERRORS as exc:
        print(f"prune-viz: error: {user_error_message(exc)}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("prune-viz: cancelled", file=sys.stderr)
        return 130
