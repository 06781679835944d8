"""``python -m aerie``: the same command line as the ``aerie`` script."""

from ops.cli import main

raise SystemExit(main())
