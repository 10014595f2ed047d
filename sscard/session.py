"""A card session: spec-driven commands over a transport.

The one place where T=0 style chaining is handled: `61xx` is followed by GET
RESPONSE and `6Cxx` by one re-send with the Le the card asked for, both bounded,
so a card that keeps asking cannot loop us forever.  Status words are mapped to
typed errors from the table in apdu_specs/status_words.toml.

Every APDU is sent under a deadline and, inside an `operation`, a budget (sscard.budget):
a card that stops answering ends in `CardMute`, one that makes the operation cost more
APDUs or bytes than a real card can in `BudgetExceeded`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

from sscard import errors
from sscard.budget import DEFAULT_TIMEOUT, Budget
from sscard.codec.apdu import CommandApdu, split_response
from sscard.spec import Spec, load_spec
from sscard.spec.model import StatusWord
from sscard.trace import Tracer
from sscard.transport.base import Transport

MAX_EXCHANGES = 16  # per logical command: the command, re-sends and GET RESPONSEs
MAX_RESPONSE = 4096  # bytes accumulated through GET RESPONSE


class Response(NamedTuple):
    data: bytes
    sw: int
    status: StatusWord | None  # None: the spec does not know this SW

    @property
    def ok(self) -> bool:
        return (
            self.status is not None
            and self.status.category in ("ok", "warning")
            and not self.status.error
        )

    @property
    def tries_left(self) -> int | None:
        return self.status.tries_left(self.sw) if self.status else None


class CardSession:
    def __init__(
        self,
        transport: Transport,
        spec: Spec | None = None,
        trace: Callable[[str], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.transport = transport
        self.spec = spec or load_spec()
        self.tracer = Tracer(self.spec, trace) if trace else None
        self.timeout = check_timeout(timeout)
        self.apdu_count = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        # READ RECORD of a whole file by SFI (P1 to last): False once this card refused it,
        # so it is tried at most once per card (sscard.ssse.reader)
        self.record_ranges = True
        self._deadline: float | None = None  # of the running operation (monotonic)
        self._budget: Budget | None = None
        self._spent = (0, 0)  # APDUs and bytes received when the operation began

    @contextlib.contextmanager
    def operation(self, budget: Budget | None = None) -> Iterator[None]:
        """One logical operation: `timeout` seconds and `budget` for everything it sends.
        Outside an operation every APDU has its own deadline of `timeout` seconds."""
        self._deadline = time.monotonic() + self.timeout
        self._budget = budget
        self._spent = (self.apdu_count, self.bytes_received)
        try:
            yield
        finally:
            self._deadline = self._budget = None

    @property
    def atr(self) -> bytes:
        return self.transport.atr

    def send(
        self,
        name: str,
        *,
        p1: int | None = None,
        p2: int | None = None,
        sfi: int = 0,
        data: bytes = b"",
        le: int | None = None,
        resend: bool = True,
    ) -> Response:
        """Send the spec command `name`; returns the final response, never raises for an SW.
        `resend=False`: a 6Cxx is returned as the answer instead of re-sending with its Le."""
        command = self.spec.commands[name]
        apdu = command.build(p1=p1, p2=p2, sfi=sfi, data=data, le=le)
        # a command that changes the card or spends a try is sent once: a 6Cxx to it may
        # come after the card acted (GPO: ATC + 1), so it is an answer, not a request to re-send
        return self._exchange(
            apdu, resend=resend and not (command.changes_card or command.spends_try)
        )

    def check(self, response: Response, command: str) -> bytes:
        """Data of a successful response; otherwise the typed error for its SW."""
        if response.ok:
            return response.data
        raise self.error_for(response, command)

    def error_for(self, response: Response, command: str) -> errors.CommandError:
        status = response.status
        if status is None:
            return errors.UnknownStatus(sw=response.sw, command=command)
        cls = errors.error_class(status.error) if status.error else errors.CommandError
        return cls(
            status.en, zh=status.zh, sw=response.sw, command=command, tries_left=response.tries_left
        )

    # -- the bounded GET RESPONSE / re-send engine ----------------------------------------

    def _exchange(self, apdu: CommandApdu, resend: bool = True) -> Response:
        collected = b""
        resent = not resend
        for _ in range(MAX_EXCHANGES):
            data, sw = split_response(self._transmit(apdu.to_bytes()))
            sw1, sw2 = sw >> 8, sw & 0xFF
            if sw1 == 0x61:
                collected += data
                if len(collected) > MAX_RESPONSE:
                    break
                apdu = self.spec.commands["get_response"].build(le=sw2)
                continue
            if sw1 == 0x6C and apdu.le is not None and not resent:
                # the card names the right Le: ask once more with exactly that
                resent = True
                apdu = CommandApdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data, sw2)
                continue
            collected += data
            if len(collected) > MAX_RESPONSE:
                break
            return Response(collected, sw, self.spec.status_words.lookup(sw))
        raise errors.ChainTooLong(
            f"the card asked for more than {MAX_EXCHANGES} exchanges or "
            f"{MAX_RESPONSE} bytes for one command"
        )

    def _transmit(self, apdu: bytes) -> bytes:
        budget = self._budget
        if budget is not None and self.apdu_count - self._spent[0] >= budget.apdus:
            raise errors.BudgetExceeded(
                f"the card made one operation on {budget.what} take more than {budget.apdus} "
                f"APDUs, the most a real card needs ({budget.commands} commands of at most 3 "
                "exchanges each)",
                zh=f"卡片使操作超过真实卡片最多所需的 {budget.apdus} 条指令",
            )
        deadline = self._deadline or time.monotonic() + self.timeout
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._mute()
        if self.tracer:
            self.tracer.command(apdu)
        within = getattr(self.transport, "transmit_within", None)  # transports that can hang
        try:
            response = within(apdu, remaining) if within else self.transport.transmit(apdu)
        except TimeoutError:
            raise self._mute() from None
        self.apdu_count += 1
        self.bytes_sent += len(apdu)
        self.bytes_received += len(response)
        if budget is not None and self.bytes_received - self._spent[1] > budget.bytes:
            raise errors.BudgetExceeded(
                f"the card sent more than {budget.bytes} bytes in one operation on {budget.what}, "
                f"the most a real card needs ({budget.commands} answers of at most 256 bytes)",
                zh=f"卡片使操作超过真实卡片最多所需的 {budget.bytes} 字节",
            )
        if self.tracer:
            self.tracer.response(apdu, response)
        return response

    def _mute(self) -> errors.CardMute:
        seconds = f"{self.timeout:g}"
        if self._deadline is None:
            return errors.CardMute(
                f"the card did not answer within {seconds} s", zh=f"卡片在 {seconds} 秒内无应答"
            )
        return errors.CardMute(
            f"the card did not complete the operation within {seconds} s "
            "(the deadline of one operation)",
            zh=f"卡片未在 {seconds} 秒内完成操作",
        )


def check_timeout(timeout: float | None) -> float:
    """The deadline of one operation in seconds: `timeout`, or DEFAULT_TIMEOUT for None."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout < float("inf")
    ):
        raise errors.InvalidArgument(
            "the timeout must be a positive number of seconds", zh="超时时间应为正数（秒）"
        )
    return float(timeout)
