"""The HTTP API (FastAPI: the OpenAPI document at /openapi.json is generated from these
routes), the compatibility WebSocket at `/` and the demo kiosk page at /kiosk/."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

import sscard
from sscard import errors
from sscard.service import problems
from sscard.service.cards import Cards, KeySource
from sscard.service.config import ServiceConfig
from sscard.service.events import EventHub, sse
from sscard.service.guard import Guard
from sscard.service.workers import ReaderBusy, Workers

log = logging.getLogger("sscard.service")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
READER_QUERY = Query(
    None,
    max_length=200,
    description="Reader: index, part of its name, or ATR "
    "prefix (hex), as `sscard read -r`; default: the first reader holding a card",
)
KEEPALIVE = 10.0  # seconds between SSE comments: also how soon a gone listener is noticed


class Service:
    """Everything one running service shares: configuration, key source, workers, events."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.keys = KeySource(config.keys, config.psam)
        self.cards = Cards(config, self.keys)
        self.workers = Workers(config.queue_size)
        self.hub = EventHub(self)
        self.websockets = 0
        self._psam_reader: str | None = None

    def psam_reader_name(self) -> str | None:
        return self._psam_reader

    async def readers(self):
        readers = await asyncio.to_thread(self.cards.readers)
        return readers

    async def choose(self, choice: str | None) -> str:
        return await asyncio.to_thread(self.cards.choose, choice)

    async def run_on_reader(self, reader: str, job, owner: object = None) -> Any:
        """Run `job(held)` on the reader's worker; its result, or its error raised here.
        RequestTimeout when the card operation does not end in time (the worker finishes it
        and its queue refuses more meanwhile)."""
        future = self.workers.get(reader).submit(job, owner)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.config.request_timeout)
        except TimeoutError:
            raise problems.RequestTimeout() from None

    def close(self) -> None:
        self.hub.stop()
        self.workers.stop()
        self.keys.close()


# --- documented shapes (OpenAPI) ---------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine code, e.g. no_card, busy, origin_not_allowed")
    national_code: int = Field(description="The national reader interface's code (e.g. -2)")
    en: str
    zh: str
    exit_code: int = Field(description="The `sscard` CLI's exit code for the same failure")


class ErrorBody(BaseModel):
    error: ErrorDetail


class Reader(BaseModel):
    index: int
    name: str
    card: bool
    atr: str | None
    contactless: bool


class ReaderList(BaseModel):
    readers: list[Reader]


class Health(BaseModel):
    service: str = "sscard"
    version: str
    pcsc: str = Field(description="running | unavailable")
    readers: list[Reader]
    key_source: str = Field(description="none | software | psam")
    bank_records_allowed: bool


def _document(document: dict) -> JSONResponse:
    """A card document as it is (already plain JSON types): FastAPI would otherwise re-encode
    and re-validate it against `dict[str, Any]`, which costs more than the card read."""
    return JSONResponse(document)


_ERRORS: dict[int | str, dict[str, Any]] = {  # FastAPI's `responses`
    status: {"model": ErrorBody}
    for status in (400, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504)
}


