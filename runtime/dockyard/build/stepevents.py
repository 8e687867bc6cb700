"""A classic build's step containers on the engine's event bus, as dockerd 20.10 logs them.

dockerd's classic builder makes a real container for each step that commits one (RUN, WORKDIR
and the metadata steps; not FROM, COPY or ADD, nor a step the cache answered) and its events
are any container's. dockyard runs a RUN straight on the runtime and commits the others with
no container at all, so it tells the same story here::

    RUN:            create, attach, start, die (exitCode), destroy
    metadata step:  create, destroy
    rm=false:       no destroy (dockerd keeps the container)
    a failed RUN:   no destroy, unless forcerm

Each with the container's labels (the step's config: a LABEL step's own among them), the
parent image's ID as ``image`` and a generated ``name``; no ``commit`` event (the builder
commits through the image store, not ``POST /commit``).
"""

from __future__ import annotations

from typing import Any

from ..containers.create import generate_name
from ..containers.events import EventBus, bus_of


class StepContainer:
    """One step's container, from its ``create``; each call logs one of its events."""

    def __init__(self, bus: EventBus, container_id: str, image_id: str,
                 labels: dict[str, str] | None) -> None:
        self.bus = bus
        self.id = container_id
        self.attrs = {**(labels or {}), "image": image_id,
                      "name": generate_name(set()).lstrip("/")}
        self("create")

    def __call__(self, action: str, **extra: str) -> None:
        self.bus.emit("container", action, self.id, {**self.attrs, **extra})

    def ran(self, code: int) -> None:
        self("die", exitCode=str(code))

    @classmethod
    def of(cls, engine: Any, container_id: str, image_id: str,
           config: dict[str, Any]) -> StepContainer:
        """The container a step of ``engine``'s builder makes on ``image_id`` with ``config``."""
        return cls(bus_of(engine), container_id, image_id, config.get("Labels"))
