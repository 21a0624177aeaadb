"""``python -m tinygrad_edu`` runs the command line."""

from tinygrad_edu.cli import main

raise SystemExit(main())
