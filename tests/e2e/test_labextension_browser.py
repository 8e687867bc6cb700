"""The JupyterLab panel in a real browser: a real `jupyter lab` (token, loopback, temp root)
with the prebuilt extension and the server extension pointed at a private real dockerd,
driven by Playwright through Debian's chromium (headless). Screenshots of each state go to
$DOCKYARD_ARTIFACTS (default tmp/artifacts/labextension)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from jupyter_procs import JupyterServer, _wait_up, free_port, jupyter_env, stop_server
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

import dockyard_jupyter
from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.dockerd import (
    Dockerd,
    dockerd_command,
    unmount_under,
)
from dockyard.testing.registry import RegistryProcess

pytestmark = [pytest.mark.slow, pytest.mark.interop]
expect.set_options(timeout=20_000)   # a loaded CI machine can take seconds to load JupyterLab

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("DOCKYARD_ARTIFACTS", REPO / "tmp" / "artifacts" / "labextension"))
IMAGE = "panel-demo:1"
# the quiet page config: no news prompt over the screenshots
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


def start_lab(extension_config: dict[str, object], timeout: float = 60.0,
              theme: str | None = None) -> JupyterServer:
    """`jupyter lab` isolated from the user's Jupyter dirs, the prebuilt panel in its data
    dir (as `pip install` puts it in share/jupyter/labextensions)."""
    root = Path(tempfile.mkdtemp(prefix="jplab-"))
    for sub in ("config/labconfig", "notebooks", "data/labextensions"):
        (root / sub).mkdir(parents=True)
    [entry] = dockyard_jupyter._jupyter_labextension_paths()
    built = Path(dockyard_jupyter.__file__).parent / entry["src"]
    (root / "data" / "labextensions" / entry["dest"]).symlink_to(built)
    config = {"ServerApp": {"jpserver_extensions": {"dockyard_jupyter": True}},
              "DockyardExtension": extension_config}
    (root / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    (root / "config" / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    if theme:
        themes = root / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        themes.mkdir(parents=True)
        (themes / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
           "--ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root / 'notebooks'}", "--LabApp.news_url=None"]
    env = jupyter_env(root)
    env["DOCKER_CONFIG"] = str(root / "docker")      # logins the test writes, not the user's
    with open(root / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    server = JupyterServer(f"http://127.0.0.1:{port}", token, proc, root)
    try:
        _wait_up(server, timeout)
    except BaseException:
        stop_server(server)
        raise
    return server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-gpu"])
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def lab(real_dockerd: Dockerd) -> Iterator[JupyterServer]:
    srv = start_lab({"daemon_host": real_dockerd.host, "start_daemon": False})
    yield srv
    stop_server(srv)


def log_failed_request(request: Request) -> None:
    """Kept as an artifact for diagnosing a flaky network."""
    with (ARTIFACTS / "failed-requests.log").open("a") as log:
        log.write(f"{request.method} {request.url.split('?')[0]} {request.failure}\n")


def open_panel(browser: Browser, server: JupyterServer) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(20000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.on("requestfailed", log_failed_request)
    workspace = secrets.token_hex(4)      # a fresh layout: the panel starts closed
    for attempt in range(3):
        # chromium drops loads when host interfaces change (other tests' container networks
        # come and go: net::ERR_NETWORK_CHANGED); a user would press reload
        try:
            page.goto(f"{server.url}/lab/workspaces/w{workspace}?token={server.token}")
            page.locator('.lm-TabBar-tab[data-id="dockyard-panel"]').wait_for()
            break
        except PlaywrightError:
            if attempt == 2:
                raise
    page.locator('.lm-TabBar-tab[data-id="dockyard-panel"]').click()
    expect(page.locator("#dockyard-panel")).to_be_visible()
    return page


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def build_image(engine: docker.DockerClient, tag: str, message: str) -> str:
    dockerfile = ("FROM busybox:latest\nLABEL demo=panel\n"
                  f"CMD [\"sh\", \"-c\", \"printf '\\\\033[32m{message}\\\\033[0m\\\\n'; "
                  "echo plain line; sleep 300\"]\n")
    image, _ = engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return str(image.id)


def test_panel_builds_list_runs_logs_and_removes(browser: Browser, lab: JupyterServer,
                                                 real_dockerd: Dockerd) -> None:
    engine = real_dockerd.client()
    image_id = build_image(engine, IMAGE, "hello from the panel")
    page = open_panel(browser, lab)
    try:
        panel = page.locator("#dockyard-panel")
        image = panel.locator(f'.jp-dockyard-images li[data-ref="{IMAGE}"]')
        expect(image).to_contain_text(image_id.split(":")[1][:12])
        expect(panel).to_have_attribute("data-live", "true")      # /events is followed
        history = panel.get_by_role("button", name=f"Show the layers of {IMAGE}")
        history.focus()                                            # keyboard only
        page.keyboard.press("Enter")
        expect(history).to_have_attribute("aria-expanded", "true")
        expect(image.locator(".jp-dockyard-history")).to_contain_text("LABEL demo=panel")
        shot(page, "images")

        # an image made outside the panel appears through /events, before any slow refresh
        build_image(engine, "panel-other:1", "other")
        expect(panel.locator('li[data-ref="panel-other:1"]')).to_be_visible(timeout=8000)

        image.get_by_role("button", name=f"Run {IMAGE}").click()
        dialog = page.locator(".jp-Dialog")
        dialog.get_by_label("Name").fill("panel-run")
        shot(page, "run-dialog")
        dialog.get_by_role("button", name="Run").click()

        logs = page.locator(".jp-dockyard-logs")
        expect(logs).to_contain_text("hello from the panel")
        expect(logs.locator(".ansi-green-fg")).to_have_text("hello from the panel")
        expect(logs).to_contain_text("plain line")
        container = panel.locator('.jp-dockyard-containers li[data-name="panel-run"]')
        expect(container).to_contain_text(re.compile(r"Up .*"))
        shot(page, "logs")

        container.get_by_role("button", name="Remove panel-run").click()
        page.locator(".jp-Dialog").get_by_role("button", name="Remove").click()
        expect(container).to_have_count(0)
        with pytest.raises(docker.errors.NotFound):
            engine.containers.get("panel-run")

        image.get_by_role("button", name=f"Remove {IMAGE}").click()
        page.locator(".jp-Dialog").get_by_role("button", name="Remove").click()
        expect(image).to_have_count(0)
        with pytest.raises(docker.errors.ImageNotFound):
            engine.images.get(IMAGE)
        shot(page, "removed")
    finally:
        page.close()
        for name in ("panel-run",):
            try:
                engine.containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
        for tag in (IMAGE, "panel-other:1"):
            try:
                engine.images.remove(tag, force=True)
            except docker.errors.ImageNotFound:
                pass
        engine.close()


def test_inline_error_on_a_refused_action(browser: Browser, lab: JupyterServer,
                                          real_dockerd: Dockerd) -> None:
    engine = real_dockerd.client()
    build_image(engine, "panel-busy:1", "busy")
    container = engine.containers.create("panel-busy:1", name="panel-busy")
    page = open_panel(browser, lab)
    try:
        image = page.locator('.jp-dockyard-images li[data-ref="panel-busy:1"]')
        image.get_by_role("button", name="Remove panel-busy:1").click()
        page.locator(".jp-Dialog").get_by_role("button", name="Remove").click()
        alert = image.locator('[role="alert"]')
        expect(alert).to_contain_text("conflict: unable to remove repository reference")
        expect(image).to_be_visible()
        registries = page.locator("#dockyard-panel .jp-dockyard-registries")
        expect(registries).to_contain_text("docker.io")
        toggle = registries.get_by_role("button", name="Registries")
        toggle.focus()
        page.keyboard.press("Space")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(registries.get_by_role("list")).to_be_hidden()
        page.keyboard.press("Enter")
        expect(registries.get_by_role("list")).to_be_visible()
        shot(page, "inline-error")
    finally:
        page.close()
        container.remove(force=True)
        engine.images.remove("panel-busy:1", force=True)
        engine.close()


def test_tag_push_pull_progress(browser: Browser, lab: JupyterServer, real_dockerd: Dockerd,
                                dockyard_registry: RegistryProcess) -> None:
    engine = real_dockerd.client()
    build_image(engine, "panel-push:1", "push me")
    remote = f"{dockyard_registry.host}/panel/push:1"
    (lab.root / "docker").mkdir(exist_ok=True)
    login = base64.b64encode(b"ann:not-shown").decode()
    (lab.root / "docker" / "config.json").write_text(
        json.dumps({"auths": {dockyard_registry.host: {"auth": login}}}))
    page = open_panel(browser, lab)
    try:
        panel = page.locator("#dockyard-panel")
        panel.get_by_role("button", name="Tag panel-push:1").click()
        page.locator(".jp-Dialog input").fill(remote)
        page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
        tagged = panel.locator(f'li[data-ref="{remote}"]')
        tagged.get_by_role("button", name=f"Push {remote}").click()
        progress = page.locator(".jp-dockyard-progress").last
        expect(progress.locator(".jp-dockyard-streamStatus")).to_have_text("Done.")
        expect(progress.locator(".jp-dockyard-layers")).to_contain_text("Pushed")
        expect(progress).to_contain_text("digest: sha256:")
        shot(page, "push-progress")

        engine.images.remove(remote)
        expect(tagged).to_have_count(0)
        registry = panel.locator(f'li[data-registry="{dockyard_registry.host}"]')
        expect(registry).to_contain_text("logged in as ann")
        registry.get_by_role("button", name=f"Pull an image from {dockyard_registry.host}").click()
        expect(page.locator(".jp-Dialog input")).to_have_value(f"{dockyard_registry.host}/")
        page.locator(".jp-Dialog input").fill(remote)
        page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
        pulled = page.locator(".jp-dockyard-progress").last
        expect(pulled.locator(".jp-dockyard-streamStatus")).to_have_text("Done.")
        expect(pulled).to_contain_text(f"Status: Downloaded newer image for {remote}")
        expect(tagged).to_have_count(1)

        panel.get_by_role("button", name="Pull an image", exact=True).click()
        page.locator(".jp-Dialog input").fill(f"{dockyard_registry.host}/panel/missing:1")
        page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
        failed = page.locator(".jp-dockyard-progress").last
        expect(failed.locator(".jp-dockyard-streamStatus")).to_contain_text(
            f"Error: repository {dockyard_registry.host}/panel/missing not found")
    finally:
        page.close()
        for tag in ("panel-push:1", remote):
            try:
                engine.images.remove(tag, force=True)
            except docker.errors.ImageNotFound:
                pass
        engine.close()


STAND_IN = ("FROM busybox:latest\n"
            "RUN printf '#!/bin/sh\\necho \"python stand-in ran $1 in $(pwd)\"\\ncat \"$1\"\\n' "
            "> /bin/python && chmod +x /bin/python\n")


def build_and_run_from_file_browser(page: Page, notebooks: Path,
                                    engine: docker.DockerClient, tag: str) -> None:
    """Right-click a Dockerfile → build; right-click a .py → run it in the built image."""
    ctx = notebooks / "proj"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(STAND_IN)
    (ctx / "hello.py").write_text("print('hello from the notebook folder')\n")
    page.locator('.lm-TabBar-tab[data-id="filebrowser"]').click()
    page.locator(".jp-DirListing-item", has_text="proj").dblclick()
    page.locator(".jp-DirListing-item", has_text="Dockerfile").click(button="right")
    page.get_by_role("menuitem", name="Build Image from this Dockerfile").click()
    page.locator(".jp-Dialog input").fill(tag)
    page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
    build = page.locator(".jp-dockyard-progress").last
    expect(build.locator(".jp-dockyard-streamStatus")).to_contain_text("Done")
    expect(build).to_contain_text("Step 2/2 : RUN printf")
    expect(build).to_contain_text(f"Successfully tagged {tag}")
    engine.images.get(tag)

    page.locator(".jp-DirListing-item", has_text="hello.py").click(button="right")
    expect(page.get_by_role("menuitem", name="Build Image from this Dockerfile")).to_have_count(0)
    page.get_by_role("menuitem", name="Run in Container").click()
    page.locator(".jp-Dialog input").fill(tag)
    page.locator(".jp-Dialog").get_by_role("button", name="Ok").click()
    logs = page.locator(".jp-dockyard-logs").last
    expect(logs).to_contain_text("python stand-in ran hello.py in /work/proj")
    expect(logs).to_contain_text("print('hello from the notebook folder')")
    expect(logs).to_contain_text("end of logs")


def remove_built(engine: docker.DockerClient, tag: str) -> None:
    try:
        image = engine.images.get(tag)
    except docker.errors.ImageNotFound:
        return
    for container in engine.containers.list(all=True):
        if container.attrs.get("Image") == image.id:
            container.remove(force=True)
    engine.images.remove(tag, force=True)


def test_file_browser_build_and_run_commands(browser: Browser, lab: JupyterServer,
                                             real_dockerd: Dockerd) -> None:
    engine = real_dockerd.client()
    page = open_panel(browser, lab)
    try:
        build_and_run_from_file_browser(page, lab.root / "notebooks", engine, "panel-built:1")
        page.locator(".lm-TabBar-tab", has_text="Build proj/Dockerfile").click()
        shot(page, "build-output")
    finally:
        page.close()
        remove_built(engine, "panel-built:1")
        engine.close()


def test_panel_against_the_dockyard_daemon(browser: Browser, dockyard_daemon: DaemonProcess,
                                           busybox_image: str) -> None:
    """The same panel, driving dockyard's own daemon instead of dockerd."""
    engine = dockyard_daemon.client()
    engine.images.get("busybox:latest").tag("panel-dy", "1")
    server = start_lab({"daemon_host": dockyard_daemon.host, "start_daemon": False})
    page = open_panel(browser, server)
    try:
        panel = page.locator("#dockyard-panel")
        image = panel.locator('.jp-dockyard-images li[data-ref="panel-dy:1"]')
        expect(image).to_contain_text(busybox_image.split(":")[1][:12])
        expect(panel).to_have_attribute("data-live", "true")      # dockyard's /events
        image.get_by_role("button", name="Run panel-dy:1").click()
        dialog = page.locator(".jp-Dialog")
        dialog.get_by_label("Name").fill("panel-dy-run")
        dialog.get_by_label("Command").fill(
            "printf '\\033[35mhello from dockyard\\033[0m\\n'; mkdir /www; "
            "echo web app in a container > /www/index.html; exec httpd -f -p 8080 -h /www")
        dialog.get_by_label("Container port to publish").fill("8080")
        dialog.get_by_role("button", name="Run").click()
        logs = page.locator(".jp-dockyard-logs")
        expect(logs.locator(".ansi-magenta-fg")).to_have_text("hello from dockyard")
        container = panel.locator('.jp-dockyard-containers li[data-name="panel-dy-run"]')
        expect(container).to_contain_text(re.compile(r"Up .*"))
        expect(container).to_contain_text(re.compile(r"127\.0\.0\.1:\d+->8080/tcp"))
        shot(page, "dockyard-daemon-logs")
        with page.expect_popup() as opened:       # the app, through Jupyter's port proxy
            container.get_by_role("button", name="Open port 8080 of panel-dy-run").click()
        app = opened.value
        expect(app.locator("body")).to_contain_text("web app in a container")
        assert "/dockyard/containers/" in app.url and app.url.endswith("/ports/8080/")
        app.close()
        container.get_by_role("button", name="Remove panel-dy-run").click()
        page.locator(".jp-Dialog").get_by_role("button", name="Remove").click()
        expect(container).to_have_count(0)
        image.get_by_role("button", name="Remove panel-dy:1").click()
        page.locator(".jp-Dialog").get_by_role("button", name="Remove").click()
        expect(image).to_have_count(0)
        with pytest.raises(docker.errors.ImageNotFound):
            engine.images.get("panel-dy:1")

        build_and_run_from_file_browser(page, server.root / "notebooks", engine, "panel-dyb:1")
    finally:
        page.close()
        stop_server(server)
        remove_built(engine, "panel-dyb:1")
        try:
            engine.containers.get("panel-dy-run").remove(force=True)
        except docker.errors.NotFound:
            pass
        try:
            engine.images.remove("panel-dy:1")
        except docker.errors.ImageNotFound:
            pass
        engine.close()


