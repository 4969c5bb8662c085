"""Any HDF5 data is read once in a child process before h5py touches it here, because a damaged
file can crash or hang libhdf5."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

from prune_viz.core.io.archive_checks import damaged_member_error
from prune_viz.core.io.load_errors import ModelLoadError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# Files up to this size that a child read whole once are not read again by another child in this
# process (reopening, a lesson, a sweep): their bytes are compared by SHA-256 instead.
REMEMBERED_SIZE = 64 * 2**20
_read_safely: dict[tuple[str, str], bool] = {}  # (sha256, member) -> names hold backslashes


# Reads every attribute and dataset of an HDF5 file (argv: path; the zip member holding the file,
# or ""; where to copy that member first, or ""), big datasets in slices of rows. Exit code 3: the
# member's bytes do not match the zip's CRC; a negative one: libhdf5 crashed. Prints "backslashes"
# when a group or dataset name holds a backslash (Keras on Windows wrote those).
READ_ALL_SCRIPT = r"""
import os, shutil, sys, zipfile
import h5py

def attempt(action):
    # an error is not the question here, a crash is: go on, so that every part gets touched
    try:
        action()
    except Exception:
        pass

def read_attrs(obj):
    for key in list(obj.attrs):
        attempt(lambda: obj.attrs[key])

def read(name, obj):
    names.append(name)
    read_attrs(obj)
    if isinstance(obj, h5py.Dataset):
        if obj.ndim and obj.size > (1 << 22):  # in slices: the child need not hold a big kernel at once
            step = max(1, (1 << 22) // max(1, obj.size // obj.shape[0]))
            starts = range(0, obj.shape[0], step)
            if obj.chunks is None and obj.dtype.kind in "fiub":
                # contiguous numbers: libhdf5 reads every row alike, whatever the values, so its
                # first and last rows take every path a whole read takes
                starts = [0, obj.shape[0] - 1]
            for r0 in starts:
                attempt(lambda: obj[r0:r0 + step])
        else:
            attempt(lambda: obj[()])

path, member, copy = sys.argv[1:4]
source = path
if member:
    archive = zipfile.ZipFile(path)
    try:
        with archive.open(member) as whole, open(copy or os.devnull, "wb") as out:
            shutil.copyfileobj(whole, out, 1 << 20)
    except zipfile.BadZipFile:
        sys.exit(3)
    # h5py then reads what the parent's h5py will read: the copy, or else the member in the zip
    source = copy or archive.open(member)
names = []
with h5py.File(source, "r") as f:
    attempt(lambda: read_attrs(f))
    f.visititems(read)
print("backslashes" if any("\\" in name for name in names) else "")
"""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):  # in pieces: the file is not held whole here
            digest.update(chunk)
    return digest.hexdigest()


class HDF5Check:
    """Reads a file's HDF5 data once in a child process, before this process lets h5py touch it:
    a damaged file can crash (SIGSEGV) or hang libhdf5 itself, which no try/except here could
    catch. The fuzzer found both. The child starts on entry, so that this process can build the
    model meanwhile; ``wait`` gives its verdict."""

    def __init__(self, path: Path, member: str | None, what: str = "its HDF5 data", copy: Path | None = None):
        """``member``: the zip member holding the HDF5 file, None for an HDF5 file of its own;
        ``copy``: where the child copies the member to, and reads it from."""
        self.path, self.member, self.what, self.copy = path, member, what, copy
        self.backslashes: bool | None = False
        size = path.stat().st_size
        self.seconds = 20 + size // (50 * 2**20)
        self._child = None
        self._bytes_key = (_sha256(path), member or "") if size <= REMEMBERED_SIZE else None

    def __enter__(self) -> HDF5Check:
        import subprocess
        import sys

        if self._bytes_key in _read_safely:  # these very bytes were read whole by a child already
            return self
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-c", READ_ALL_SCRIPT, str(self.path), self.member or "", str(self.copy or "")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self._child = None  # no child process possible here: h5py reads it in-process unchecked
        return self

    def wait(self) -> None:
        """Raise ModelLoadError if reading the file crashed or hung the child, or if the zip
        member's bytes are damaged; else note whether its group names hold backslashes."""
        import subprocess

        if self._child is None:
            self.backslashes = _read_safely.get(self._bytes_key)  # None: unknown (no child could start)
            if self.copy is not None:
                try:
                    with (
                        zipfile.ZipFile(self.path) as archive,
                        archive.open(self.member) as member,
                        open(self.copy, "wb") as out,
                    ):
                        shutil.copyfileobj(member, out, 1 << 24)
                except zipfile.BadZipFile as exc:  # the member's CRC, as the child checks it
                    raise damaged_member_error(self.path, self.member) from exc
            return
        try:
            out, _ = self._child.communicate(timeout=self.seconds)
        except subprocess.TimeoutExpired as exc:
            raise ModelLoadError(
                f"{self.path.name} is damaged: reading {self.what} did not finish within {self.seconds} s."
            ) from exc
        code = self._child.returncode
        if code < 0:
            raise ModelLoadError(
                f"{self.path.name} is damaged: reading {self.what} crashed the HDF5 library (signal {-code})."
            )
        if code == 3 and self.member:
            raise damaged_member_error(self.path, self.member)
        self.backslashes = out.strip() == b"backslashes"
        if code == 0 and self._bytes_key is not None:
            _read_safely[self._bytes_key] = self.backslashes

    def __exit__(self, *exc_info) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.wait()
