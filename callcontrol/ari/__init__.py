"""Thin typed ARI client: REST resources, typed models and events, the events websocket.

    client = AriClient(config.ari)
    channel = await client.channels.get(channel_id)       # -> models.Channel
    stream = EventStream(config.ari, handler, on_resync=resync)
    await stream.start()

Arguments are validated before anything is sent (ValueError); ARI failures raise the
`errors.AriError` subclasses. This package never imports the CRM or call control.
"""

from callcontrol.ari import errors, events, models
from callcontrol.ari.client import AriClient
from callcontrol.ari.state import ConnectionState, bind_metrics
from callcontrol.ari.stream import EventStream

__all__ = ["AriClient", "ConnectionState", "EventStream", "bind_metrics", "errors", "events",
           "models"]
