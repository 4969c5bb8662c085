"""core.files: every output is written whole or not at all, never over the opened model, never over an
existing file unless forced."""

from __future__ import annotations

import csv
import os
import stat

import pytest

from prune_viz.core import files
from prune_viz.core.files import OutputExists, WriteRefused, write_atomically, write_csv, write_text

MODEL_BYTES = b"PK\x03\x04 the user's model"


@pytest.fixture
def opened_model(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(MODEL_BYTES)
    return path


def test_a_hard_link_to_the_opened_model_is_refused_even_with_force(opened_model, tmp_path):
    link = tmp_path / "other-name.keras"
    os.link(opened_model, link)
    with pytest.raises(WriteRefused, match="opened model"):
        write_text(link, "new", force=True, protect=(opened_model,))
    assert opened_model.read_bytes() == MODEL_BYTES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "other-name.keras"]


def test_a_symlink_to_the_opened_model_and_the_model_itself_are_refused(opened_model, tmp_path):
    (tmp_path / "sub").mkdir()
    link = tmp_path / "sub" / "alias.keras"
    link.symlink_to(opened_model)
    for target in (link, opened_model, tmp_path / "sub" / ".." / "model.keras"):
        with pytest.raises(WriteRefused, match="opened model"):
            write_text(target, "new", force=True, protect=(str(opened_model),))
    assert opened_model.read_bytes() == MODEL_BYTES


def test_an_existing_file_is_refused_without_force_and_replaced_with_it(tmp_path):
    out = tmp_path / "points.csv"
    out.write_text("old")
    with pytest.raises(OutputExists, match="--force") as info:
        write_text(out, "new")
    assert isinstance(info.value, FileExistsError)
    assert out.read_text() == "old"
    write_text(out, "new", force=True)
    assert out.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.csv"]


def test_a_missing_folder_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(WriteRefused, match="does not exist"):
        write_text(tmp_path / "nowhere" / "x.csv", "x")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary(tmp_path):
    out = tmp_path / "plot.png"
    out.write_bytes(b"the old picture")
    seen = []

    def write_half_then_fail(temporary):
        seen.append(temporary)
        assert temporary.parent == tmp_path and temporary.suffix == ".png"  # same folder: rename is atomic
        temporary.write_bytes(b"half a pic")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_atomically(out, write_half_then_fail, force=True)
    assert out.read_bytes() == b"the old picture"
    assert not seen[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]


def test_the_content_is_complete_flushed_and_gets_the_usual_mode(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        info = os.fstat(fd)
        synced.append((stat.S_ISDIR(info.st_mode), info.st_ino, info.st_size))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", recording_fsync)
    text = "".join(f"line {i}\n" for i in range(200_000))
    out = write_text(tmp_path / "big.txt", text)
    assert out.read_text() == text
    # the file's bytes, then the folder (so the rename survives a crash)
    assert synced == [(False, out.stat().st_ino, len(text.encode())), (True, tmp_path.stat().st_ino, synced[1][2])]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's private 0600


def test_csv_rows_are_written_with_a_header_and_six_significant_digits(tmp_path):
    rows = [
        {"method": "weight", "k": 50.0, "accuracy": 0.123456789, "points": 3},
        {"method": "unit", "k": 90.0, "accuracy": 1 / 3, "points": 4},
    ]
    out = write_csv(tmp_path / "sweep.csv", rows, ["method", "k", "accuracy", "points"])
    with open(out, newline="") as f:
        read = list(csv.DictReader(f))
    assert read == [
        {"method": "weight", "k": "50", "accuracy": "0.123457", "points": "3"},
        {"method": "unit", "k": "90", "accuracy": "0.333333", "points": "4"},
    ]
