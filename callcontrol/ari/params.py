"""How arguments go on the wire: path segments and query parameters, as Asterisk reads them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def segment(value: str) -> str:
    """One URL path segment. ':' and '@' are legal there and kept readable (bridge ids like
    `callcontrol:123-br`); everything else is percent-encoded, '+' included, because
    Asterisk's legacy URI decoding (ast_uri_http_legacy) can turn a bare '+' into a space."""
    return quote(value, safe=":@")


def query(**params: Any) -> dict[str, str]:
    """Query parameters: None dropped, booleans as true/false, numbers as decimal strings."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out
