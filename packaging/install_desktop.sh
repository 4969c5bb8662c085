#!/usr/bin/env bash
# Register prune-viz with the desktop: menu entry, icons, AppStream metainfo and the
# .keras MIME type, for the current user (default) or under another data directory.
#
#   packaging/install_desktop.sh                      # into ${XDG_DATA_HOME:-~/.local/share}
#   packaging/install_desktop.sh --exec /opt/prune-viz/prune-viz   # launcher for a bundle
#   packaging/install_desktop.sh --data-dir /usr/local/share       # system-wide (as root)
#   packaging/install_desktop.sh --uninstall
#
# Without --exec the menu entry runs `prune-viz` from PATH (pip install puts it there).
set -euo pipefail

APP_ID=io.github.pruneviz.PruneViz
ICON=prune-viz
SIZES=(16 32 48 64 128 256 512)
HERE="$(cd "$(dirname "$0")" && pwd)"
ICONS="$HERE/../prune_viz/data/icons"

data_dir="${XDG_DATA_HOME:-$HOME/.local/share}"
exec_path=""
uninstall=0
while [ $# -gt 0 ]; do
    case "$1" in
        --data-dir) data_dir="${2:?--data-dir needs a folder}"; shift 2 ;;
        --exec) exec_path="${2:?--exec needs a path}"; shift 2 ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install_desktop.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

desktop="$data_dir/applications/$APP_ID.desktop"
metainfo="$data_dir/metainfo/$APP_ID.metainfo.xml"
mime="$data_dir/mime/packages/prune-viz-mime.xml"
icons=("$data_dir/icons/hicolor/scalable/apps/$ICON.svg")
for size in "${SIZES[@]}"; do
    icons+=("$data_dir/icons/hicolor/${size}x${size}/apps/$ICON.png")
done

if [ "$uninstall" = 1 ]; then
    rm -f "$desktop" "$metainfo" "$mime" "${icons[@]}"
else
    if [ -n "$exec_path" ] && [ ! -x "$exec_path" ]; then
        echo "install_desktop.sh: $exec_path is not an executable file" >&2
        exit 2
    fi
    install -D -m 644 "$HERE/$APP_ID.metainfo.xml" "$metainfo"
    install -D -m 644 "$HERE/prune-viz-mime.xml" "$mime"
    install -D -m 644 "$ICONS/$ICON.svg" "$data_dir/icons/hicolor/scalable/apps/$ICON.svg"
    for size in "${SIZES[@]}"; do
        install -D -m 644 "$ICONS/$ICON-$size.png" "$data_dir/icons/hicolor/${size}x${size}/apps/$ICON.png"
    done
    mkdir -p "$(dirname "$desktop")"
    if [ -n "$exec_path" ]; then
        # Exec gets the absolute path in double quotes. The desktop-entry spec escapes " ` $ and \
        # inside quotes with a backslash, and string values escape that backslash again.
        target="$(cd "$(dirname "$exec_path")" && pwd)/$(basename "$exec_path")"
        target=${target//\\/\\\\\\\\}
        for ch in '"' '`' '$'; do target=${target//"$ch"/\\\\$ch}; done
        PRUNE_VIZ_EXEC="$target" awk '/^Exec=prune-viz / { sub(/^Exec=prune-viz /, "");
            print "Exec=\"" ENVIRON["PRUNE_VIZ_EXEC"] "\" " $0; next } { print }' \
            "$HERE/$APP_ID.desktop" > "$desktop"
        chmod 644 "$desktop"
    else
        install -m 644 "$HERE/$APP_ID.desktop" "$desktop"
    fi
fi

# Refresh the caches the desktop reads; each tool is optional.
if command -v update-desktop-database >/dev/null; then
    update-desktop-database -q "$data_dir/applications" || true
fi
if command -v update-mime-database >/dev/null; then
    update-mime-database "$data_dir/mime" >/dev/null 2>&1 || true  # it notes non-XDG dirs on stderr
fi
if command -v gtk-update-icon-cache >/dev/null && [ -f "$data_dir/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$data_dir/icons/hicolor" || true
fi

if [ "$uninstall" = 1 ]; then
    echo "removed prune-viz desktop files from $data_dir"
else
    echo "installed $desktop"
    grep '^Exec=' "$desktop"
fi
