"""The daemon's event log (``GET /events``): dockerd's message shape, a bounded history for
``since``, and live subscribers.

A message::

    {"Type": "container", "Action": "start", "Actor": {"ID": id, "Attributes": {...}},
     "scope": "local", "time": secs, "timeNano": ns,
     "status": "start", "id": id, "from": image}          # legacy fields, containers only
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
Subscriber = Callable[[Event], None]
HISTORY = 1024


class EventBus:
    def __init__(self) -> None:
        self._history: deque[Event] = deque(maxlen=HISTORY)
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def emit(self, type_: str, action: str, actor_id: str, attributes: dict[str, str]) -> Event:
        ns = time.time_ns()
        event: Event = {"Type": type_, "Action": action,
                        "Actor": {"ID": actor_id, "Attributes": attributes},
                        "scope": "local", "time": ns // 1_000_000_000, "timeNano": ns}
        if type_ == "container":
            event.update(status=action, id=actor_id, **{"from": attributes.get("image", "")})
        with self._lock:
            self._history.append(event)
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber(event)
        return event

    def subscribe(self, callback: Subscriber, since_ns: int | None = None) -> list[Event]:
        """Register ``callback``; returns the history since ``since_ns`` (atomically, so no
        event is lost or doubled between the replay and the live feed)."""
        with self._lock:
            self._subscribers.append(callback)
            if since_ns is None:
                return []
            return [e for e in self._history if e["timeNano"] >= since_ns]

    def unsubscribe(self, callback: Subscriber) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    @property
    def listeners(self) -> int:
        return len(self._subscribers)


def bus_of(engine: Any) -> EventBus:
    """The engine's one bus (``engine.events``, made with the engine, before any manager),
    which every manager that emits events takes; a stand-in engine without one (a test's
    manager on its own) gets a bus nobody reads."""
    bus: EventBus | None = getattr(engine, "events", None)
    return bus if bus is not None else EventBus()


def matches(event: Event, filters: dict[str, list[str]]) -> bool:
    """dockerd's event filters: type, event/action, container, image, label, scope."""
    actor = event["Actor"]
    attrs = actor["Attributes"]
    checks: dict[str, Callable[[str], bool]] = {
        "type": lambda v: event["Type"] == v,
        "event": lambda v: event["Action"] == v or event["Action"].split(":")[0] == v,
        "container": lambda v: event["Type"] == "container" and (
            actor["ID"].startswith(v) or attrs.get("name") == v),
        "image": lambda v: attrs.get("image") == v or actor["ID"] == v,
        "label": lambda v: _label(attrs, v),
        "scope": lambda v: v == "local",
    }
    for key, values in filters.items():
        check = checks.get(key)
        if check is not None and values and not any(check(v) for v in values):
            return False
    return True


def _label(attrs: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in attrs and (not eq or attrs[key] == value)