# An Engine API server without /events (older or partial implementations): the one fault a
# real dockerd or dockyard daemon cannot produce, so a minimal one stands in.
NO_EVENTS_DAEMON = """
import json, re, sys
from tornado import ioloop, httpserver, netutil, web
ANSWERS = {"/_ping": "OK", "/version": {"Version": "0-noevents", "ApiVersion": "1.41"},
           "/images/json": [], "/containers/json": [],
           "/info": {"RegistryConfig": {"IndexConfigs": {}}}}
class Engine(web.RequestHandler):
    def get(self):
        path = re.sub(r"^/v1[.][0-9]+", "", self.request.path)
        if path not in ANSWERS:
            self.set_status(404)
            self.finish({"message": "page not found"})
            return
        body = ANSWERS[path]
        self.finish(body if isinstance(body, str) else json.dumps(body))
server = httpserver.HTTPServer(web.Application([(r".*", Engine)]))
server.add_socket(netutil.bind_unix_socket(sys.argv[1]))
ioloop.IOLoop.current().start()
"""


def test_without_events_the_panel_says_it_refreshes_slowly(browser: Browser) -> None:
    short = Path(tempfile.mkdtemp(prefix="noev-", dir="/tmp"))    # socket paths are short
    sock = short / "engine.sock"
    daemon = subprocess.Popen([sys.executable, "-c", NO_EVENTS_DAEMON, str(sock)],
                              stdin=subprocess.DEVNULL)
    server = None
    try:
        server = start_lab({"daemon_host": f"unix://{sock}", "start_daemon": False})
        page = open_panel(browser, server)
        panel = page.locator("#dockyard-panel")
        expect(panel).to_have_attribute("data-live", "false")
        expect(panel.locator(".jp-dockyard-live")).to_have_text(
            "Live updates unavailable (page not found): refreshing every 10 s.")
        expect(panel.locator(".jp-dockyard-images")).to_contain_text("No images yet")
        expect(panel.locator(".jp-dockyard-registries")).to_contain_text("No registries")
        shot(page, "no-events")
        page.close()
    finally:
        if server is not None:
            stop_server(server)
        daemon.terminate()
        daemon.wait(10)
        shutil.rmtree(short, ignore_errors=True)


