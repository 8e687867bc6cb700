"""The image browser: Docker Desktop's table (repository, tag, image id, created, size),
filterable and sortable; the selected image's history, config and labels; run, tag, push and
remove with progress and errors inside the widget."""

from __future__ import annotations

import json
from typing import Any

import docker
import ipywidgets as w

from .. import reprs
from ..progress import LayerBoard
from ..translate import split_repo_tag
from .table import Row, TableModel, option_labels, run_action

COLUMNS = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]


def image_rows(client: docker.DockerClient) -> list[Row]:
    rows = []
    for image in client.images.list():
        attrs = image.attrs
        for ref in attrs.get("RepoTags") or ["<none>:<none>"]:
            repo, _, tag = ref.rpartition(":")
            key = ref if ref != "<none>:<none>" else image.id
            rows.append(Row(key, [repo, tag, reprs.short_id(image.id), reprs.human_ago(
                attrs["Created"]), reprs.human_size(attrs.get("Size", 0))],
                [repo, tag, image.id, str(attrs["Created"]), attrs.get("Size", 0)], image))
    return rows


def image_details(client: docker.DockerClient, key: str) -> dict[str, Any]:
    image = client.images.get(key)
    config = image.attrs.get("Config") or {}
    return {
        "id": image.id, "tags": image.tags, "labels": image.labels,
        "platform": f"{image.attrs.get('Os', '')}/{image.attrs.get('Architecture', '')}",
        "config": {k: config.get(k) for k in ("Cmd", "Entrypoint", "Env", "WorkingDir", "User",
                                              "ExposedPorts")},
        "history": [{"created_by": h.get("CreatedBy", ""), "size": h.get("Size", 0)}
                    for h in image.history()],
    }


class ImageBrowser(w.VBox):  # type: ignore[misc]
    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.model = TableModel(COLUMNS)
        self.query = w.Text(placeholder="filter", description="Filter")
        self.sort = w.Dropdown(options=[(c, i) for i, c in enumerate(COLUMNS)], value=0,
                               description="Sort by")
        self.descending = w.Checkbox(description="descending")
        self.images = w.Select(options=[], rows=10, layout=w.Layout(width="100%"))
        self.details = w.HTML()
        self.target = w.Text(placeholder="new tag or command", description="Argument")
        self.status = w.HTML()
        self.progress = w.Textarea(layout=w.Layout(width="100%", display="none"))
        self.run_output = w.Output()
        buttons = [self._button(label, handler) for label, handler in (
            ("Refresh", self.refresh), ("Run", self.run), ("Tag", self.tag),
            ("Push", self.push), ("Remove", self.remove))]
        for control in (self.query, self.sort, self.descending):
            control.observe(lambda _c: self._show(), names="value")
        self.images.observe(lambda _c: self._select(), names="value")
        super().__init__([w.HBox([self.query, self.sort, self.descending]), self.images,
                          w.HBox([self.target, *buttons]), self.status, self.progress,
                          self.details, self.run_output])
        self.refresh()

    def _button(self, label: str, handler: Any) -> w.Button:
        button = w.Button(description=label)
        button.on_click(lambda _b: handler())
        return button

    @property
    def selected(self) -> str | None:
        return self.images.value  # type: ignore[no-any-return]

    def report(self, text: str, error: bool) -> None:
        color = "#b91c1c" if error else "#15803d"
        self.status.value = f"<span style='color:{color}'>{text}</span>"

    def refresh(self) -> None:
        run_action(lambda: setattr(self.model, "rows", image_rows(self.client)), self.report,
                   None)
        self._show()

    def _show(self) -> None:
        self.model.query = self.query.value
        self.model.sort_by = self.sort.value
        self.model.descending = self.descending.value
        keep = self.selected
        self.images.options = option_labels(self.model.visible())
        keys = [key for _label, key in self.images.options]
        self.images.value = keep if keep in keys else None

    def _select(self) -> None:
        if self.selected is None:
            self.details.value = ""
            return
        info = image_details(self.client, self.selected)
        self.details.value = "<pre>" + json.dumps(info, indent=2) + "</pre>"

    def tag(self) -> None:
        source, target = self.selected, self.target.value.strip()
        if source is None or not target:
            self.report("select an image and type the new tag", True)
            return
        repo, version = split_repo_tag(target)
        if run_action(lambda: self.client.api.tag(source, repo, version or "latest"),
                      self.report, f"tagged {target}"):
            self.refresh()

    def remove(self) -> None:
        if self.selected is None:
            return
        key = self.selected
        if run_action(lambda: self.client.api.remove_image(key), self.report, f"removed {key}"):
            self.refresh()

    def push(self) -> None:
        if self.selected is None:
            return
        key = self.selected
        self.progress.layout.display = None
        board = LayerBoard(lambda text: setattr(self.progress, "value", text), interval=0.1)

        def push_all() -> None:
            repo, tag = split_repo_tag(key)
            for msg in self.client.api.push(repo, tag, stream=True, decode=True):
                if "error" in msg:
                    raise docker.errors.APIError(str(msg["error"]))
                if "id" in msg and "status" in msg:
                    board.update(str(msg["id"]), str(msg["status"]), str(msg.get("progress", "")))
            board.flush()
        run_action(push_all, self.report, f"pushed {key}")

    def run(self) -> None:
        """Runs the selected image (argument: the command) with output into the widget."""
        if self.selected is None:
            return
        key, command = self.selected, self.target.value.split() or None

        def run_it() -> None:
            logs = self.client.containers.run(key, command, remove=True, network_mode="none",
                                              stdout=True, stderr=True)
            self.run_output.append_stdout(logs.decode("utf-8", "replace"))
        run_action(run_it, self.report, f"ran {key}")
