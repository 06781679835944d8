"""``python -m aerie``: the same command line as the ``aerie`` script."""

from aerie.cli import main

raise SystemExit(main())
