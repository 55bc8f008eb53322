"""The web layer every page and API route builds on (wired by ``callcontrol.app.build_app``).

* ``auth``: who is asking (session cookie or bearer token), ``@public``, ``current_user``,
  ``require_role``, ``@requires`` for API handlers, ``user_from_request`` for websockets;
* ``pages``: ``render(request, template, context)`` and ``@page(roles=...)`` for pages;
* ``sessions``: the encrypted session cookie, ``csrf_token``, ``flash``;
* ``csrf``: the CSRF check on cookie-authenticated writes, ``check_origin`` for websockets;
* ``login``: ``/login`` and ``/logout``, with ``ratelimit`` limiting failed sign-ins;
* ``errorpages``: HTML 4xx/5xx pages outside ``/api/``; ``headers``: CSP and friends;
* ``templating``: Jinja2 from ``webui/templates`` (autoescaped), ``/static/`` from
  ``webui/static``; ``secrets``: encryption of stored secrets.
"""
