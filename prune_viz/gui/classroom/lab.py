"""The classroom lab's panels in the main window: Draw a digit, the flip gallery, a look inside the
model (its filters as pictures, its activations for a chosen input) and the spectra.

They are tabs of the Experiments dock (under the heatmaps, so the k slider on the right
stays in reach while drawing), with entries in the Experiments menu. Test images reach
the pad from the flip gallery's thumbnails and confusion matrix, and from the evaluation's
confusion matrix (the first test image in the clicked cell); the activations page takes the test set's
n-th item or whatever the pad shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt

from prune_viz.gui.experiments.activations import ActivationsPage
from prune_viz.gui.experiments.draw import DrawPanel
from prune_viz.gui.experiments.filters import FiltersPage
from prune_viz.gui.experiments.flips import FlipGallery
from prune_viz.gui.experiments.spectrum import SpectrumPage
from prune_viz.gui.features import Dock, Menu
from prune_viz.gui.workers import Job

PANELS = ("draw", "flips", "filters", "activations", "spectrum")
DOCK_SHARE = 0.45  # of the window's height: the heatmap keeps the rest
SEND_KIND = "send-to-pad"


@dataclass
class Lab:
    window: object
    draw: DrawPanel
    flips: FlipGallery
    filters: FiltersPage
    activations: ActivationsPage
    spectrum: SpectrumPage

    def page(self, name: str):
        pages = {"draw": self.draw, "flips": self.flips, "filters": self.filters, "activations": self.activations}
        return pages[name] if name in pages else self.spectrum

    def show_panel(self, name: str) -> None:
        """Show the Experiments dock on the tab of ``name`` (one of PANELS)."""
        if name not in PANELS:
            raise ValueError(f"panel must be one of {', '.join(PANELS)}, not {name!r}")
        window = self.window
        dock = window.features.docks[Dock.EXPERIMENTS]
        was_hidden = dock.isHidden()
        dock.show()
        dock.raise_()
        window.experiments.setCurrentWidget(self.page(name))
        if was_hidden:
            window.resizeDocks([dock], [int(window.height() * DOCK_SHARE)], Qt.Orientation.Vertical)

    def is_showing(self, name: str) -> bool:
        dock = self.window.features.docks[Dock.EXPERIMENTS]
        return dock.isVisible() and self.window.experiments.currentWidget() is self.page(name)

    def send_to_pad(self, image: np.ndarray, label: int | None) -> None:
        """Show a test image on the pad; only a 28x28 grey image, for a model that takes one, goes there."""
        if np.shape(image) != (28, 28) or self.window.session.draw_problem:
            return
        self.show_panel("draw")
        self.draw.pad.show_image(image, label)

    def send_from_evaluation(self, true: int, predicted: int) -> None:
        """The first test image of a cell of the evaluation's confusion matrix goes to the pad.

        The test images come from the session's evaluator in a job: the GUI thread never
        takes the TensorFlow job lock.
        """
        session = self.window.session
        record = session.last_evaluation
        # k may have moved since (the cell still names the same images); other data may not
        if record is None or record.result.predicted is None or session.why_stale(record, fields=()) is not None:
            return
        members = np.flatnonzero(record.result.predicted == predicted)

        def pick(data) -> None:
            chosen = members[data.y_test[members] == true]
            if len(chosen):
                self.send_to_pad(data.x_test[chosen[0]], true)

        job = Job(lambda task: session.evaluator(task).data, SEND_KIND, self.window)
        job.label = "Fetching the test image"
        job.succeeded.connect(pick)
        self.window.jobs.submit(job)


def install_lab(window) -> Lab:
    """Add the two panels as Experiments tabs, their menu entries and the image routes, through the
    window's feature registry (after the experiments dock); returns them."""
    features = window.features
    draw = DrawPanel(window.session, window.jobs)
    flips = FlipGallery(window.session, window.jobs)
    window.experiments.addTab(draw, "Draw a digit")
    window.experiments.addTab(flips, "Which images break first")
    filters = FiltersPage(window.session, window.jobs)
    activations = ActivationsPage(window.session, window.jobs, pad=draw.pad)
    spectrum = SpectrumPage(window.session, window.jobs)
    window.experiments.addTab(filters, "Filters")
    window.experiments.addTab(activations, "Activations")
    window.experiments.addTab(spectrum, "Spectrum")
    lab = Lab(window, draw, flips, filters, activations, spectrum)
    features.drawing = draw  # lessons save and restore its strokes
    for name in PANELS:  # lessons show them by name; hiding one is hiding the Experiments dock
        features.register_panel(
            name, lambda on, n=name: lab.show_panel(n) if on else None, lambda n=name: lab.is_showing(n)
        )
    flips.image_chosen.connect(lab.send_to_pad)
    flips.image_chosen.connect(activations.take_image)  # any size or colour, which the pad may not take
    window.details.matrix.cell_clicked.connect(lab.send_from_evaluation)
    window.heatmaps.layer_selected.connect(spectrum.select)  # the spectrum drawn is the selected layer's

    features.add_separator(Menu.EXPERIMENTS)  # after the experiments, before the panel's own entries
    features.add_action(
        Menu.EXPERIMENTS,
        "&Draw a digit",
        lambda: lab.show_panel("draw"),
        "Ctrl+D",
        "Draw on a pad and see what the unpruned and the pruned model make of it",
    )
    features.add_action(
        Menu.EXPERIMENTS,
        "Which images &break first",
        lambda: (lab.show_panel("flips"), flips.run() if flips.scan is None and not flips.strip.busy else None),
        "Ctrl+B",
        "Each test image's breaking k, for the current method and scope",
    )
    features.add_action(
        Menu.EXPERIMENTS,
        "Fi&lters as pictures",
        lambda: lab.show_panel("filters"),
        tip="Each convolution layer's filters as small images, pruned weights grey",
    )
    features.add_action(
        Menu.EXPERIMENTS,
        "&Activations",
        lambda: lab.show_panel("activations"),
        tip="Each layer's activations for a chosen input, unpruned and pruned, dead units marked",
    )
    features.add_action(
        Menu.EXPERIMENTS,
        "Spec&trum of each layer",
        lambda: lab.show_panel("spectrum"),
        "Ctrl+Shift+A",
        "Each weight matrix's eigenvalues and their power-law alpha, pruned at k beside the original (no data needed)",
    )
    return lab
