"""``python -m sonet`` runs the command line."""

from sonet.cli import main

raise SystemExit(main())
