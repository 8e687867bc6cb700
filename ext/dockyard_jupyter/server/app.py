"""The extension application: configuration traits, settings, handlers, the daemon's life."""

from __future__ import annotations

from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, List, Unicode

from .. import launcher
from ..client import resolve_host
from . import handlers, panel
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
        """Only a local daemon is ours to start: a unix socket host, or an explicit command."""
        if not self.start_daemon:
            return None
        if self.daemon_command:
            return DaemonManager(host, list(self.daemon_command), log=self.log,
                                 restart_delay=self.restart_delay)
        if launcher.socket_path(host) is None or not launcher.daemon_cli_available():
            self.log.info("dockyard: not starting a daemon for %s", host)
            return None
        data_root = Path(self.data_root) if self.data_root else None
        return DaemonManager(host, launcher.daemon_command(host, data_root), log=self.log,
                             restart_delay=self.restart_delay,
                             log_path=launcher.log_path(data_root))

    def initialize_settings(self) -> None:
        host = self._host()
        manager = self._manager(host)
        if manager is not None:
            manager.start()
        self.settings.update(dockyard_proxy=EngineProxy(host), dockyard_manager=manager)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers.route_table() + panel.route_table())

    async def stop_extension(self) -> None:
        manager: DaemonManager | None = self.settings.get("dockyard_manager")
        if manager is not None:
            manager.stop()
        proxy: EngineProxy | None = self.settings.get("dockyard_proxy")
        if proxy is not None:
            proxy.close()


main = launch_new_instance = DockyardExtension.launch_instance
