"""``python -m tinygrad_edu`` runs the command line.

``tinygrad_edu.cli`` imports nothing heavy, so Ctrl-C is handled from here on.
"""

from tinygrad_edu.cli import main

raise SystemExit(main())
