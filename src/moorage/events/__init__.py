"""Events and webhooks: what happened in the registry, told to subscribers over signed HTTP (docs/webhooks.md).

Other features report an event with `emit(connection, Event(...))` inside the transaction of the
change it describes (scanning emits `scan.completed`); `events.webhooks` is the entry module the
app composes (subscriptions, the registry hook, the delivery worker).
"""

from moorage.events.model import Event, EventType
from moorage.events.outbox import emit

__all__ = ["Event", "EventType", "emit"]
