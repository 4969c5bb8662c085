"""The experiment panels: ``base`` (what every panel shares, including the job glue), one module
per panel, and ``dock`` (the tabbed dock and its menu). Panels import only ``base`` from here, except
that ``flips`` shows its digits the way ``draw`` does."""
