"""Phone number normalisation to E.164; never raises on garbage."""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers

_MAX_LEN = 64
_EXTENSION = re.compile(r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d+\s*$")
_ALLOWED = re.compile(r"^[+\d\s().\-/]*$")


def _digits_to_ascii(raw: str) -> str:
    out = []
    for ch in raw:
        if ch.isdigit() and not ch.isascii():
            try:
                out.append(str(unicodedata.digit(ch)))
            except (TypeError, ValueError):
                out.append(ch)
        else:
            out.append(ch)
    return "".join(out)


def normalise(raw: str | None, region: str) -> str | None:
    """E.164 for ``raw`` dialled from ``region`` (e.g. "CY"), or None if it is no valid number.

    Letters (vanity numbers, "anonymous", "unknown") give None; an extension such as
    "x123" or "ext. 5" is dropped; ``00`` international prefixes are understood. The
    answers for the last few thousand numbers are remembered: callers call again, and
    parsing a number costs a tenth of a millisecond, on every call.
    """
    if not isinstance(raw, str) or not isinstance(region, str | None):
        return None
    if len(raw) > 256:   # no number: not worth a place among those remembered
        return _normalise.__wrapped__(raw, region)
    return _normalise(raw, region)


@functools.lru_cache(maxsize=8192)
def _normalise(raw: str, region: str | None) -> str | None:
    text = _digits_to_ascii(raw.strip())
    if not text or len(text) > _MAX_LEN:
        return None
    text = _EXTENSION.sub("", text).strip()
    if not _ALLOWED.match(text):
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    except Exception:  # noqa: BLE001 - the library must never crash a call
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
