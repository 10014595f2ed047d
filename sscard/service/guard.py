"""The service's front door (ASGI middleware), in front of every HTTP request and WebSocket.

The browser is the threat: any page the kiosk browser opens can send requests to 127.0.0.1.

- `Host` must name this service on a loopback name and its port, else 400: a DNS-rebound
  name (attacker.example → 127.0.0.1) passes every same-origin check but not this one.
- A request that carries `Origin` is served only when that origin is allowed (exactly, as
  the browser sends it); otherwise 403 without any CORS header, and a WebSocket upgrade is
  refused before it is accepted (browsers apply no CORS to WebSockets).  Allowed origins get
  `Access-Control-Allow-Origin: <origin>`, never `*`; preflights also answer
  `Access-Control-Allow-Private-Network: true` (older Chrome's Private Network Access).
- A request without `Origin` comes from a program on this machine (which could use PC/SC
  directly anyway) and is served, unless `Sec-Fetch-Site` says another site's page made it
  (an `<img>` or `<script>` load, which browsers send without `Origin`): 403.
- Request bodies are bounded (413).

One log line per request: method, path, status, time (control characters escaped).  Never the
query string's values, bodies or messages (they may carry personal data or an HSM answer).
"""

from __future__ import annotations

import json
import logging
import re
import time

log = logging.getLogger("sscard.service")

PREFLIGHT_HEADERS = {"content-type", "accept", "cache-control", "last-event-id"}


def _json_body(code: str, en: str, zh: str) -> bytes:
    return json.dumps(
        {"error": {"code": code, "national_code": -14, "en": en, "zh": zh, "exit_code": 2}},
        ensure_ascii=False,
    ).encode()


class Guard:
    def __init__(
        self, app, *, hosts: frozenset[str], origins: frozenset[str], max_body: int
    ) -> None:
        self.app = app
        self.hosts = frozenset(h.lower() for h in hosts)
        self.origins = origins
        self.max_body = max_body
        self._too_large = _json_body(
            "body_too_large",
            f"request bodies are limited to {max_body} bytes",
            f"请求体不得超过 {max_body} 字节",
        )

    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        started = time.monotonic()
        headers = _headers(scope)
        host = headers.get("host", "").lower()
        origin = headers.get("origin")
        path = scope.get("path", "")
        if host not in self.hosts:
            log.warning(
                "refused %s %s: Host %s not allowed",
                _method(scope),
                _printable(path),
                _printable(host),
            )
            return await self._refuse(
                scope,
                receive,
                send,
                400,
                _json_body(
                    "bad_host",
                    "the Host header must name this service on a loopback name "
                    "(127.0.0.1, localhost or [::1]) and its port",
                    "Host 请求头必须为本服务的回环地址和端口",
                ),
            )
        if origin is not None and origin not in self.origins:
            log.warning(
                "refused %s %s: Origin %s not allowed",
                _method(scope),
                _printable(path),
                _printable(origin),
            )
            return await self._refuse(
                scope,
                receive,
                send,
                403,
                _json_body(
                    "origin_not_allowed",
                    "this page's origin is not allowed to use the card "
                    "service (sscard serve --allow-origin)",
                    "该网页来源未被允许使用读卡服务（sscard serve --allow-origin）",
                ),
            )
        if origin is None and headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            # an <img>/<script>/link from another site: browsers send Sec-Fetch-Site, not
            # always Origin (no-cors GETs); programs send neither
            log.warning(
                "refused %s %s: Sec-Fetch-Site %s",
                _method(scope),
                _printable(path),
                headers["sec-fetch-site"],
            )
            return await self._refuse(
                scope,
                receive,
                send,
                403,
                _json_body(
                    "origin_not_allowed",
                    "requests from other web sites are not served",
                    "不接受来自其他网站的请求",
                ),
            )
        if kind == "websocket":
            return await self.app(scope, receive, send)

        method = scope["method"]
        if (
            method == "OPTIONS"
            and origin is not None
            and "access-control-request-method" in headers
        ):
            status = 204
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": self._preflight(origin, headers),
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return _log_line(method, path, status, started)

        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await self._refuse(scope, receive, send, 413, self._too_large, origin)
        receive = await self._bounded(receive)
        if receive is None:  # the declared length was absent or false: counted while read
            return await self._refuse(scope, None, send, 413, self._too_large, origin)

        status_box = [0]

        async def send_with_cors(message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                if origin is not None:
                    extra = [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"vary", b"Origin"),
                    ]
                    message = dict(message, headers=[*message.get("headers", []), *extra])
            await send(message)

        try:
            await self.app(scope, receive, send_with_cors)
        finally:
            _log_line(method, path, status_box[0], started)

    async def _bounded(self, receive):
        """Read the whole body (at most max_body bytes) before the app runs; None if larger."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending = message
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return None
            if not message.get("more_body", False):
                pending = None
                break
        body = b"".join(chunks)
        first = [
            {"type": "http.request", "body": body, "more_body": False}
            if pending is None
            else pending
        ]

        async def replay():
            if first:
                return first.pop()
            return await receive()

        return replay

    def _preflight(self, origin: str, headers: dict) -> list[tuple[bytes, bytes]]:
        out = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", b"GET, POST"),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
        ]
        asked = [
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        allowed = [h for h in asked if h in PREFLIGHT_HEADERS]
        if allowed:
            out.append((b"access-control-allow-headers", ", ".join(allowed).encode()))
        if headers.get("access-control-request-private-network", "").lower() == "true":
            out.append((b"access-control-allow-private-network", b"true"))
        return out

    async def _refuse(
        self, scope, receive, send, status: int, body: bytes, origin: str | None = None
    ) -> None:
        del origin  # a refusal never carries CORS headers: the page learns nothing
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            if "websocket.http.response" in scope.get("extensions", {}):
                await send(
                    {"type": "websocket.http.response.start", "status": status, "headers": headers}
                )
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        log.info("%s %s %d", _printable(scope["method"]), _printable(scope.get("path", "")), status)


def _headers(scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1").lower()
        if key in out:  # a repeated Host or Origin is not something a browser sends
            out[key] = "\x00repeated"
        else:
            out[key] = value.decode("latin-1")
    return out


def _method(scope) -> str:
    return _printable(scope.get("method", "WEBSOCKET"))


# Line breaks, terminal escapes and bidi overrides in a request (its %-decoded path, Host,
# Origin) would forge log lines or rewrite the operator's terminal: logged as \xNN / \uNNNN.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _printable(text: str) -> str:
    return _UNPRINTABLE.sub(
        lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text
    )


def _log_line(method: str, path: str, status: int, started: float) -> None:
    log.info(
        "%s %s %d %.0f ms",
        _printable(method),
        _printable(path),
        status,
        (time.monotonic() - started) * 1000,
    )