def create_app(config: ServiceConfig, port: int) -> tuple[Any, Service]:
    """The ASGI application (the Guard in front) and its Service, for a service on `port`."""
    service = Service(config)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        service.hub.start(asyncio.get_running_loop())
        with contextlib.suppress(errors.SscardError):
            from sscard.transport.pcsc import Context

            with Context() as ctx:
                service._psam_reader = service.keys.psam_reader(ctx.readers())
        try:
            yield
        finally:
            await asyncio.to_thread(service.close)

    app = FastAPI(
        title="sscard kiosk service",
        version=sscard.__version__,
        lifespan=lifespan,
        description="Read the PRC social security card (社会保障卡) from a kiosk page. "
        "Loopback only; pages need an allowed Origin.",
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(errors.SscardError)
    async def sscard_error(_request: Request, error: errors.SscardError):
        status, body = problems.describe(error)
        headers = {"Retry-After": "1"} if isinstance(error, ReaderBusy) else None
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, error: RequestValidationError):
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in error.errors())
        return JSONResponse(
            problems.describe(
                problems.ServiceError(
                    "invalid_argument", 400, f"invalid request parameters: {where}", "请求参数无效"
                )
            )[1],
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JSONResponse(
            problems.describe(
                problems.ServiceError(
                    code, error.status_code, str(error.detail), "请求的资源或方法不存在"
                )
            )[1],
            status_code=error.status_code,
        )

    @app.exception_handler(Exception)
    async def internal(_request: Request, error: Exception):
        log.error("internal error: %s", type(error).__name__)
        return JSONResponse({"error": problems.INTERNAL}, status_code=500)

    @app.get("/v1/health", response_model=Health, responses=_ERRORS, tags=["service"])
    async def health():
        """Version, PC/SC service state and readers (no card is touched)."""
        try:
            readers = await service.readers()
            pcsc = "running"
        except errors.ServiceUnavailable:
            readers, pcsc = [], "unavailable"
        return {
            "service": "sscard",
            "version": sscard.__version__,
            "pcsc": pcsc,
            "readers": [r.to_dict() for r in readers],
            "key_source": service.keys.kind,
            "bank_records_allowed": config.allow_bank_records,
        }

    @app.get("/v1/readers", response_model=ReaderList, responses=_ERRORS, tags=["cards"])
    async def readers():
        """The readers served and whether each holds a card (no card is touched)."""
        return {"readers": [r.to_dict() for r in await service.readers()]}

    @app.get("/v1/identity", response_model=dict[str, Any], responses=_ERRORS, tags=["cards"])
    async def identity(
        reader: str | None = READER_QUERY,
        masked: bool = Query(
            False, description="Mask personal data as the CLI does without --reveal"
        ),
    ):
        """The card's identity: the `sscard read --json --reveal` document (schema
        sscard.identity/1).  Reading changes nothing on the card."""
        name = await service.choose(reader)
        return _document(
            await service.run_on_reader(
                name, lambda _held: service.cards.identity_document(name, reveal=not masked)
            )
        )

    @app.get("/v1/status", response_model=dict[str, Any], responses=_ERRORS, tags=["cards"])
    async def status(reader: str | None = READER_QUERY):
        """The state of the card's applications: the `sscard status --json --reveal` document
        (schema sscard.status/1).  Changes nothing on the card."""
        name = await service.choose(reader)
        return _document(
            await service.run_on_reader(
                name, lambda _held: service.cards.status_document(name, False)
            )
        )

    @app.post("/v1/status", response_model=dict[str, Any], responses=_ERRORS, tags=["cards"])
    async def status_with_records(
        reader: str | None = READER_QUERY,
        bank_records: bool = Query(
            False,
            description=(
                "Also read the bank records: ONE GET PROCESSING OPTIONS, "
                "which CHANGES THE CARD (ATC + 1). Only when the service "
                "runs with --allow-bank-records"
            ),
        ),
    ):
        """As GET, and with `bank_records=true` the bank application's records."""
        if bank_records and not config.allow_bank_records:
            raise problems.not_allowed(
                "reading the bank records changes the card (ATC + 1): the service must run "
                "with --allow-bank-records",
                "读取金融记录会改变卡片（ATC 加一）：服务须以 --allow-bank-records 启动",
            )
        name = await service.choose(reader)
        return _document(
            await service.run_on_reader(
                name, lambda _held: service.cards.status_document(name, bank_records)
            )
        )

    @app.get(
        "/v1/events",
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
            **_ERRORS,
        },
        response_class=StreamingResponse,
        tags=["events"],
    )
    async def events(
        request: Request,
        masked: bool = Query(False, description="Mask personal data in `identity` events"),
    ):
        """Server-Sent Events: `state` (at once: readers and cards), `inserted`, `removed`,
        `identity` (the card read after an insertion), `error`, `reader_added`,
        `reader_removed`, `service_lost`, `service_restored`."""
        hub = service.hub
        if len(hub.listeners) >= config.max_listeners:
            raise ReaderBusy("too many event listeners", zh="事件监听者过多")
        listener = hub.subscribe(reveal=not masked)

        async def stream():
            try:
                yield sse(None, "state", await hub.snapshot())
                while not listener.dropped:
                    try:
                        item = await asyncio.wait_for(listener.queue.get(), KEEPALIVE)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield b": keepalive\n\n"
                        continue
                    if item is None:
                        return
                    yield sse(*item)
            finally:
                hub.unsubscribe(listener)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/", include_in_schema=False)
    async def root():
        return RedirectResponse("/kiosk/")

    @app.get("/kiosk/", include_in_schema=False)
    async def kiosk():
        if not config.demo:
            raise StarletteHTTPException(404, "the demo page is off")
        return FileResponse(
            os.path.join(STATIC, "kiosk.html"), headers={"Cache-Control": "no-store"}
        )

    @app.websocket("/")
    async def compat(websocket: WebSocket):
        from sscard.service.compat import serve_connection

        await serve_connection(websocket, service)

    return Guard(
        app,
        hosts=config.host_names(port),
        origins=config.origins | config.self_origins(port),
        max_body=config.max_body,
    ), service
