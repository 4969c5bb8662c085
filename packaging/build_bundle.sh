#!/usr/bin/env bash
# Build the one-folder desktop bundle with PyInstaller and smoke-test it under Xvfb.
# Takes a few minutes and about 3 GB of disk (the bundle itself is ~1.5 GB, mostly
# TensorFlow); not part of CI. See packaging/README.md.
#
#   packaging/build_bundle.sh            # result: build/bundle/dist/prune-viz/prune-viz
#
# Environment: BUNDLE_OUT (default build/bundle), PRUNE_VIZ_MNIST (a folder of MNIST IDX
# files for the evaluation smoke test; default ../shared/data/mnist), SMOKE_MODEL (a model to
# open while prune_viz/data/ has no demo checkpoint), SKIP_APT=1 to not apt-get the X libraries,
# STRIP_TF=0 to keep TensorFlow's symbol tables, BUNDLE_FROM_WORKTREE=1 to bundle uncommitted
# edits too (by default the bundle is built from a snapshot of HEAD).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${BUNDLE_OUT:-$ROOT/build/bundle}
MNIST=$(realpath -m "${PRUNE_VIZ_MNIST:-$ROOT/../shared/data/mnist}")
BUNDLE=$OUT/dist/prune-viz
APP=$BUNDLE/prune-viz
DEMO=$BUNDLE/_internal/prune_viz/data/demo-lenet-300-100.keras

step() { printf '\n== %s\n' "$*"; }
since() { python3 -c "import time; print(f'$2: {time.time() - $1:.1f} s')"; }

step "X server and the libraries Qt's xcb platform plugin links against"
if [ "${SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
        xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-image0 \
        libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xkb1 libxkbcommon-x11-0 \
        libx11-xcb1 libegl1 libgl1 libfontconfig1 libdbus-1-3 libglib2.0-0 >/dev/null
fi

step "PyInstaller and the app's own dependencies"
python3 -m pip install --quiet "pyinstaller>=6.11" "pyinstaller-hooks-contrib>=2025.1"
if ! python3 -c "import prune_viz, tensorflow, keras, PySide6, pyqtgraph, psygnal, superqt, h5py" 2>/dev/null; then
    python3 -m pip install --quiet -e .
fi
python3 -m PyInstaller --version

step "build (a few minutes)"
# Build from a snapshot of the last commit, so the bundle is exactly that commit and edits
# made while PyInstaller runs cannot end up half in it (BUNDLE_FROM_WORKTREE=1 skips this).
src=$ROOT
if [ "${BUNDLE_FROM_WORKTREE:-0}" != 1 ] && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    src=$OUT/src
    rm -rf "$src" && mkdir -p "$src"
    git -C "$ROOT" archive HEAD | tar -x -C "$src"
    echo "source: commit $(git -C "$ROOT" rev-parse --short HEAD)"
    if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
        echo "(uncommitted changes in the working tree are not in the bundle)"
    fi
fi
started=$(date +%s)
python3 -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$OUT/dist" --workpath "$OUT/work" "$src/packaging/prune-viz.spec"
echo "built in $(( $(date +%s) - started )) s: $APP"

if [ "${STRIP_TF:-1}" = 1 ]; then
    step "strip the symbol tables from TensorFlow's two big libraries (STRIP_TF=0 keeps them)"
    # only these two (over 1.2 GB together); the smoke tests below show TensorFlow still runs
    du -sh "$BUNDLE"
    strip --strip-unneeded "$BUNDLE/_internal/tensorflow/libtensorflow_cc.so.2" \
        "$BUNDLE/_internal/tensorflow/libtensorflow_framework.so.2"
    du -sh "$BUNDLE"
fi

step "Qt's xcb plugin resolves all its libraries inside the bundle or the system"
plugin=$(find "$BUNDLE/_internal" -name libqxcb.so -print -quit)
if [ -z "$plugin" ]; then
    echo "FAIL: no libqxcb.so in the bundle (PySide6 was not collected: does prune_viz.gui import it?)"
    exit 1
fi
qt_lib=$(dirname "$(dirname "$(dirname "$plugin")")")/lib
missing=$(LD_LIBRARY_PATH="$qt_lib:$BUNDLE/_internal" ldd "$plugin" | grep 'not found' || true)
if [ -n "$missing" ]; then
    echo "FAIL: $missing"
    exit 1
fi
echo "ok: $plugin"

step "smoke test: command line"
"$APP" --version
# core/io/hdf5_check.py reads HDF5 files in a child `sys.executable -c ...`; in the bundle that is this program
child=$("$APP" -c 'import sys, h5py; print("child ok", sys.argv[1:], h5py.__version__)' x y)
echo "$child"
[ "$child" = "child ok ['x', 'y'] $(python3 -c 'import h5py; print(h5py.__version__)')" ]
set +e; "$APP" -c 'raise SystemExit(7)'; status=$?; set -e
[ "$status" = 7 ] || { echo "FAIL: -c exit status $status, not 7"; exit 1; }
if [ -f "$DEMO" ]; then
    "$APP" inspect "$DEMO"
    if [ -d "$MNIST" ]; then
        "$APP" evaluate "$DEMO" --data "$MNIST" --method unit --k 50
    else
        echo "(no MNIST at $MNIST: evaluation skipped)"
    fi
else
    echo "(no demo checkpoint in the bundle: inspect skipped)"
fi

step "smoke test: the window under Xvfb, timed from launch to screenshot written"
display_file=$(mktemp)
Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$display_file" 2>/dev/null &
xvfb_pid=$!
trap 'kill "$xvfb_pid" 2>/dev/null || true; rm -f "$display_file"' EXIT
for _ in $(seq 50); do [ -s "$display_file" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$display_file")"
export QT_QPA_PLATFORM=xcb  # the real desktop path, not the offscreen plugin the tests use

export PRUNE_VIZ_TIMING=1  # the app prints "first paint after" and "model ready after" (process age)

# 1. no MODEL argument: the app must find the demo checkpoint inside the bundle
if [ -f "$DEMO" ]; then
    shot=$OUT/smoke-default.png
    rm -f "$shot"
    launched=$(date +%s.%N)
    "$APP" --screenshot "$shot"
    since "$launched" "launch to exit"
    python3 packaging/check_screenshot.py "$shot" --started "$launched"
fi

# 2. a model pruned at k=50% and evaluated on MNIST (the demo, or SMOKE_MODEL while there is none)
model=${SMOKE_MODEL:-$DEMO}
if [ ! -e "$model" ]; then
    echo "FAIL: no demo checkpoint in the bundle and no SMOKE_MODEL=path.keras to open"
    exit 1
fi
evaluate=()
if [ -d "$MNIST" ]; then evaluate=(--evaluate --data "$MNIST"); fi
shot=$OUT/smoke-pruned.png
rm -f "$shot"
launched=$(date +%s.%N)
"$APP" "$model" --method weight --k 50 "${evaluate[@]}" --screenshot "$shot"
since "$launched" "launch to exit"
python3 packaging/check_screenshot.py "$shot" --started "$launched"

step "size"
du -sh "$BUNDLE"
echo "screenshots: $OUT/smoke-*.png"
