from prune_viz.cli import main

raise SystemExit(main())
