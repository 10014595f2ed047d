"""The compatibility WebSocket at `/`: the JSON that deployed kiosk pages send to the
national-interface bridges (ws://127.0.0.1:12342), answered the way those pages expect.

    → {"function": "iReadCardBas", "iType": 3}
    ← {"functionName": "iReadCardBas", "success": "1", "pOutInfo": "<11 fields>|"}
    ← {"functionName": "iReadCardBas", "success": "-2", "pOutInfo": "无卡"}

`success` is "1" or the national negative code as a string.  The HSM two-step read keeps
the card connection of Step 1 for this WebSocket until Step 2, its close, or --hsm-timeout.
Functions that would need a PIN answer -13 (the PIN belongs on a PIN pad, never in a page),
as does every function this service does not offer; malformed messages answer -14.  The
connection stays usable after any error.  Nothing of a message (pKey, pOutInfo) is logged.
"""

from __future__ import annotations

import json
import logging

from starlette.websockets import WebSocketDisconnect

from sscard import errors
from sscard.inputs import parse_json
from sscard.service import problems
from sscard.service.cards import Cards, NationalFailure

log = logging.getLogger("sscard.service")

READ = "iReadCardBas"
STEP1 = "iReadCardBas_HSM_Step1"
STEP2 = "iReadCardBas_HSM_Step2"
STEP2_ALIASES = (STEP2, "ReadCard_HSM_Step2")  # one deployed page sends the latter
BANK_NUMBER = "iReadICCardNum"
NOT_SUPPORTED = (-13, "不支持该功能")
BAD_PARAMETERS = (-14, "命令参数错")
PIN_FUNCTIONS = ("iVerifyPIN", "iChangePIN", "iReloadPIN", "iUnblockPIN")


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        self.code, self.message = code, message


async def serve_connection(websocket, service) -> None:
    if service.websockets >= service.config.max_websockets:
        await websocket.close(code=1013)  # try again later
        return
    service.websockets += 1
    owner = object()  # this connection, as the holder of an HSM Step 1
    state: dict = {"hsm_reader": None}
    try:
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            reply = await _answer(text, service, owner, state)
            await websocket.send_text(json.dumps(reply, ensure_ascii=False))
    except WebSocketDisconnect:
        return
    finally:
        service.websockets -= 1
        service.workers.release_all(owner)  # the card of a pending Step 1 goes back


async def _answer(text: str | None, service, owner: object, state: dict) -> dict:
    name = ""
    try:
        if text is None:
            raise _Refused(*BAD_PARAMETERS)  # binary frames mean nothing here
        try:  # the bounded parser: too deep a nesting is an error, not a RecursionError
            request = parse_json(text, "message")
        except errors.InvalidArgument:
            raise _Refused(*BAD_PARAMETERS) from None
        if not isinstance(request, dict) or not isinstance(request.get("function"), str):
            raise _Refused(*BAD_PARAMETERS)
        name = request["function"][:64]
        out = await _call(name, request, service, owner, state)
        log.info("compat %s: 1", _loggable(name))
        return {
            "functionName": STEP2 if name in STEP2_ALIASES else name,
            "success": "1",
            "pOutInfo": out,
        }
    except _Refused as e:
        code, message = e.code, e.message
    except NationalFailure as e:
        code, message = e.code, e.zh
    except errors.SscardError as e:
        code, message = problems.national_code(e)
    log.info("compat %s: %d", _loggable(name), code)
    return {
        "functionName": STEP2 if name in STEP2_ALIASES else name,
        "success": str(code),
        "pOutInfo": message,
    }


def _loggable(name: str) -> str:
    known = (READ, STEP1, *STEP2_ALIASES, BANK_NUMBER, *PIN_FUNCTIONS)
    return name if name in known else "(other function)"


def _itype(request: dict) -> int:
    value = request.get("iType", 3)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value not in (1, 2, 3, 4):
        raise _Refused(*BAD_PARAMETERS)
    return value


async def _reader_for(request: dict, service) -> str:
    import asyncio

    itype = _itype(request)
    return await asyncio.to_thread(service.cards.choose_by_type, itype)


async def _call(name: str, request: dict, service, owner: object, state: dict) -> str:
    cards: Cards = service.cards
    if name in (READ, BANK_NUMBER):
        _drop_hold(service, owner, state)  # a new read: a pending Step 1 is abandoned
    if name == READ:
        reader = await _reader_for(request, service)
        return await service.run_on_reader(reader, lambda _held: cards.read_card_bas(reader), owner)
    if name == STEP1:
        reader = await _reader_for(request, service)
        if state["hsm_reader"] != reader:  # a new Step 1 elsewhere ends the old
            _drop_hold(service, owner, state)
        state["hsm_reader"] = reader
        return await service.run_on_reader(
            reader, lambda held: cards.hsm_step1(reader, owner, held), owner
        )
    if name in STEP2_ALIASES:
        answer = request.get("pKey", request.get("pkey"))
        if not isinstance(answer, str) or not answer or len(answer) > 1024:
            raise _Refused(*BAD_PARAMETERS)
        reader = state["hsm_reader"]
        if reader is None or service.workers.get(reader).holder is not owner:
            state["hsm_reader"] = None
            raise errors.HsmChallengeLost("no Step 1 is pending on this connection")
        try:
            return await service.run_on_reader(
                reader, lambda held: cards.hsm_step2(held, answer), owner
            )
        finally:
            if service.workers.get(reader).holder is not owner:
                state["hsm_reader"] = None
    if name == BANK_NUMBER and service.config.allow_bank_records:
        reader = await _reader_for(request, service)
        return await service.run_on_reader(
            reader, lambda _held: cards.bank_card_number(reader), owner
        )
    raise _Refused(*NOT_SUPPORTED)


def _drop_hold(service, owner: object, state: dict) -> None:
    """End this connection's Step 1 hold; its later jobs run after the held card is closed."""
    if state["hsm_reader"] is not None:
        service.workers.get(state["hsm_reader"]).release(owner)
        state["hsm_reader"] = None
