"""What `sscard serve` was told: address, allowed origins, readers, key source, limits."""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field

from sscard import errors

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12342  # the port deployed kiosk pages already use (national-interface bridges)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

_ORIGIN = re.compile(r"^(https?)://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$")


@dataclass
class ServiceConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_remote: bool = False  # a non-loopback --host was explicitly accepted
    origins: frozenset[str] = frozenset()
    readers: tuple[str, ...] = ()  # -r filters: only these readers are served (name parts)
    keys: str | None = None  # --keys FILE|test
    psam: str | None = None  # --psam READER|emulator
    allow_bank_records: bool = False
    hsm_timeout: float = 60.0
    request_timeout: float = 30.0  # a card operation's answer, queue wait included
    queue_size: int = 8  # waiting requests per reader
    max_body: int = 4096  # bytes of an HTTP request body
    max_message: int = 4096  # bytes of a WebSocket message
    max_websockets: int = 128
    max_listeners: int = 64  # /v1/events streams
    demo: bool = True  # serve the demo kiosk page at /kiosk/
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise errors.InvalidArgument(f"port {self.port} is out of range")
        if not is_loopback(self.host) and not self.allow_remote:
            raise errors.InvalidArgument(
                f"--host {self.host} is not a loopback address: any machine on that network "
                "could read cards; add --allow-remote-host to accept that",
                zh="非回环地址：同一网络中的任何机器都能读卡；确需如此请加 --allow-remote-host",
            )
        if (
            not (math.isfinite(self.hsm_timeout) and math.isfinite(self.request_timeout))
            or self.hsm_timeout <= 0
            or self.request_timeout <= 0
        ):
            raise errors.InvalidArgument(
                "timeouts must be positive numbers of seconds", zh="超时必须为正数秒"
            )

    def host_names(self, port: int) -> frozenset[str]:
        """The `Host` header values this service answers to (DNS rebinding defence)."""
        bases = {*LOOPBACK_NAMES, _bracketed(self.host).lower()}  # e.g. --host 127.0.0.2
        names = {f"{n}:{port}" for n in bases}
        if port == 80:  # browsers leave the scheme's default port out of Host
            names |= bases
        return frozenset(names)

    def self_origins(self, port: int) -> frozenset[str]:
        """The service's own origins: pages it serves itself (the demo kiosk page)."""
        bases = {*LOOPBACK_NAMES, _bracketed(self.host).lower()}
        return frozenset(f"http://{n}" if port == 80 else f"http://{n}:{port}" for n in bases)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def parse_origin(text: str) -> str:
    """An --allow-origin value, checked: `scheme://host[:port]` exactly (or `null`)."""
    value = text.strip()
    if value == "null":
        return value
    if value.endswith("/"):
        value = value[:-1]
    m = _ORIGIN.match(value)
    if m is None or value != value.lower() or (m.group(3) and not 0 < int(m.group(3)) < 65536):
        raise errors.InvalidArgument(
            f"--allow-origin {text!r}: give an origin exactly as browsers send it, "
            "scheme://host[:port] in lower case, no path (or null for file:// pages)",
            zh="--allow-origin 应为 scheme://host[:port]（小写，无路径），或 null",
        )
    scheme, host, port = m.groups()
    if port and int(port) == {"http": 80, "https": 443}[scheme]:
        raise errors.InvalidArgument(
            f"--allow-origin {text!r}: browsers omit the default port; write {scheme}://{host}",
            zh="--allow-origin：浏览器不带默认端口，请省略端口",
        )
    return value
