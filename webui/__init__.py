"""The web UI's templates and static files; page handlers live with their domains.

``TEMPLATES`` and ``STATIC`` are computed from this file, so an installed wheel and a
checkout behave the same.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
