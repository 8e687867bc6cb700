"""Widget models' state after real actions against a private dockerd (no front end needed:
ipywidgets models hold the state the browser would render)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker
import pytest

from dockyard.testing.dockerd import Dockerd
from dockyard_jupyter.widgets.containers import ContainerList, LogView, format_ports
from dockyard_jupyter.widgets.images import ImageBrowser

pytestmark = pytest.mark.interop


@pytest.fixture
def engine(real_dockerd: Dockerd) -> Iterator[docker.DockerClient]:
    client = real_dockerd.client()
    yield client
    client.close()


def labels(select: object) -> list[str]:
    return [label for label, _key in select.options]  # type: ignore[attr-defined]


def test_image_browser_filter_sort_select_tag_remove(engine: docker.DockerClient) -> None:
    browser = ImageBrowser(engine)
    assert "busybox:latest" in [k for _l, k in browser.images.options]
    browser.target.value = "widget/copy:7"
    browser.images.value = "busybox:latest"
    assert '"created_by"' in browser.details.value and "linux/amd64" in browser.details.value
    browser.tag()
    assert "tagged widget/copy:7" in browser.status.value
    browser.query.value = "widget"
    assert [k for _l, k in browser.images.options] == ["widget/copy:7"]
    browser.query.value = ""
    browser.sort.value = 0
    browser.descending.value = True
    assert labels(browser.images)[0].startswith("widget/copy")
    browser.images.value = "widget/copy:7"
    browser.remove()
    assert "removed widget/copy:7" in browser.status.value
    assert "widget/copy:7" not in [k for _l, k in browser.images.options]
    assert browser.images.value is None


def test_image_browser_shows_errors_in_the_widget(engine: docker.DockerClient) -> None:
    browser = ImageBrowser(engine)
    browser.images.value = "busybox:latest"
    browser.target.value = "Bad:Reference:Here"
    browser.tag()
    assert "#b91c1c" in browser.status.value and "Error response from daemon" in \
        browser.status.value


def test_image_browser_run_appends_output(engine: docker.DockerClient) -> None:
    browser = ImageBrowser(engine)
    browser.images.value = "busybox:latest"
    browser.target.value = "echo from-widget"
    browser.run()
    assert browser.run_output.outputs[-1]["text"] == "from-widget\n"


def test_container_list_actions_and_live_logs(engine: docker.DockerClient) -> None:
    container = engine.containers.run(
        "busybox", ["sh", "-c", "for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.3; done; sleep 30"],
        detach=True, name="widget-c", network_mode="none")
    try:
        listing = ContainerList(engine)
        assert any(label.startswith("widget-c ") and "running" in label
                   for label in labels(listing.containers))
        listing.containers.value = container.id
        listing.logs()
        view = listing.logs_area.children[0]
        assert isinstance(view, LogView)
        time.sleep(0.5)
        early = "".join(o["text"] for o in view.output.outputs)
        assert early.startswith("tick1"), early           # arrives while the container runs
        time.sleep(1.8)
        late = "".join(o["text"] for o in view.output.outputs)
        assert "tick6" in late and len(late) > len(early)
        listing.stop()
        view.wait(10)
        assert "stopped" in listing.status.value
        assert any("exited" in label for label in labels(listing.containers))
        listing.remove()
        assert not any(label.startswith("widget-c ") for label in labels(listing.containers))
    finally:
        for c in engine.containers.list(all=True, filters={"name": "widget-c"}):
            c.remove(force=True)


def test_container_list_without_selection_says_so(engine: docker.DockerClient) -> None:
    listing = ContainerList(engine)
    listing.containers.value = None
    listing.stop()
    assert "select a container first" in listing.status.value


def test_format_ports() -> None:
    assert format_ports({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                         "53/udp": None}) == "53/udp, 0.0.0.0:8080->80/tcp"
