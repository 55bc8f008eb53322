"""Jinja2 templates from the ``webui`` package (autoescaped) and its static files at /static/."""

from __future__ import annotations

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
    app[aiohttp_jinja2.static_root_key] = STATIC_PREFIX
    app.router.add_static(STATIC_PREFIX + "/", webui.STATIC, name="static")
    return env