def test_daemon_starting_then_ready(browser: Browser) -> None:
    """The server manages the daemon: its first start fails, the restart does not answer
    until the test lets it (the panel says it is starting), then the panel shows its lists."""
    root = Path(tempfile.mkdtemp(prefix="dks-", dir="/tmp"))
    dockerd = " ".join(shlex.quote(a) for a in dockerd_command(root))
    script = (f"if [ -e {root}/tried ]; then while [ ! -e {root}/go ]; do sleep 0.1; done; "
              f"exec {dockerd}; fi; touch {root}/tried; exit 1")
    server = start_lab({"daemon_host": f"unix://{root}/docker.sock", "start_daemon": True,
                        "daemon_command": ["sh", "-c", script], "restart_delay": 0.2})
    try:
        page = open_panel(browser, server)
        panel = page.locator("#dockyard-panel")
        expect(panel).to_have_attribute("data-state", "starting")
        expect(panel.locator(".jp-dockyard-banner")).to_contain_text(
            "The dockyard daemon (pid ")
        shot(page, "starting")
        (root / "go").touch()
        expect(panel).to_have_attribute("data-state", "ready")
        expect(panel.locator(".jp-dockyard-images")).to_contain_text("No images yet")
        expect(panel.locator(".jp-dockyard-containers")).to_contain_text("No containers")
        shot(page, "empty")
        page.close()
    finally:
        stop_server(server)          # the server stops the daemon it started
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def test_unreachable_daemon_is_explained(browser: Browser) -> None:
    server = start_lab({"daemon_host": "unix:///nonexistent/dockyard.sock",
                        "start_daemon": False}, theme="JupyterLab Dark")
    try:
        page = open_panel(browser, server)
        banner = page.locator("#dockyard-panel .jp-dockyard-banner")
        expect(banner).to_contain_text("Cannot reach the daemon at unix:///nonexistent/dockyard.sock")
        expect(banner).to_contain_text(re.compile(r"No such file|not found|nonexistent", re.IGNORECASE))
        expect(page.locator("#dockyard-panel")).to_have_attribute("data-state", "unreachable")
        expect(banner.get_by_role("button", name="Try to reach the daemon again")).to_be_visible()
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
        shot(page, "unreachable-dark")
        page.close()
    finally:
        stop_server(server)
