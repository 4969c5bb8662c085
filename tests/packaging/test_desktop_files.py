"""The desktop entry, AppStream metainfo, MIME type and icons: valid, installable, consistent."""

from __future__ import annotations

import importlib.util
import re
import shutil
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "prune_viz" / "data" / "icons"
APP_ID = "io.github.pruneviz.PruneViz"
DESKTOP = PACKAGING / f"{APP_ID}.desktop"
METAINFO = PACKAGING / f"{APP_ID}.metainfo.xml"
MIME_XML = PACKAGING / "prune-viz-mime.xml"
INSTALL = PACKAGING / "install_desktop.sh"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install desktop-file-utils appstream shared-mime-info)")
    return path


def _render_icons_module():
    # packaging/ is not a package (and `packaging` is a PyPI name), so load the script by path
    spec = importlib.util.spec_from_file_location("render_icons", PACKAGING / "render_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def desktop_entry(path: Path) -> dict[str, str]:
    entry, group = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
        elif group == "Desktop Entry" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entry[key.strip()] = value.strip()
    return entry


def exec_argv(value: str) -> list[str]:
    """Split an Exec value as the desktop-entry spec says: string escapes first, then quoting."""
    text = re.sub(r"\\([sntr\\])", lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[m[1]], value)
    argv, current, quoted, i = [], None, False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
                current += text[i + 1]
                i += 1
            elif ch == '"':
                quoted = False
            else:
                current += ch
        elif ch == '"':
            quoted, current = True, current or ""
        elif ch == " ":
            if current is not None:
                argv.append(current)
            current = None
        else:
            current = (current or "") + ch
        i += 1
    assert not quoted, f"unterminated quote in Exec={value}"
    if current is not None:
        argv.append(current)
    return argv


def png_header(path: Path) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from the IHDR chunk."""
    data = path.read_bytes()[:33]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert chunk == b"IHDR" and length == 13
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour_type


def install_script_sizes() -> list[int]:
    match = re.search(r"^SIZES=\(([\d ]+)\)$", INSTALL.read_text(), re.M)
    assert match, "install_desktop.sh has no SIZES=(...) line"
    return [int(size) for size in match[1].split()]


def console_scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def run_install(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60)


# --- validators ------------------------------------------------------------------------


def test_desktop_file_passes_desktop_file_validate():
    result = subprocess.run(
        [_tool("desktop-file-validate"), DESKTOP.name], cwd=DESKTOP.parent, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout.lower()  # the file's name only: a folder named "errors" is no error


def test_metainfo_passes_appstreamcli_validate():
    result = subprocess.run(
        [_tool("appstreamcli"), "validate", "--no-net", str(METAINFO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the install script --------------------------------------------------------------


def test_user_install_is_a_valid_tree_that_finds_the_launchable(tmp_path):
    appstreamcli = _tool("appstreamcli")
    data_dir = tmp_path / "share"
    result = run_install("--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr

    installed = data_dir / "applications" / DESKTOP.name
    assert installed.read_text() == DESKTOP.read_text()  # Exec stays `prune-viz %f` from PATH
    assert (data_dir / "metainfo" / METAINFO.name).is_file()
    assert (data_dir / "mime" / "packages" / MIME_XML.name).is_file()
    assert (data_dir / "icons" / "hicolor" / "scalable" / "apps" / "prune-viz.svg").is_file()
    for size in install_script_sizes():
        icon = data_dir / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "prune-viz.png"
        assert png_header(icon)[:2] == (size, size)

    # validate-tree fails with desktop-file-not-found unless the launchable resolves
    tree = subprocess.run([appstreamcli, "validate-tree", "--no-net", str(tmp_path)], capture_output=True, text=True)
    assert tree.returncode == 0, tree.stdout + tree.stderr


def test_install_for_a_bundle_quotes_the_executable_path(tmp_path):
    validate = _tool("desktop-file-validate")
    bundle = tmp_path / 'my apps $HOME "q" back\\slash'
    bundle.mkdir()
    executable = bundle / "prune-viz"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    data_dir = tmp_path / "share"

    result = run_install("--data-dir", str(data_dir), "--exec", str(executable))
    assert result.returncode == 0, result.stderr

    installed = data_dir / "applications" / DESKTOP.name
    assert exec_argv(desktop_entry(installed)["Exec"]) == [str(executable), "%f"]
    check = subprocess.run([validate, str(installed)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_install_refuses_an_exec_that_is_not_executable(tmp_path):
    result = run_install("--data-dir", str(tmp_path / "share"), "--exec", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "not an executable" in result.stderr
    assert not (tmp_path / "share" / "applications").exists()


def test_uninstall_removes_every_installed_file(tmp_path):
    data_dir = tmp_path / "share"
    assert run_install("--data-dir", str(data_dir)).returncode == 0
    ours = {p for p in data_dir.rglob("*") if p.is_file() and ("prune-viz" in p.name or APP_ID in p.name)}
    assert len(ours) == 3 + 1 + len(install_script_sizes())  # desktop, metainfo, mime xml, svg, PNGs

    assert run_install("--data-dir", str(data_dir), "--uninstall").returncode == 0
    assert [p for p in ours if p.exists()] == []


# --- consistency between the files -----------------------------------------------------


def test_exec_runs_the_console_script_from_pyproject():
    scripts = console_scripts()
    argv = exec_argv(desktop_entry(DESKTOP)["Exec"])
    assert argv[0] in scripts
    assert scripts[argv[0]] == "prune_viz.cli:main"
    assert argv[1:] == ["%f"]  # one file: prune-viz [MODEL]
    # Qt on X11 names the window class after the executable; docks match it to this entry
    assert desktop_entry(DESKTOP)["StartupWMClass"] == argv[0]

    provides = ET.parse(METAINFO).getroot().find("provides")
    assert [b.text for b in provides.findall("binary")] == [argv[0]]


def test_icon_name_matches_the_icon_files():
    render_icons = _render_icons_module()
    icon = desktop_entry(DESKTOP)["Icon"]
    assert icon == render_icons.ICON_NAME
    assert (ICONS / f"{icon}.svg").is_file()
    assert install_script_sizes() == list(render_icons.SIZES)
    for size in render_icons.SIZES:
        assert (ICONS / f"{icon}-{size}.png").is_file()


@pytest.mark.parametrize("size", [16, 32, 48, 64, 128, 256, 512])
def test_icon_png_has_its_declared_size(size):
    width, height, depth, colour_type = png_header(ICONS / f"prune-viz-{size}.png")
    assert (width, height) == (size, size)
    assert (depth, colour_type) == (8, 6)  # 8-bit RGBA: the rounded corners are transparent


def test_icon_pngs_are_rendered_from_the_current_svg(qapp, tmp_path):
    from PySide6.QtGui import QImage

    render_icons = _render_icons_module()
    for fresh in render_icons.render(ICONS / "prune-viz.svg", tmp_path):
        committed = QImage(str(ICONS / fresh.name)).convertToFormat(QImage.Format.Format_ARGB32)
        rendered = QImage(str(fresh)).convertToFormat(QImage.Format.Format_ARGB32)
        assert committed.size() == rendered.size()
        a = bytes(committed.constBits())[: committed.sizeInBytes()]
        b = bytes(rendered.constBits())[: rendered.sizeInBytes()]
        worst = max(abs(x - y) for x, y in zip(a, b))
        assert worst <= 2, f"{fresh.name} is out of date: run python packaging/render_icons.py"


def test_metainfo_names_the_desktop_file_and_the_current_version():
    root = ET.parse(METAINFO).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    launchable = root.find("launchable")
    assert (launchable.get("type"), launchable.text) == ("desktop-id", DESKTOP.name)

    from prune_viz import __version__

    newest = root.find("releases/release")
    assert newest.get("version") == __version__, "add a <release> for the new version"

    categories = [c.text for c in root.findall("categories/category")]
    assert categories == desktop_entry(DESKTOP)["Categories"].rstrip(";").split(";")


def test_keras_files_get_the_mime_type_the_desktop_entry_claims(tmp_path):
    update = _tool("update-mime-database")
    packages = tmp_path / "mime" / "packages"
    packages.mkdir(parents=True)
    shutil.copy(MIME_XML, packages)
    subprocess.run([update, str(tmp_path / "mime")], check=True, capture_output=True)
    globs = (tmp_path / "mime" / "globs2").read_text().splitlines()
    assert any(line.endswith(":application/x-keras:*.keras") for line in globs)

    claimed = desktop_entry(DESKTOP)["MimeType"].rstrip(";").split(";")
    assert "application/x-keras" in claimed
    provided = [m.text for m in ET.parse(METAINFO).getroot().findall("provides/mediatype")]
    assert provided == ["application/x-keras"]


def test_h5_checkpoints_are_the_hdf_type_the_desktop_entry_claims():
    system_db = Path("/usr/share/mime/packages/freedesktop.org.xml")
    if not system_db.is_file():
        pytest.skip("shared-mime-info is not installed")
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    types = ET.parse(system_db).getroot().findall("m:mime-type", ns)
    h5_types = [t.get("type") for t in types if t.find("m:glob[@pattern='*.h5']", ns) is not None]
    assert h5_types == ["application/x-hdf"]
    assert "application/x-hdf" in desktop_entry(DESKTOP)["MimeType"].split(";")


# --- the bundle's screenshot check ---------------------------------------------------------


def _check_screenshot(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PACKAGING / "check_screenshot.py"), str(path)], capture_output=True, text=True, timeout=60
    )


def test_screenshot_check_rejects_a_window_that_never_painted(qapp, tmp_path):
    from PySide6.QtGui import QColor, QImage

    blank = QImage(1200, 800, QImage.Format.Format_RGB32)
    blank.fill(QColor("#efefef"))
    blank.save(str(tmp_path / "blank.png"))
    result = _check_screenshot(tmp_path / "blank.png")
    assert result.returncode == 1
    assert "blank" in result.stdout


def test_screenshot_check_accepts_a_painted_window(qapp, tmp_path):
    from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

    window = QWidget()
    layout = QVBoxLayout(window)
    layout.addWidget(QLabel("Accuracy 97.3% at k = 50%"))
    icon = QLabel()
    from PySide6.QtGui import QPixmap

    icon.setPixmap(QPixmap(str(ICONS / "prune-viz-256.png")))
    layout.addWidget(icon)
    window.resize(640, 480)
    window.grab().save(str(tmp_path / "window.png"))
    window.deleteLater()
    result = _check_screenshot(tmp_path / "window.png")
    assert result.returncode == 0, result.stdout


# --- the bundle's entry script ---------------------------------------------------------------


def _entry_module():
    spec = importlib.util.spec_from_file_location("prune_viz_entry", PACKAGING / "prune_viz_entry.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundle_entry_runs_dash_c_like_python(monkeypatch, capsys):
    # core.io.hdf5_check starts `sys.executable -c CODE PATH`; in the bundle sys.executable is the app
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    entry = _entry_module()
    code = "import sys; print('argv', sys.argv); print(__name__)"
    assert entry.run_as_python(["prune-viz", "-c", code, "a.h5", "b"]) == 0
    assert capsys.readouterr().out.splitlines() == ["argv ['-c', 'a.h5', 'b']", "__main__"]
    with pytest.raises(SystemExit) as exited:
        entry.run_as_python(["prune-viz", "-c", "raise SystemExit(3)"])
    assert exited.value.code == 3


def test_bundle_entry_runs_dash_m_prune_viz_and_leaves_other_arguments_alone(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    entry = _entry_module()
    with pytest.raises(SystemExit) as exited:
        entry.run_as_python(["prune-viz", "-m", "prune_viz", "--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("prune-viz ")
    for argv in (
        ["prune-viz"],
        ["prune-viz", "model.keras", "--k", "50"],
        ["prune-viz", "inspect", "m.h5"],
        ["prune-viz", "-m", "other_module"],
        ["prune-viz", "-c"],
    ):
        assert entry.run_as_python(argv) is None
