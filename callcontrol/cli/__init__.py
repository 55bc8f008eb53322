"""Sub-commands of ``callcontrol``: one module each, discovered by ``callcontrol.__main__``.

A module defines ``register(subparsers)`` and sets ``func`` on its parser. Raise
``callcontrol.cli.CliError`` for bad input: it is printed as one line and exits 2.
"""

from __future__ import annotations


class CliError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""
