from __future__ import annotations

import random

import pytest

from callcontrol.crm.phones import normalise


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("99 123456", "CY", "+35799123456"),
        ("+357 99-123-456", "GB", "+35799123456"),
        ("00357 (99) 123.456", "PL", "+35799123456"),
        ("601 234 567", "PL", "+48601234567"),
        ("0048 601-234-567", "CY", "+48601234567"),
        ("8 (912) 345-67-89", "RU", "+79123456789"),
        ("+7 912 345 67 89", "CY", "+79123456789"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("07911 123456", "GB", "+447911123456"),
        ("020 7946 0018 x123", "GB", "+442079460018"),
        ("020 7946 0018 ext. 5", "GB", "+442079460018"),
        ("٩٩١٢٣٤٥٦", "CY", "+35799123456"),
        ("  +35799123456  ", "CY", "+35799123456"),
    ],
)
def test_messy_valid_numbers_become_e164(raw: str, region: str, expected: str) -> None:
    assert normalise(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "anonymous", "unknown", "Anonymous", "1-800-FLOWERS", "abc",
     "12", "+", "00", "9" * 500, "+999 123", "99 12345a6", "x123", "\x00\n\t"],
)
def test_garbage_is_none(raw: str | None) -> None:
    assert normalise(raw, "CY") is None


def test_unknown_region_does_not_raise() -> None:
    assert normalise("99123456", "ZZ") is None
    assert normalise("+35799123456", "") == "+35799123456"


def test_never_raises_on_random_strings() -> None:
    rng = random.Random(20261123)
    alphabet = "0123456789+-()., xXext#*abc\u0660\u0669\u00e9\u200b\ud7ff"
    for _ in range(5000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        result = normalise(raw, rng.choice(["CY", "PL", "RU", "GB", "XX", ""]))
        assert result is None or (result.startswith("+") and result[1:].isdigit())
