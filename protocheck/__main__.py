"""``python -m protocheck`` runs the command line."""

import sys

from protocheck.cli import main

sys.exit(main())
