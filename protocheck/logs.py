"""protocheck's loggers, made after the command line's handler is installed (``cli._log_to_stderr``).

Every protocheck module gets its logger here (``logger``): the command line hands its handler over at start-up
(``to_stderr``), installed with the first logger made (or at once when logging is loaded already), so a check
whose modules log nothing never imports logging (~5 ms of every start-up).
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import logging

_INSTALL: list[Callable[[], None]] = []   # what the command line asked to run before the first logger


def logger(name: str) -> "logging.Logger":
    """The logger ``name`` (under "protocheck"), the command line's handler installed first if it asked for it."""
    import logging
    while _INSTALL:
        _INSTALL.pop()()
    return logging.getLogger(name)


def to_stderr(install: Callable[[], None]) -> None:
    """Run ``install`` (the command line's handler for protocheck's loggers) now if logging is loaded, else
    before the first logger is made."""
    if "logging" in sys.modules:
        install()
    else:
        _INSTALL[:] = [install]
