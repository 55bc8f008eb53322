"""Publish/subscribe between callcontrol's parts and processes.

One small interface, two real backends (the shape of encode/broadcaster):

* ``memory://`` (or no URL): in-process, for the embedded defaults and single-process runs;
* ``redis://...``: Redis pub/sub, so a pop published by the process handling a call reaches
  an agent whose websocket is connected to any other process.

Messages are JSON objects. ``async with bus.subscribe("agent.7") as sub:`` delivers every
message published on that topic after the ``async with`` line returned, in publish order.
"""

from callcontrol.bus.base import Bus, Message, Subscription, create_bus

__all__ = ["Bus", "Message", "Subscription", "create_bus"]
