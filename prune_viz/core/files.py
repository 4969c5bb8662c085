"""Every file prune-viz writes goes through here: atomically, never over the opened model, never
over an existing file unless forced.

``write_atomically`` writes a temporary file in the target's folder, flushes it to disk,
renames it over the target and flushes the folder, so a crash or a full disk leaves either
the old file or the new one, whole, and no temporary file behind.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from prune_viz.core.errors import UserError


class WriteRefused(UserError):
    """An output cannot be written as asked; the message is one sentence."""


class OutputExists(WriteRefused, FileExistsError):
    """The output exists and overwriting it was not asked for."""


def is_same_file(a: str | os.PathLike, b: str | os.PathLike | None) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path, a symlink, or a hard link to it."""
    if b is None:
        return False
    a, b = Path(a).expanduser(), Path(b).expanduser()
    try:
        if os.path.samefile(a, b):  # same device and inode: hard links and symlinks included
            return True
    except OSError:  # one of them does not exist (yet)
        pass
    return a.resolve() == b.resolve()


def check_writable(path: str | os.PathLike, *, force: bool = False, protect: Iterable = ()) -> Path:
    """``path`` as a Path if it may be written; WriteRefused (or OutputExists) saying why not.

    ``protect`` holds the files that must never be written, e.g. the opened model.
    """
    path = Path(path).expanduser()
    for protected in protect:
        if is_same_file(path, protected):
            raise WriteRefused(f"Refusing to write over the opened model {path}; choose another file.")
    if path.exists() and not force:
        raise OutputExists(f"{path} already exists; pass --force to overwrite it.")
    if not path.parent.is_dir():
        raise WriteRefused(f"The folder {path.parent} does not exist.")
    return path


def write_atomically(
    path: str | os.PathLike, write: Callable[[Path], object], *, force: bool = False, protect: Iterable = ()
) -> Path:
    """Call ``write(temporary_path)``, then put that file in place of ``path``; returns ``path``.

    The temporary file has ``path``'s suffix (some writers pick the format from it).
    """
    path = check_writable(path, force=force, protect=protect)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        write(temporary)
        os.chmod(temporary, new_file_mode(path))
        _flush_to_disk(temporary)  # the bytes are on disk before the name points at them
        os.replace(temporary, path)
        _flush_to_disk(path.parent)  # and the rename itself survives a crash
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
    return path


def write_csv(
    path: str | os.PathLike, rows: Iterable[dict], fields: Iterable[str], *, force: bool = False, protect: Iterable = ()
) -> Path:
    """Rows as CSV with a header, floats to 6 significant digits, written atomically."""
    fields = list(fields)

    def write(temporary: Path) -> None:
        with open(temporary, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_value(row[k]) for k in fields})

    return write_atomically(path, write, force=force, protect=protect)


def write_text(path: str | os.PathLike, text: str, *, force: bool = False, protect: Iterable = ()) -> Path:
    return write_atomically(
        path, lambda temporary: temporary.write_text(text, encoding="utf-8"), force=force, protect=protect
    )


def _csv_value(value):
    return f"{value:.6g}" if isinstance(value, float) else value


def _flush_to_disk(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems cannot fsync a directory; the rename is still atomic
        pass
    finally:
        os.close(fd)


def new_file_mode(path: Path) -> int:
    """The mode a plain open() would give ``path`` (mkstemp's temporary files are 0600)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
