"""How arguments go on the wire: path segments and query parameters, as Asterisk reads them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

# what urllib.parse.quote never encodes
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"


def quoter(safe: str) -> Callable[[str], str]:
    """``quote(value, safe=safe)``, with a value that needs no encoding (channel and
    bridge ids, the application name, ``wav``: nearly all of them) checked by one
    precompiled regular expression and returned as it is; about forty values a call went
    through ``quote`` and its bytes round trip before."""
    plain = re.compile("[" + "".join(re.escape(c) for c in _UNRESERVED + safe) + "]*").fullmatch

    def encode(value: str) -> str:
        return value if plain(value) else quote(value, safe=safe)
    return encode


_segment = quoter(":@")


def segment(value: str) -> str:
    """One URL path segment. ':' and '@' are legal there and kept readable (bridge ids like
    `callcontrol:123-br`); everything else is percent-encoded, '+' included, because
    Asterisk's legacy URI decoding (ast_uri_http_legacy) can turn a bare '+' into a space."""
    return _segment(value)


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
