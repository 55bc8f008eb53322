"""Jinja2 templates from the ``webui`` package (autoescaped) and its static files at /static/."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

import webui

PRODUCT_NAME = "callcontrol"
STATIC_PREFIX = "/static"


def setup_templates(app: web.Application) -> jinja2.Environment:
    """Install the template environment and the static route on ``app``.

    Autoescaping is on for every template, whatever its extension: names, subjects and
    notes typed by anyone end up in pages, and ``|safe`` must stay a visible decision.
    """
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(webui.TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["product_name"] = PRODUCT_NAME
    env.filters["when"] = when
    env.filters["cell"] = cell
    app[aiohttp_jinja2.static_root_key] = STATIC_PREFIX
    app.router.add_static(STATIC_PREFIX + "/", webui.STATIC, name="static")
    return env


WHEN = "%Y-%m-%d %H:%M"


def when(value: Any) -> str:
    """``{{ bill.issued_at|when }}``: a date and time as pages show it, "" for None.

    Filters, not macros, for what a table does per cell: a macro call costs a context and
    a buffer each time, and a section renders hundreds of cells.
    """
    return value.strftime(WHEN) if value else ""


def cell(row: Any, attr: str) -> Any:
    """``{{ row|cell("due_at") }}``: one table cell, the attribute ``attr`` of ``row``: ""
    for None, dates and times as ``when``, anything else as it is (autoescaped on output).
    """
    value = getattr(row, attr)
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime(WHEN)
    return value
