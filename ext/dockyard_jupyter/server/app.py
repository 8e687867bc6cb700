"""The extension application: configuration traits, settings, handlers, the daemon's life."""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, List, Unicode

from dockyard import config

from .. import launcher
from ..client import resolve_host
from . import handlers
from .daemon import DaemonManager
from .proxy import EngineProxy


class DockyardExtension(ExtensionApp):
    name = "dockyard_jupyter"

    daemon_host = Unicode(
        None, allow_none=True,
        help="Engine API address the proxy forwards to (unix://PATH, tcp://HOST:PORT). Default: "
             "$DOCKYARD_HOST, then the bundled dockyard daemon's socket.",
    ).tag(config=True)
    start_daemon = Bool(
        True, help="Start the bundled daemon with the server when nothing answers at the "
                   "daemon host, restart it if it dies and stop it at shutdown.",
    ).tag(config=True)
    daemon_command = List(
        Unicode(), default_value=None, allow_none=True,
        help="Command that starts the daemon (default: `dockyard daemon -H HOST --data-root "
             "DIR`). Any Engine API daemon that listens at daemon_host works.",
    ).tag(config=True)
    data_root = Unicode(
        None, allow_none=True,
        help="--data-root for the bundled daemon (default: dockyard's usual location).",
    ).tag(config=True)
    restart_delay = Float(
        1.0, help="Seconds to wait before restarting a daemon that exited.",
    ).tag(config=True)

    def _host(self) -> str:
        return resolve_host(self.daemon_host)

    def _manager(self, host: str) -> DaemonManager | None:
        if not self.start_daemon:
            return None
        command = self.daemon_command
        if not command:
            if not launcher.daemon_cli_available():
                self.log.info("dockyard: no `dockyard daemon` in this install; not starting one")
                return None
            command = launcher.daemon_command(host, _path(self.data_root))
        return DaemonManager(host, list(command), log=self.log, restart_delay=self.restart_delay,
                             log_path=config.default_data_root() / "daemon.log"
                             if not self.daemon_command else None)

    def initialize_settings(self) -> None:
        host = self._host()
        manager = self._manager(host)
        if manager is not None:
            manager.start()
        self.settings.update(dockyard_proxy=EngineProxy(host), dockyard_manager=manager)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers.route_table())

    async def stop_extension(self) -> None:
        manager: DaemonManager | None = self.settings.get("dockyard_manager")
        if manager is not None:
            manager.stop()
        proxy: EngineProxy | None = self.settings.get("dockyard_proxy")
        if proxy is not None:
            proxy.close()


def _path(value: str | None) -> Any:
    from pathlib import Path

    return Path(value) if value else None


main = launch_new_instance = DockyardExtension.launch_instance
