"""``python -m protocheck`` runs the command line."""

from protocheck.cli import entry_point

entry_point()
