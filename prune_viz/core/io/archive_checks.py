"""Safety checks on a zip before anything reads it: its unpacked size, and its members' CRCs."""

from __future__ import annotations

import zipfile
from pathlib import Path

from prune_viz.core.io.load_errors import ModelLoadError, short_reason

MAX_ARCHIVE_BYTES = 8 * 2**30


def refuse_oversized_archive(path: Path, archive: zipfile.ZipFile) -> None:
    unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > MAX_ARCHIVE_BYTES:  # a zip bomb, or nothing an MNIST model needs
        raise ModelLoadError(
            f"{path.name} would unpack to {unpacked / 2**30:,.1f} GB, more than prune-viz "
            f"opens ({MAX_ARCHIVE_BYTES // 2**30} GB)."
        )


def refuse_damaged_members(path: Path, archive: zipfile.ZipFile, names: list[str]) -> None:
    bad = _first_damaged_member(archive, names)
    if bad is not None:
        raise damaged_member_error(path, bad)


def damaged_member_error(path: Path, member: str) -> ModelLoadError:
    return ModelLoadError(f"{path.name} is damaged (its member {member} cannot be read).")


def _first_damaged_member(archive: zipfile.ZipFile, names: list[str]) -> str | None:
    """The first of ``names`` whose bytes do not read back with their recorded CRC, as
    ``ZipFile.testzip`` would say; None when all read."""
    try:
        for name in names:
            try:
                with archive.open(name) as member:
                    while member.read(1 << 20):
                        pass
            except zipfile.BadZipFile:
                return name
    except (OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        return f"({short_reason(exc)})"
    return None
