"""Argument checks made before anything is sent.

Asterisk's own validation is loose (`/channels/create` without `app`, `timeout=abc` and a
non-object `variables` all returned 200; an unknown technology returns 500 "Allocation
failed"; a bridge record without `format` crashed it), so every method checks here and raises
`ValueError` naming the argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# Channel technologies a callcontrol deployment may dial; anything else is a typo that
# Asterisk would only report as 500 "Allocation failed".
TECHNOLOGIES = frozenset({
    "Local", "PJSIP", "SIP", "IAX2", "DAHDI", "Snoop", "UnicastRTP", "AudioSocket",
    "WebSocket", "Announcer", "Recorder", "Console", "Motif", "Multicast",
})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DTMF = re.compile(r"[0-9A-Da-d*#,]+")
_TOKEN = re.compile(r"[A-Za-z0-9_.:+@*#-]+")


def identifier(what: str, value: Any) -> str:
    """An id or name that becomes one URL path segment: non-empty, no '/', no control chars."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if "/" in value or value in {".", ".."} or _CONTROL.search(value) or len(value) > 255:
        raise ValueError(f"{what} {value!r} is not a valid identifier")
    return value


def optional_identifier(what: str, value: Any) -> str | None:
    return None if value is None else identifier(what, value)


def recording_name(value: Any) -> str:
    """Recording names become file names on the PBX: refuse anything that could escape."""
    name = identifier("recording name", value)
    if ".." in name or "\\" in name or name.startswith("."):
        raise ValueError(f"recording name {name!r} may not contain '..', '\\' or start with '.'")
    return name


def text(what: str, value: Any, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ValueError(f"{what} must be a {'' if allow_empty else 'non-empty '}string, "
                         f"got {value!r}")
    if _CONTROL.search(value):
        raise ValueError(f"{what} {value!r} contains control characters")
    return value


def optional_text(what: str, value: Any) -> str | None:
    return None if value is None else text(what, value)


def endpoint(value: Any) -> str:
    """`Tech/resource` with a known technology (e.g. `Local/1001@agents`, `PJSIP/1001`)."""
    value = text("endpoint", value)
    tech, sep, resource = value.partition("/")
    if not sep or not resource:
        raise ValueError(f"endpoint {value!r} must look like Tech/resource")
    if tech not in TECHNOLOGIES:
        raise ValueError(f"endpoint {value!r}: unknown technology {tech!r} "
                         f"(one of {sorted(TECHNOLOGIES)})")
    return value


def choice(what: str, value: Any, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {list(allowed)}")
    return value


def integer(what: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def optional_integer(what: str, value: Any, *, minimum: int | None = None) -> int | None:
    return None if value is None else integer(what, value, minimum=minimum)


def boolean(what: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be True or False, got {value!r}")
    return value


def variables(value: Any) -> dict[str, str] | None:
    """Channel variables: a mapping of non-empty names to string values."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"variables must be a mapping of name to value, got {value!r}")
    out: dict[str, str] = {}
    for key, val in value.items():
        text("variable name", key)
        if not isinstance(val, str | int | float) or isinstance(val, bool):
            raise ValueError(f"variable {key!r} must be a string or number, got {val!r}")
        out[key] = str(val)
    return out


def one_or_many(what: str, value: Any, check=None) -> str:
    """A value or a list of values, sent comma-separated as Asterisk expects."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError(f"{what} must be a string or a non-empty list of strings, got {value!r}")
    checked = [(check or (lambda v: text(what, v)))(v) for v in items]
    for item in checked:
        if "," in item:
            raise ValueError(f"{what} {item!r} may not contain ','")
    return ",".join(checked)


def dtmf(value: Any) -> str:
    value = text("dtmf", value)
    if not _DTMF.fullmatch(value):
        raise ValueError(f"dtmf {value!r} may only contain 0-9, A-D, '*', '#' and ','")
    return value


def token(what: str, value: Any) -> str:
    """A short word such as a format or MOH class: letters, digits and a few separators."""
    value = text(what, value)
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{what} {value!r} contains characters that are not allowed")
    return value


def optional_token(what: str, value: Any) -> str | None:
    return None if value is None else token(what, value)
