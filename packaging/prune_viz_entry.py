"""Entry script of the PyInstaller bundle: the same `main` as the `prune-viz` console script.

In the bundle, sys.executable is this program, not a Python interpreter. prune_viz starts
child processes as `sys.executable -c CODE ARGS...` (core.io.hdf5_check reads HDF5 files in a
child so a damaged file that crashes libhdf5 cannot take the app down) and `sys.executable -m
prune_viz ...` (the GUI benchmark), so the bundle answers those two forms the way Python would.
"""

import sys


def run_as_python(argv: list[str]) -> int | None:
    """Run `-c CODE ARGS...` or `-m prune_viz ARGS...`; None for any other command line."""
    if len(argv) >= 3 and argv[1] == "-c":
        sys.argv = ["-c", *argv[3:]]
        exec(compile(argv[2], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
        return 0
    if argv[1:3] == ["-m", "prune_viz"]:
        from prune_viz.cli import main

        sys.argv = [argv[0], *argv[3:]]
        return main(argv[3:])
    return None


if __name__ == "__main__":
    code = run_as_python(sys.argv) if getattr(sys, "frozen", False) else None
    if code is None:
        from prune_viz.cli import main  # after the -c check: a child reading HDF5 needs none of it

        code = main()
    sys.exit(code)
