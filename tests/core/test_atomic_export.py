"""Export never leaves a half-written model: the writer killed mid-way, or a full disk."""

from __future__ import annotations

import errno
import hashlib
import signal
import subprocess
import sys
import textwrap

import pytest

from prune_viz.core.io import load_model, save_keras_with_metadata

# Runs `prune-viz export --force` over an existing file, but the writer stops at a chosen point
# and waits there to be killed: "half" after writing half of the temporary file, "before-rename"
# once the temporary file is complete.
KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    import prune_viz.core.files as files

    stop_at, model, out = sys.argv[1:4]
    real_flush, real_replace = files._flush_to_disk, os.replace

    def half_written_then_stall(path):
        if stop_at == "half" and path.is_file():  # the temporary file, complete: cut it in half
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
            print("STOPPED", flush=True)
            time.sleep(300)
        real_flush(path)

    def stall_before_rename(src, dst):
        print("STOPPED", flush=True)
        time.sleep(300)

    files._flush_to_disk = half_written_then_stall
    if stop_at == "before-rename":
        files.os.replace = stall_before_rename
    from prune_viz.cli import main
    sys.exit(main(["export", model, "--method", "weight", "--k", "50", "--out", out, "--force", "--no-report"]))
""")


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("stop_at", ["half", "before-rename"])
def test_killing_the_writer_leaves_the_old_file_whole(trained_mlp_path, tmp_path, stop_at):
    out = tmp_path / "pruned.keras"
    out.write_bytes(trained_mlp_path.read_bytes())  # an earlier export the user keeps
    before = _digest(out)
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, stop_at, str(trained_mlp_path), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = writer.stdout.readline()
        assert line.strip() == "STOPPED", writer.stderr.read()[-2000:]
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    assert _digest(out) == before
    assert [layer.name for layer in load_model(out).keras_model.layers] == ["hidden1", "hidden2", "output"]


class ModelOnAFullDisk:
    """Stands in for a Keras model whose save() meets a full disk half-way."""

    def save(self, path):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_a_full_disk_leaves_the_old_file_and_no_temporary(trained_mlp_path, tmp_path):
    out = tmp_path / "pruned.keras"
    out.write_bytes(trained_mlp_path.read_bytes())
    before = _digest(out)
    with pytest.raises(OSError) as info:
        save_keras_with_metadata(ModelOnAFullDisk(), out, {}, force=True)
    assert info.value.errno == errno.ENOSPC
    assert _digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pruned.keras"]
