"""The daemon's event log (``GET /events``): dockerd's message shape, a bounded history for
``since``, and live subscribers.

A message::

    {"status": "start", "id": id, "from": image,    # legacy fields: containers, images (no from)
     "Type": "container", "Action": "start", "Actor": {"ID": id, "Attributes": {...}},
     "scope": "local", "time": secs, "timeNano": ns}

Image events (``Type: image``) come from the store's :meth:`~dockyard.store.images.ImageStore.
log_event`, which the engine points at this bus: load, save, import, tag, untag, delete, prune,
pull, push, as dockerd 20.10's ``LogImageEvent``. A classic build's step containers are
logged by :mod:`dockyard.build.stepevents`, which runs none through the container manager.
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
        event: Event = {**_legacy(type_, action, actor_id, attributes), "Type": type_,
                        "Action": action, "Actor": {"ID": actor_id, "Attributes": attributes},
                        "scope": "local", "time": ns // 1_000_000_000, "timeNano": ns}
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


def _legacy(type_: str, action: str, actor_id: str, attributes: dict[str, str]) -> Event:
    """The deprecated fields dockerd 20.10's ``Events.Log`` fills for containers and images,
    first in its message and each left out when empty (``omitempty``: an image prune's event
    has no ``id``)."""
    if type_ not in ("container", "image"):
        return {}
    fields = {"status": action, "id": actor_id,
              "from": attributes.get("image", "") if type_ == "container" else ""}
    return {key: value for key, value in fields.items() if value}


def bus_of(engine: Any) -> EventBus:
    """The engine's one bus (``engine.events``, made with the engine, before any manager),
    which every manager that emits events takes; a stand-in engine without one (a test's
    manager on its own) gets a bus nobody reads."""
    bus: EventBus | None = getattr(engine, "events", None)
    return bus if bus is not None else EventBus()


def matches(event: Event, filters: dict[str, list[str]]) -> bool:
    """dockerd's events filter (its ``Filter.Include``), every key at once: ``type``,
    ``event``, ``scope`` and ``image`` exactly; ``container``, ``network``, ``volume``,
    ``daemon`` and the swarm kinds as a prefix of the actor's id or name, whatever the event's
    type; ``label``: every one given (``k`` or ``k=v``) among the actor's attributes. A key it
    does not know filters nothing."""
    actor = event["Actor"]
    attrs: dict[str, str] = actor.get("Attributes") or {}
    fields = {key: set(values) for key, values in filters.items() if values}

    def exact(key: str, source: str) -> bool:
        return key not in fields or source in fields[key]

    def fuzzy(key: str) -> bool:  # Go's FuzzyMatch of the actor's id, then of its name
        return key not in fields or any(
            source.startswith(prefix) for source in (actor["ID"], attrs.get("name", ""))
            for prefix in fields[key])

    action = event["Action"]
    if fields.get("event", set()) & {"health_status", "exec_create", "exec_start"}:
        by_event = any(action.startswith(value) for value in fields["event"])
    else:
        by_event = exact("event", action)
    return (by_event and exact("type", event["Type"]) and exact("scope", event.get("scope", ""))
            and all(fuzzy(key) for key in _BY_NAME) and _image_matches(event, fields)
            and all(_label(attrs, spec) for spec in fields.get("label", ())))


def _image_matches(event: Event, fields: dict[str, set[str]]) -> bool:
    """``image``: the actor's id or its image's name, each as given or without its tag (the
    references are parsed only when the filter is there: every event passes this check)."""
    if "image" not in fields:
        return True
    actor = event["Actor"]
    image = (actor.get("Attributes") or {}).get("name" if event["Type"] == "image" else "image", "")
    return any(source in fields["image"] for source in
               (actor["ID"], image, _familiar(actor["ID"]), _familiar(image)))


_BY_NAME = ("daemon", "container", "plugin", "volume", "network", "node", "service", "secret",
            "config")


def _familiar(image: str) -> str:
    """moby's stripTag: the name as users type it, without tag or digest (``busybox`` for
    ``docker.io/library/busybox:1``); what no reference parses, as it is."""
    from ..oci.reference import InvalidReference, parse

    try:
        return parse(image, default_tag=False).familiar_repository
    except (InvalidReference, ValueError):
        return image


def _label(attrs: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in attrs and (not eq or attrs[key] == value)
