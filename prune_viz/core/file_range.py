"""Part of a file read as a file of its own: a stored member of a zip, read in place.

Keras writes ``model.weights.h5`` uncompressed into its ``.keras`` zip, so HDF5 can
read it straight from the archive: no temporary copy (which cost 0.8 s and 456 MB
of /tmp, possibly RAM-backed, for a 120M-weight model). Only the standard library
is used here, because the HDF5 check in a child process loads this file by path.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import zipfile
from dataclasses import dataclass

_LOCAL_HEADER = b"PK\x03\x04"


@dataclass(frozen=True)
class FileRange:
    path: str
    offset: int
    size: int

    def open(self) -> RangeReader:
        return RangeReader(self.path, self.offset, self.size)

    @contextlib.contextmanager
    def h5_source(self):
        """What to give ``h5py.File``: the path for a whole file (HDF5's own driver), else a reader.
        The child-process check and the real read must use the same driver, or a damaged file
        that crashes one may pass the other."""
        if self.offset == 0 and self.size == os.path.getsize(self.path):
            yield self.path
        else:
            with self.open() as reader:
                yield reader


def whole_file(path: str | os.PathLike) -> FileRange:
    return FileRange(os.fspath(path), 0, os.path.getsize(path))


def stored_member(path: str | os.PathLike, archive: zipfile.ZipFile, name: str) -> FileRange | None:
    """Where member ``name`` lies in ``path``, if it is stored uncompressed and unencrypted; else None."""
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return None
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    if len(header) < 30 or header[:4] != _LOCAL_HEADER:
        return None
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    offset = info.header_offset + 30 + name_length + extra_length
    if offset + info.file_size > os.path.getsize(path):
        return None
    return FileRange(os.fspath(path), offset, info.file_size)


class RangeReader(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes of a file starting at ``offset``."""

    def __init__(self, path: str, offset: int, size: int):
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._offset = offset
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + position < 0:
            raise ValueError("negative seek position")
        self._position = base + position
        return self._position

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._size - self._position))
        if count == 0:
            return 0
        self._file.seek(self._offset + self._position)
        done = self._file.readinto(memoryview(buffer)[:count]) or 0
        self._position += done
        return done

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()
