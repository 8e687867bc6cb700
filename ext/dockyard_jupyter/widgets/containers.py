"""The container list (name, image, status, ports, created; start, stop, remove, logs) and a
live log view that follows a container from a background thread."""

from __future__ import annotations

import codecs
import threading
from typing import Any

import docker
import ipywidgets as w

from .. import reprs
from .table import Row, TableModel, option_labels, run_action

COLUMNS = ["NAME", "IMAGE", "STATUS", "PORTS", "CREATED"]


def format_ports(ports: dict[str, Any] | None) -> str:
    """``{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`` → ``0.0.0.0:8080->80/tcp``."""
    out = []
    for port, bindings in sorted((ports or {}).items()):
        if not bindings:
            out.append(port)
        out += [f"{b.get('HostIp', '')}:{b.get('HostPort', '')}->{port}" for b in bindings or []]
    return ", ".join(out)


def container_rows(client: docker.DockerClient) -> list[Row]:
    rows = []
    for c in client.containers.list(all=True):
        a = c.attrs
        image = str((a.get("Config") or {}).get("Image", ""))
        ports = format_ports((a.get("NetworkSettings") or {}).get("Ports"))
        status = reprs.container_status(c)
        rows.append(Row(c.id, [c.name, image, status, ports, reprs.human_ago(a["Created"])],
                        [c.name, image, status, ports, str(a["Created"])], c))
    return rows


class LogView(w.VBox):  # type: ignore[misc]
    """``docker logs -f`` into an Output widget. The reader thread only appends to the Output
    (thread-safe, routed to this widget), never prints, so other cells stay clean."""

    def __init__(self, client: docker.DockerClient, container: str) -> None:
        self.output = w.Output(layout=w.Layout(max_height="300px", overflow="auto"))
        self.stop_button = w.Button(description="Stop following")
        self.stop_button.on_click(lambda _b: self.stop())
        super().__init__([self.stop_button, self.output])
        self._stream = client.api.logs(container, stream=True, follow=True)
        self._thread = threading.Thread(target=self._follow, daemon=True,
                                        name=f"dockyard-logs-{container[:12]}")
        self._thread.start()

    def _follow(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            for chunk in self._stream:
                self.output.append_stdout(decoder.decode(chunk))
        except Exception as exc:  # noqa: BLE001 - a closed stream ends the view
            if not getattr(self, "_stopped", False):
                self.output.append_stderr(f"log stream ended: {exc}\n")

    def stop(self) -> None:
        self._stopped = True
        self._stream.close()
        self.stop_button.disabled = True

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class ContainerList(w.VBox):  # type: ignore[misc]
    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.model = TableModel(COLUMNS)
        self.query = w.Text(placeholder="filter", description="Filter")
        self.containers = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self.status = w.HTML()
        self.logs_area = w.VBox()
        buttons = []
        for label, handler in (("Refresh", self.refresh), ("Start", self.start),
                               ("Stop", self.stop), ("Remove", self.remove), ("Logs", self.logs)):
            button = w.Button(description=label)
            button.on_click(lambda _b, h=handler: h())
            buttons.append(button)
        self.query.observe(lambda _c: self._show(), names="value")
        super().__init__([self.query, self.containers, w.HBox(buttons), self.status,
                          self.logs_area])
        self.refresh()

    @property
    def selected(self) -> str | None:
        return self.containers.value  # type: ignore[no-any-return]

    def report(self, text: str, error: bool) -> None:
        color = "#b91c1c" if error else "#15803d"
        self.status.value = f"<span style='color:{color}'>{text}</span>"

    def refresh(self) -> None:
        run_action(lambda: setattr(self.model, "rows", container_rows(self.client)),
                   self.report, None)
        self._show()

    def _show(self) -> None:
        self.model.query = self.query.value
        keep = self.selected
        self.containers.options = option_labels(self.model.visible())
        keys = [key for _label, key in self.containers.options]
        self.containers.value = keep if keep in keys else None

    def _act(self, verb: str, call: Any) -> None:
        cid = self.selected
        if cid is None:
            self.report("select a container first", True)
            return
        if run_action(lambda: call(cid), self.report, f"{verb} {cid[:12]}"):
            self.refresh()

    def start(self) -> None:
        self._act("started", self.client.api.start)

    def stop(self) -> None:
        self._act("stopped", lambda cid: self.client.api.stop(cid, timeout=5))

    def remove(self) -> None:
        self._act("removed", lambda cid: self.client.api.remove_container(cid, force=True))

    def logs(self) -> None:
        if self.selected is None:
            self.report("select a container first", True)
            return
        for old in self.logs_area.children:
            if isinstance(old, LogView):
                old.stop()
        self.logs_area.children = [LogView(self.client, self.selected)]
