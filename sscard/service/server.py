"""Run the service: bind, serve with uvicorn until SIGTERM/SIGINT, tell systemd when ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys

from sscard import errors
from sscard.service.config import ServiceConfig, is_loopback


def bind(config: ServiceConfig) -> socket.socket:
    """The listening socket (port 0: any free port; the real one is in getsockname())."""
    host = config.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if host == "localhost":
        host, family = "127.0.0.1", socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says TCP
    # (proto 0 would leave Nagle on, and every HTTP answer would wait ~40 ms for an ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, config.port))
    except OSError as e:
        sock.close()
        raise errors.InvalidArgument(
            f"cannot listen on {config.host}:{config.port}: {e.strerror}", zh="无法监听该地址和端口"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def notify_systemd(state: str) -> None:
    """sd_notify(3): one datagram to $NOTIFY_SOCKET (nothing without systemd)."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]  # abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(path)
            s.sendall(state.encode())
    except OSError:
        pass  # systemd's business; the service runs either way


def configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("sscard")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


def run(config: ServiceConfig, *, debug: bool = False) -> int:
    import uvicorn

    from sscard.service.app import create_app

    configure_logging(debug)
    if not is_loopback(config.host):
        print(
            f"warning: listening on {config.host}, which is not a loopback address: other "
            "machines on that network can reach the card service / 警告：非回环地址，"
            "网络中其他机器可访问读卡服务",
            file=sys.stderr,
            flush=True,
        )
    if "null" in config.origins:
        print(
            "WARNING: --allow-origin null: a sandboxed iframe on ANY web site sends Origin: "
            "null, so any site the kiosk browser opens can read cards / 警告：已允许 null "
            "来源，浏览器打开的任何网站都可通过沙箱 iframe 读卡",
            file=sys.stderr,
            flush=True,
        )
    sock = bind(config)
    port = sock.getsockname()[1]
    app, _service = create_app(config, port)

    class Server(uvicorn.Server):
        def capture_signals(self):  # ours below: a clean stop exits 0, not by the signal
            return contextlib.nullcontext()

    server = Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws_max_size=config.max_message,
            ws_ping_interval=20.0,
            ws_ping_timeout=20.0,
            timeout_graceful_shutdown=3,
            limit_concurrency=config.max_websockets + config.max_listeners + 64,
            server_header=False,
            h11_max_incomplete_event_size=16 * 1024,
        )
    )

    def stop() -> None:
        if server.should_exit:  # a second signal: do not wait for open connections
            server.force_exit = True
        server.should_exit = True

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        shown = f"[{config.host.strip('[]')}]" if ":" in config.host else config.host
        print(
            f"sscard serve: listening on http://{shown}:{port} (compat WebSocket "
            f"ws://{shown}:{port}/, demo page http://{shown}:{port}/kiosk/) / 读卡服务已启动",
            file=sys.stderr,
            flush=True,
        )
        notify_systemd("READY=1")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still interrupts
                loop.add_signal_handler(signum, stop)
        watcher = asyncio.ensure_future(announce())
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()
            notify_systemd("STOPPING=1")

    try:
        asyncio.run(main())
    finally:
        sock.close()
    if not server.started:
        raise errors.ServiceUnavailable("the service did not start", zh="服务未能启动")
    print("sscard serve: stopped / 读卡服务已停止", file=sys.stderr, flush=True)
    return 0
