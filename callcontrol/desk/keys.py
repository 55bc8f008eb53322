"""AppKeys under which ``callcontrol.desk.setup`` stores its services (call control uses them)."""

from __future__ import annotations

from aiohttp import web

from callcontrol.agents.service import AgentService
from callcontrol.desk.pops import PopService

AGENTS = web.AppKey("agents", AgentService)
POPS = web.AppKey("pops", PopService)
