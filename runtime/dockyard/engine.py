"""The one facade the Engine API handlers, the CLI and tests call.

Every method is synchronous (the API server runs them in a thread pool) and returns plain
JSON-able values shaped exactly like Docker Engine API v1.45 responses (handlers adapt them to
older API versions), or raises an exception from :mod:`dockyard.errors` worded as dockerd words
it ("No such image: busybox:latest", "conflict: unable to delete …"). Streams (save, load,
import) are generators the caller may close early. Image names accept a reference, a full or
unique short ID (with or without ``sha256:``), or name@digest. The image work itself lives in
:mod:`dockyard.store`.
"""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from . import API_VERSION, MIN_API_VERSION, __version__
from .config import DaemonConfig
from .containers.events import EventBus
from .store.images import ImageStore

if TYPE_CHECKING:
    import threading

    from .build.builder import Builder
    from .containers.execs import ExecManager
    from .containers.manager import ContainerManager
    from .distribution.credentials import AuthConfig
    from .distribution.service import Distribution
    from .network.manager import NetworkManager
    from .volumes.manager import VolumeManager

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}


def go_arch() -> str:
    """The machine architecture in Go's naming, which image configs and /version use."""
    machine = platform.machine()
    return _GOARCH.get(machine, machine)


def cgroup_version() -> str:
    """``"1"`` when the memory controller is a v1 mount (hybrid hosts count as v1), else ``"2"``."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                if fields[sep + 1] == "cgroup" and "memory" in fields[-1].split(","):
                    return "1"
    except (OSError, ValueError):
        pass
    return "2"


def _os_pretty_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class Engine:
    """Opens the store under ``config.data_root`` and answers Engine API calls."""

    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        remapped = getattr(config, "remapped", None)  # --userns-remap (linux.remap)
        self.data_root = Path(config.engine_root) if remapped is not None else Path(config.data_root)
        self.data_root.mkdir(parents=True, exist_ok=True)
        self._store = ImageStore(self.data_root, remap=None if remapped is None else remapped.ns)
        self._id = self._engine_id()
        self.events = EventBus()  # /events: every manager that emits takes this one bus
        self._store.emit = self.events.emit  # the image events (ImageStore.log_event)
        self._distribution: Distribution | None = None
        self._networks: NetworkManager | None = None
        if (self.data_root / "network" / "state.json").exists():
            _ = self.networks  # bridges, NAT and published ports back as they were
        self._builder: Builder | None = None
        self._containers: ContainerManager | None = None
        if any((self.data_root / "containers").glob("*/config.v2.json")):
            _ = self.containers  # re-adopt running containers, restart "always" ones, now

    def close(self) -> None:
        if self._networks is not None:
            self._networks.close()
        if self._containers is not None:
            self._containers.close()
        if self._builder is not None:
            self._builder.close()
        if self._distribution is not None:
            self._distribution.close()
        if (execs := self.__dict__.get("_execs")) is not None:
            execs.close()
        if (volumes := self.__dict__.get("_volumes")) is not None:
            volumes.close()
        self._store.close()

    @property
    def store(self) -> ImageStore:
        return self._store

    @property
    def containers(self) -> ContainerManager:
        """The container lifecycle (:mod:`dockyard.containers.manager`), created on first use."""
        if self._containers is None:
            from .containers.manager import ContainerManager
            self._containers = ContainerManager(self)
        return self._containers

    @property
    def networks(self) -> NetworkManager:
        """Networks and the container network hooks (:mod:`dockyard.network`), made on first use."""
        if self._networks is None:
            from .network.manager import NetworkManager
            self._networks = NetworkManager(self.data_root, rootless=self.config.rootless, engine=self,
                                            bridge=getattr(self.config, "bridge", None),
                                            bip=getattr(self.config, "bip", None),
                                            pools=getattr(self.config, "default_address_pools", None),
                                            ipv6=getattr(self.config, "ipv6", False),
                                            fixed_cidr_v6=getattr(self.config, "fixed_cidr_v6", None))
        return self._networks

    @property
    def execs(self) -> ExecManager:
        """``docker exec`` instances (:mod:`dockyard.containers.execs`), made on first use."""
        execs: ExecManager | None = self.__dict__.get("_execs")
        if execs is None:
            from .containers.execs import ExecManager

            execs = self.__dict__["_execs"] = ExecManager(self)
        return execs

    @property
    def volumes(self) -> VolumeManager:
        """Volumes and the container mount hooks (:mod:`dockyard.volumes`), made on first use."""
        volumes: VolumeManager | None = self.__dict__.get("_volumes")
        if volumes is None:
            from .volumes.manager import VolumeManager

            volumes = self.__dict__["_volumes"] = VolumeManager(self)
        return volumes

    def _engine_id(self) -> str:
        """A stable daemon ID, kept beside the data so it survives restarts (as dockerd's)."""
        path = self.data_root / "engine-id"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            value = str(uuid.uuid4())
            tmp = path.with_suffix(".tmp")
            tmp.write_text(value + "\n")
            os.replace(tmp, path)
            return value

    # ---- system ---------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        kernel = platform.release()
        details = {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux",
                   "Arch": go_arch(), "KernelVersion": kernel, "GitCommit": "",
                   "GoVersion": f"python{platform.python_version()}", "BuildTime": ""}
        return {
            "Platform": {"Name": f"dockyard {__version__}"},
            "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
            "Version": __version__,
            **details,
        }

    def info(self) -> dict[str, Any]:
        from .containers.unsupported import RUNTIMES  # the names a create takes
        images = self._store.count_images()
        return {
            "ID": self._id, **self.containers.counts(), "Images": images, "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "DockerRootDir": str(self.data_root), "Plugins": {"Volume": ["local"],
            "Network": ["bridge", "host", "null"], "Authorization": None, "Log": ["json-file"]},
            "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
            "CPUShares": True, "CPUSet": True, "PidsLimit": True, "OomKillDisable": True,
            "IPv4Forwarding": True, "Debug": self.config.log_level == "debug",
            "NFd": len(os.listdir("/proc/self/fd")), "NGoroutines": 0, "SystemTime": _now_rfc3339(),
            "LoggingDriver": getattr(self.config, "log_driver", "json-file"), "CgroupDriver": "cgroupfs", "CgroupVersion": cgroup_version(),
            "NEventsListener": 0, "KernelVersion": platform.release(),
            "OperatingSystem": _os_pretty_name(), "OSVersion": "", "OSType": "linux",
            "Architecture": platform.machine(), "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {},
                               "Mirrors": list(self.config.registry_mirrors)},
            "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(), "Name": platform.node(),
            "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
            "Runtimes": {name: {"path": "runc"} for name in RUNTIMES},
            "DefaultRuntime": RUNTIMES[0], "Swarm": {
                "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "",
            "SecurityOptions": _security_options(self.config.rootless, getattr(self.config, "seccomp_profile", ""),
                                                 self._store.remap is not None),
            "Warnings": None,
            **({"DefaultAddressPools": pools} if (pools := getattr(self.config, "default_address_pools", None))
               else {}),
        }

    def system_df(self) -> dict[str, Any]:
        """``GET /system/df`` at API 1.45 (the handler adapts BuildCache/BuilderSize to older
        versions). Containers are ``ps -a -s`` entries, SizeRw/SizeRootFs left out when 0 as
        dockerd's ``omitempty`` does; a daemon that never had a container starts no manager."""
        images = self._store.disk_usage()
        containers = self._containers.listing(all=True, size=True) if self._containers is not None else []
        for item in containers:
            for key in ("SizeRw", "SizeRootFs"):
                if not item.get(key):
                    item.pop(key, None)
        return {"LayersSize": self._store.layers_size(), "Images": images, "Containers": containers,
                "Volumes": self.volumes.disk_usage(), "BuildCache": self.builder.disk_usage()}

    # ---- images ---------------------------------------------------------------------------

    def images_list(self, all: bool = False, filters: dict[str, list[str]] | None = None,
                    digests: bool = False) -> list[dict[str, Any]]:
        return self._store.list_images(all=all, filters=filters or {}, digests=digests)

    def image_inspect(self, name: str) -> dict[str, Any]:
        return self._store.inspect(name)

    def image_history(self, name: str) -> list[dict[str, Any]]:
        return self._store.history(name)

    def image_tag(self, name: str, repo: str, tag: str | None) -> None:
        self._store.tag(name, repo, tag)

    def image_remove(self, name: str, force: bool = False, noprune: bool = False) -> list[dict[str, Any]]:
        return self._store.remove(name, force=force, prune=not noprune)

    def images_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return self._store.prune(filters or {})

    def images_save(self, names: list[str]) -> Iterator[bytes]:
        from .store.archive import save
        return save(self._store, names)

    def images_load(self, stream: BinaryIO, quiet: bool = False) -> Iterator[dict[str, Any]]:
        from .store.archive import load
        return load(self._store, stream, quiet=quiet)

    def image_import(self, stream: BinaryIO, repo: str | None = None, tag: str | None = None,
                     changes: list[str] | None = None, message: str = "",
                     platform: str | None = None) -> Iterator[dict[str, Any]]:
        from .store.importer import import_rootfs
        return import_rootfs(self._store, stream, repo=repo, tag=tag, changes=changes or [],
                             message=message, platform=platform)

    # ---- registries (dockyard.distribution) ----------------------------------------------------

    @property
    def distribution(self) -> Distribution:
        """The registry client, created on first use (importing it costs urllib3)."""
        if self._distribution is None:
            from .distribution.endpoints import RegistryConfig
            from .distribution.service import Distribution

            config = RegistryConfig(list(self.config.insecure_registries), list(self.config.registry_mirrors))
            self._distribution = Distribution(self._store, self.data_root, config)
        return self._distribution

    def image_pull(self, name: str, tag: str | None = None, platform: str | None = None,
                   auth: AuthConfig | None = None, all_tags: bool = False,
                   cancel: threading.Event | None = None) -> Iterator[dict[str, Any]]:
        """dockerd's pull messages; setting ``cancel`` (e.g. a build's abort) stops the pull
        from another thread, as closing the iterator does from the one reading it."""
        return self.distribution.pull(name, tag, platform, auth, all_tags=all_tags, cancel=cancel)

    def image_push(self, name: str, tag: str | None = None,
                   auth: AuthConfig | None = None) -> Iterator[dict[str, Any]]:
        return self.distribution.push(name, tag, auth)

    def registry_login(self, auth: AuthConfig) -> dict[str, Any]:
        return self.distribution.login(auth)

    def image_search(self, term: str, limit: int = 25, auth: AuthConfig | None = None,
                     filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        return self.distribution.search(term, limit, auth, filters)

    def distribution_inspect(self, name: str, auth: AuthConfig | None = None) -> dict[str, Any]:
        return self.distribution.inspect(name, auth)

    def ensure_image(self, name: str, platform: str | None = None, auth: AuthConfig | None = None) -> str:
        """Pull-through for run/build: the image ID, pulled first when it is not local."""
        return self.distribution.ensure_image(name, platform, auth)

    # ---- the builder (dockyard.build) -------------------------------------------------------

    @property
    def builder(self) -> Builder:
        """The Dockerfile builder, created on first use (it opens the build cache index)."""
        if self._builder is None:
            from .build.builder import Builder

            self._builder = Builder(self)
        return self._builder

    # ---- internal, for containers and the builder ------------------------------------------

    def image_rootfs_layers(self, name: str) -> list[Path]:
        return self._store.rootfs_layers(name)


def _security_options(rootless: bool, profile: str = "", userns: bool = False) -> list[str]:
    """dockerd's list, in its order: seccomp with its profile — "default", or the path given
    to ``--seccomp-profile`` (where the programs here can check the ABI: linux.seccomp) —,
    then userns (``--userns-remap``), then rootless."""
    from .linux import seccomp
    shown = "default" if profile in ("", "builtin") else profile
    return ([f"name=seccomp,profile={shown}"] if seccomp.supported() else []) + \
        (["name=userns"] if userns else []) + (["name=rootless"] if rootless else [])


def _now_rfc3339() -> str:
    from .store.timefmt import rfc3339_now
    return rfc3339_now()


__all__ = ["Engine", "cgroup_version", "go_arch"]
