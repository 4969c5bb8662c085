"""The Qt desktop app (PySide6 + pyqtgraph) over prune_viz.core.

Subpackages, top to bottom (a pyproject.toml layers contract keeps the order): ``shell`` (the app and
main window), ``classroom`` (lab, lessons), ``experiments`` (the experiments dock), ``panels``
(controls, evaluation, warm-up) and ``views`` (the pictures). The modules here are what all of them
share: ``workers`` (jobs off the GUI thread), ``errors`` (error dialogs), ``remembered`` (what QSettings keep),
``features`` (the registry through which the window lends features its menus and actions) and
``binding`` (bind: session connections that go with their Qt receiver)."""
