"""The registry's tornado application: the wiring, the route table, and ``serve``.

Handlers are thin (``handlers/``); storage is :mod:`.storage`; who may do what is
:mod:`.auth`. ``serve`` binds, prints one ``listening on URL`` line on stderr (tests and
``--addr 127.0.0.1:0`` users read the port from it), and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import ssl
import sys
from dataclasses import dataclass
from typing import Any, Final

from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream, SSLIOStream
from tornado.netutil import bind_sockets
from tornado.web import Application

from ..errors import InvalidArgument, Unavailable
from .auth.authenticator import Authenticator, BasicAuth, OpenAuth, TokenAuth
from .auth.htpasswd import Htpasswd
from .auth.jwt import KeyPair
from .auth.policy import Policy, parse_rule
from .auth.token import TokenService
from .config import RegistryConfig
from .handlers.base import NotFoundHandler
from .handlers.blobs import BlobHandler
from .handlers.listing import CatalogHandler, TagsHandler
from .handlers.manifests import ManifestHandler
from .handlers.referrers import ReferrersHandler
from .handlers.root import BaseHandler
from .handlers.token import TokenHandler
from .handlers.uploads import UploadHandler, UploadStartHandler
from .storage import Storage

log = logging.getLogger("dockyard.registry")

# Large reads per syscall: a blob body arrives in up to this much per data_received call.
BODY_CHUNK: Final = 1024 * 1024
# Bodies tornado buffers (token form posts …); streaming handlers raise their own limit.
SMALL_BODY: Final = 1024 * 1024

_NAME = r"(?P<name>[^?]+?)"
ROUTES: Final[list[tuple[str, type]]] = [
    (r"/v2/?", BaseHandler),
    (r"/v2/_catalog", CatalogHandler),
    (rf"/v2/{_NAME}/tags/list", TagsHandler),
    (rf"/v2/{_NAME}/manifests/(?P<reference>[^/]+)", ManifestHandler),
    (rf"/v2/{_NAME}/blobs/uploads/?", UploadStartHandler),
    (rf"/v2/{_NAME}/blobs/uploads/(?P<uuid>[^/]+)", UploadHandler),
    (rf"/v2/{_NAME}/blobs/(?P<digest>[^/]+)", BlobHandler),
    (rf"/v2/{_NAME}/referrers/(?P<digest>[^/]+)", ReferrersHandler),
    (r"/token", TokenHandler),
]


@dataclass
class Registry:
    """Everything the handlers share."""

    config: RegistryConfig
    storage: Storage
    auth: Authenticator
    tokens: TokenService | None


def build_registry(config: RegistryConfig) -> Registry:
    htpasswd = Htpasswd(config.htpasswd) if config.htpasswd else None
    authenticated = htpasswd is not None or config.uses_tokens
    policy = Policy(open=not authenticated, public=tuple(config.public),
                    rules=tuple(parse_rule(r) for r in config.acl))
    auth: Authenticator
    tokens = None
    if config.uses_tokens:
        key = KeyPair.load(config.token_key) if config.token_key else KeyPair.generate()
        auth = TokenAuth(key, policy, config.token_realm, config.token_service, config.token_issuer)
        if key.private is not None:
            tokens = TokenService(key, htpasswd, policy, config.token_service, config.token_issuer,
                                  config.token_expiry)
    elif htpasswd is not None:
        auth = BasicAuth(htpasswd, policy)
    else:
        auth = OpenAuth()
    return Registry(config, Storage(config.root), auth, tokens)


def make_app(registry: Registry) -> Application:
    return Application(ROUTES, registry=registry, default_handler_class=NotFoundHandler,
                       compress_response=False, serve_traceback=False)


def ssl_context(config: RegistryConfig) -> ssl.SSLContext | None:
    if not config.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(config.tls_cert), str(config.tls_key))
    return context


TLS_HANDSHAKE: Final = b"\x16"
PLAIN_TO_TLS_REPLY: Final = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


class _Server(HTTPServer):
    """Answers a TLS ClientHello on a plain-HTTP port at once, as Go's server does.

    Clients told a registry is "insecure" (skopeo ``--tls-verify=false``, docker's
    ``insecure-registries``) try HTTPS first and fall back to HTTP only when that fails; without
    this, the handshake would sit waiting for an HTTP request line until the client times out.
    """

    async def handle_stream(self, stream: IOStream, address: tuple[str, int]) -> None:  # type: ignore[override]
        if not isinstance(stream, SSLIOStream) and await _peek(stream) == TLS_HANDSHAKE:
            await stream.write(PLAIN_TO_TLS_REPLY)
            stream.close()
            return
        super().handle_stream(stream, address)


async def _peek(stream: IOStream) -> bytes:
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    fd = stream.socket.fileno()

    def ready() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await readable
    finally:
        loop.remove_reader(fd)
    try:
        return stream.socket.recv(1, socket.MSG_PEEK)
    except OSError:
        return b""


def start_server(registry: Registry) -> tuple[HTTPServer, str]:
    """Bind and start serving on the running loop; returns the server and its base URL."""
    config = registry.config
    host, port = config.host_port()
    tls = ssl_context(config)
    server = _Server(make_app(registry), ssl_options=tls, max_body_size=SMALL_BODY,
                        chunk_size=BODY_CHUNK, max_buffer_size=4 * BODY_CHUNK, xheaders=False)
    sockets = bind_sockets(port, host)
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    return server, f"{'https' if tls else 'http'}://{shown}:{bound[1]}"


def _startup(config: RegistryConfig) -> tuple[HTTPServer, str]:
    """Build and bind, turning a bad file or a busy port into one clear line for the user."""
    try:
        return start_server(build_registry(config))
    except ssl.SSLError as exc:
        raise InvalidArgument(f"cannot load --tls-cert/--tls-key: {exc}") from None
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else f" on {config.addr}"
        raise Unavailable(f"registry cannot start:{where}: {exc.strerror or exc}") from None


async def _serve(config: RegistryConfig) -> None:
    server, url = _startup(config)
    print(f"dockyard registry listening on {url}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await server.close_all_connections()


def serve(config: RegistryConfig, **_: Any) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.ERROR)  # 401 and 404 are routine here
    asyncio.run(_serve(config))
