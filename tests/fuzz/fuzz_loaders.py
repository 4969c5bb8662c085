"""Long fuzzing run of the model and IDX loaders (not collected by pytest).

    python tests/fuzz/fuzz_loaders.py --minutes 12 [--start-seed 0]

Seeds are real files: Keras 3 and Keras 2 (.keras, .h5) models, a Keras 3 SavedModel
export, and real MNIST as IDX files and as an .npz. Each example is one (seed file, mutation kind, seed)
run in a worker process, so a hang (over --timeout seconds) or a crash of TensorFlow/HDF5
is recorded as a finding instead of stopping the run. Prints a summary and every finding
with the command line to reproduce it.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "core")]

import fuzz_mutations as mutations  # noqa: E402

MNIST = ROOT.parent / "shared" / "data" / "mnist"


def build_seeds(folder: Path) -> dict[str, Path]:
    import keras
    import numpy as np

    from prune_viz.core.data import load_idx_folder

    import model_factory

    seeds = {}
    for name, build in (("mlp", model_factory.keras3_mlp), ("cnn", model_factory.keras3_functional)):
        keras.utils.set_random_seed(11)
        model = build(keras)
        for suffix in (".keras", ".h5"):
            seeds[f"keras3-{name}{suffix}"] = folder / f"keras3-{name}{suffix}"
            model.save(seeds[f"keras3-{name}{suffix}"])
        model.export(str(folder / f"keras3-{name}-export"), verbose=False)
        seeds[f"keras3-{name}-export"] = folder / f"keras3-{name}-export"
    if model_factory.tf_keras_available():
        keras2 = folder / "keras2"
        keras2.mkdir()
        for case in model_factory.write_keras2_cases(keras2):
            if case.path.is_file():
                seeds[case.name] = case.path
    mnist = load_idx_folder(MNIST)
    images, labels = mnist.x_test[:200], mnist.y_test[:200]
    (folder / "images.idx").write_bytes(struct.pack(">IIII", 0x803, 200, 28, 28) + images.tobytes())
    (folder / "labels.idx").write_bytes(struct.pack(">II", 0x801, 200) + labels.astype(np.uint8).tobytes())
    seeds["idx-images"], seeds["idx-labels"] = folder / "images.idx", folder / "labels.idx"
    np.savez(
        folder / "mnist.npz", x_train=mnist.x_train[:200], y_train=mnist.y_train[:200], x_test=images, y_test=labels
    )
    seeds["npz"] = folder / "mnist.npz"
    return seeds


def kinds_for(seed_name: str) -> tuple[str, ...]:
    if seed_name.startswith("idx-"):
        return mutations.IDX_KINDS
    if seed_name == "npz":
        return mutations.NPZ_KINDS
    if seed_name.endswith("-export"):
        return ("pb-flip", "pb-truncate", "variables-flip", "variables-truncate", "drop-file")
    return mutations.MODEL_KINDS


def mutate_savedmodel(source: Path, target: Path, kind: str, rng: random.Random) -> None:
    shutil.copytree(source, target)
    files = sorted(p for p in target.rglob("*") if p.is_file())
    if kind.startswith("pb"):
        chosen = target / "saved_model.pb"
    elif kind.startswith("variables"):
        chosen = rng.choice([p for p in files if p.parent.name == "variables"])
    else:
        rng.choice(files).unlink()
        return
    data = chosen.read_bytes()
    chosen.write_bytes(mutations.flip_bytes(data, rng) if kind.endswith("flip") else mutations.truncate(data, rng))


def run_one(seed_path: Path, seed_name: str, kind: str, seed: int, scratch: Path) -> str:
    """'loaded', 'expected: <message>' or 'UNEXPECTED <type>: ...' for one example."""
    from prune_viz.core.data import DataError, load_path, read_idx
    from prune_viz.core.io import ModelLoadError, load_model
    from prune_viz.core.layers import find_prunable_layers

    rng = random.Random(seed)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        if seed_name.startswith("idx-"):
            which = seed_name.split("-")[1]
            broken = mutations.mutate_idx(seed_path.read_bytes(), kind, rng)
            other = "labels" if which == "images" else "images"
            (scratch / f"t10k-{which}-idx-ubyte").write_bytes(broken)
            shutil.copyfile(seed_path.with_name(f"{other}.idx"), scratch / f"t10k-{other}-idx-ubyte")
            try:
                read_idx(scratch / f"t10k-{which}-idx-ubyte")
                load_path(scratch)
                return "loaded"
            except DataError as exc:
                return "expected: " + str(exc)
        if seed_name == "npz":
            target = scratch / "mnist.npz"
            target.write_bytes(mutations.mutate_npz(seed_path.read_bytes(), kind, rng))
            try:
                load_path(target)
                return "loaded"
            except DataError as exc:
                return "expected: " + str(exc)
        if seed_path.is_dir():
            target = scratch / "model"
            mutate_savedmodel(seed_path, target, kind, rng)
        else:
            target = scratch / ("fuzzed" + seed_path.suffix)
            target.write_bytes(mutations.mutate_model(seed_path.read_bytes(), kind, rng))
        try:
            loaded = load_model(target)
        except ModelLoadError as exc:
            message = str(exc)
            if "\n" in message or not message:
                return f"UNEXPECTED multi-line message: {message!r}"
            return "expected: " + message
        find_prunable_layers(loaded)
        return "loaded"
    except Exception as exc:  # the finding this script is looking for
        return f"UNEXPECTED {type(exc).__name__}: {exc}\n{traceback.format_exc()}"


def worker(connection, seeds: dict[str, str], scratch: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow  # noqa: F401  (once, before the first example)

    connection.send("ready")
    while True:
        job = connection.recv()
        if job is None:
            return
        name, kind, seed = job
        connection.send(run_one(Path(seeds[name]), name, kind, seed, Path(scratch)))


class Worker:
    def __init__(self, seeds: dict[str, Path], scratch: Path):
        self.seeds = {k: str(v) for k, v in seeds.items()}
        self.scratch = scratch
        self.start()

    def start(self):
        context = mp.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=worker, args=(child, self.seeds, str(self.scratch)), daemon=True)
        self.process.start()
        if not self.connection.poll(120) or self.connection.recv() != "ready":
            raise RuntimeError("the fuzzing worker did not start")

    def run(self, job, timeout: float) -> str:
        self.connection.send(job)
        if self.connection.poll(timeout):
            try:
                return self.connection.recv()
            except EOFError:
                pass
        else:
            self.process.kill()
            self.process.join()
            self.start()
            return f"UNEXPECTED hang: no answer within {timeout:.0f} s"
        self.process.join(5)
        code = self.process.exitcode
        self.start()
        return f"UNEXPECTED crash: the worker died with exit code {code}"


def summarise(message: str) -> str:
    """The message with file names and numbers blanked, to count kinds of messages."""
    text = re.sub(r"\d[\d,.]*", "N", message)
    return re.sub(r"fuzzed\.\w+|t10k-\w+-idx-ubyte|model\b", "FILE", text)[:150]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before an example counts as a hang")
    parser.add_argument("--start-seed", type=int, default=0)
    parser.add_argument("--only", help="run only these examples: SEED_NAME:KIND:SEED[,SEED_NAME:KIND:SEED...]")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="prune-viz-fuzz-") as tmp:
        tmp = Path(tmp)
        (tmp / "seeds").mkdir()
        seeds = build_seeds(tmp / "seeds")
        print(f"seed files: {', '.join(seeds)}", flush=True)
        runner = Worker(seeds, tmp / "scratch")
        outcomes: collections.Counter = collections.Counter()
        messages: collections.Counter = collections.Counter()
        findings = []
        jobs = []
        if args.only:
            for spec in args.only.split(","):
                name, kind, seed = spec.split(":")
                jobs.append((name, kind, int(seed)))
        start = time.monotonic()
        seed = args.start_seed
        names = sorted(seeds)
        while True:
            if args.only:
                if not jobs:
                    break
                job = jobs.pop()
            else:
                if time.monotonic() - start > args.minutes * 60:
                    break
                name = names[seed % len(names)]
                kinds = kinds_for(name)
                job = (name, kinds[(seed // len(names)) % len(kinds)], seed)
                seed += 1
            result = runner.run(job, args.timeout)
            head = result.split(":", 1)[0]
            outcomes[(job[0], head)] += 1
            if head == "expected":
                messages[summarise(result.split(": ", 1)[1])] += 1
            elif head.startswith("UNEXPECTED"):
                findings.append((job, result))
                print(f"FINDING {job[0]}:{job[1]}:{job[2]} -> {result.splitlines()[0]}", flush=True)
            total = sum(outcomes.values())
            if total % 500 == 0:
                print(f"{total} examples, {len(findings)} findings, {time.monotonic() - start:.0f} s", flush=True)
        runner.connection.send(None)
        elapsed = time.monotonic() - start
        total = sum(outcomes.values())
        print(f"\n{total} examples in {elapsed / 60:.1f} min ({total / elapsed:.1f}/s), {len(findings)} findings")
        by_seed = collections.defaultdict(dict)
        for (name, head), count in outcomes.items():
            by_seed[name][head] = count
        for name in sorted(by_seed):
            print(f"  {name:32} {by_seed[name]}")
        print("\nmost common messages:")
        for text, count in messages.most_common(40):
            print(f"  {count:6}  {text}")
        for job, result in findings:
            print(f"\nFINDING {job}: reproduce with --only {job[0]}:{job[1]}:{job[2]}\n{result}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
