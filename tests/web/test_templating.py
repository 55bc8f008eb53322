"""The template filters pages use for table cells: ``when`` and ``cell``, autoescaped."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from aiohttp import web

from callcontrol.web.templating import cell, setup_templates, when


def test_when_formats_dates_and_times_and_leaves_none_empty() -> None:
    assert when(datetime(2026, 12, 4, 9, 5, 59, tzinfo=UTC)) == "2026-12-04 09:05"
    assert when(date(2026, 1, 2)) == "2026-01-02 00:00"
    assert when(None) == ""


def test_cell_reads_the_attribute_and_formats_it() -> None:
    row = SimpleNamespace(due=datetime(2026, 3, 1, 17, 30, tzinfo=UTC), note=None,
                          amount=Decimal("9.90"), subject="<b>x</b>")
    assert cell(row, "due") == "2026-03-01 17:30"
    assert cell(row, "note") == ""
    assert cell(row, "amount") == Decimal("9.90")
    assert cell(row, "subject") == "<b>x</b>"  # escaped when the template outputs it


def test_the_filters_output_is_autoescaped() -> None:
    env = setup_templates(web.Application())
    template = env.from_string("<td>{{ row|cell('subject') }}</td><td>{{ row.at|when }}</td>")
    row = SimpleNamespace(subject="<script>alert(1)</script> & co", at=None)
    assert template.render(row=row) == (
        "<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</td><td></td>")
