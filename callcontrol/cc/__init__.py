"""The Communication Centre: search, the contact's sections, the action panel, definitions.

``setup(app)`` registers its pages; the query layer (``search``, ``contact_view``,
``actions``, ``definitions``) has no web dependency and is what the pages and the API use.
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    from callcontrol.cc import api
    from callcontrol.cc.views import actions, comms, contacts, definitions, editing, search

    definitions.setup(app)  # before /cc/actions/{slug} and /cc/contacts/{id}: fixed paths
    comms.setup(app)  # /cc/communications/fill before the search page's paths
    search.setup(app)
    contacts.setup(app)
    editing.setup(app)
    actions.setup(app)
    api.setup(app)
