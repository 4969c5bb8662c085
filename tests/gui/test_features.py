"""The window's feature registry: features find the window's menus by key and add their entries where
the window keeps room for them, and register what others look up."""

from __future__ import annotations

from prune_viz.gui.features import Action, Dock, Menu


def texts(menu) -> list[str]:
    return [action.text() for action in menu.actions()]  # a separator's text is ""


def test_features_add_their_entries_where_the_window_keeps_room_for_them(make_window):
    window = make_window()
    features = window.features
    assert texts(window.menuBar()) == ["&File", "&Pruning", "&View", "E&xperiments", "&Help"]
    assert [features.menus[key].menuAction() for key in Menu] == window.menuBar().actions()

    file_menu = texts(features.menus[Menu.FILE])
    save_image = file_menu.index("Save window &image...")
    assert file_menu[save_image - 6 : save_image] == [  # the experiments' entries, then the lessons'
        "&Export pruned model...",
        "Export &compacted model (unit pruning)...",
        "",
        "Save &lesson...",
        "Open the &example lesson",
        "",
    ]
    assert texts(features.menus[Menu.EXPERIMENTS]) == [
        "Run &sweep",
        "Per-layer s&ensitivity",
        "Si&ze and speed",
        "&Fine-tune...",
        "&Compare...",
        "",
        "&Draw a digit",
        "Which images &break first",
        "Fi&lters as pictures",
        "&Activations",
        "Spec&trum of each layer",
        "",  # the lab's, after the experiments
        "Show the experiments &panel",
        "Experiments in a separate &window",
    ]
    view = features.menus[Menu.VIEW].actions()
    assert view[0] is window.presenter_action and view[1] is features.actions[Action.LESSON_STEPS]

    assert set(features.actions) == set(Action)
    window_actions = window.actions()
    assert all(action in window_actions for action in features.actions.values())  # shortcuts work anywhere
    assert features.docks[Dock.EXPERIMENTS].widget() is window.experiments
    assert set(features.panels) == {"experiments", "draw", "flips", "filters", "activations", "spectrum"}
    assert features.drawing is window.lab.draw


def test_a_features_shortcut_works_from_the_registry(qtbot, make_window):
    window = make_window()
    dock = window.features.docks[Dock.EXPERIMENTS]
    assert dock.isHidden()
    window.features.actions[Action.COMPARE].trigger()
    assert dock.isVisible() and window.experiments.currentWidget() is window.experiments.compare
