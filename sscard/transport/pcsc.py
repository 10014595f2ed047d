"""PC/SC readers through pyscard (imported lazily: only this path needs it).

pyscard reports every transmit failure as one CardConnectionException carrying
the PC/SC result code; we map the code to a typed error, so "card removed",
"card in use" and "service gone" read differently to the caller.
"""

from __future__ import annotations

from sscard import errors

# PC/SC result codes (winscard.h) -> (error class, message)
_HRESULTS = {
    0x8010001D: (errors.ServiceUnavailable, None),  # SCARD_E_NO_SERVICE
    0x8010001E: (errors.ServiceUnavailable, None),  # SCARD_E_SERVICE_STOPPED
    0x8010002E: (errors.NoReader, None),  # SCARD_E_NO_READERS_AVAILABLE
    0x80100009: (errors.ReaderGone, None),  # SCARD_E_UNKNOWN_READER
    0x80100017: (errors.ReaderGone, None),  # SCARD_E_READER_UNAVAILABLE
    0x8010000C: (errors.NoCard, None),  # SCARD_E_NO_SMARTCARD
    0x80100069: (errors.CardRemoved, None),  # SCARD_W_REMOVED_CARD
    0x80100068: (errors.CardReset, None),  # SCARD_W_RESET_CARD
    0x8010000B: (errors.CardBusy, "the card is used exclusively by another program "
                                  "(close other card software and try again)"),  # SHARING_VIOLATION
    0x80100066: (errors.CardMute, None),  # SCARD_W_UNRESPONSIVE_CARD
    0x80100067: (errors.CardMute, "the card is not powered"),  # SCARD_W_UNPOWERED_CARD
    0x8010000F: (errors.CardMute, "no common protocol with the card"),  # SCARD_E_PROTO_MISMATCH
    0x80100016: (errors.ReaderGone, "the reader is not ready"),  # SCARD_E_NOT_READY
}


def map_pcsc_error(exc: BaseException) -> errors.SscardError:
    code = getattr(exc, "hresult", None)
    if code is not None:
        code &= 0xFFFFFFFF
    cls, message = _HRESULTS.get(code, (errors.CardError, None))
    if cls is errors.CardError:
        return errors.CardError(f"PC/SC error {code:#010x}" if code is not None else "PC/SC error")
    return cls(message)


def list_readers() -> list[str]:
    """Names of the PC/SC readers (empty when there are none)."""
    try:
        from smartcard.System import readers
    except ImportError:
        raise errors.ServiceUnavailable("pyscard is not installed") from None
    try:
        return [str(r) for r in readers()]
    except Exception as e:  # pyscard raises its own classes with an hresult
        err = map_pcsc_error(e)
        if isinstance(err, errors.NoReader):
            return []
        raise err from None


class PcscTransport:
    def __init__(self, connection, reader: str) -> None:
        self._connection = connection
        self.description = reader
        self._atr = bytes(connection.getATR())

    @classmethod
    def open(cls, choice: str | int | None = None, *, shared: bool = False) -> PcscTransport:
        from smartcard.System import readers
        from smartcard.scard import SCARD_SHARE_EXCLUSIVE, SCARD_SHARE_SHARED
        try:
            available = readers()
        except Exception as e:
            raise map_pcsc_error(e) from None
        if not available:
            raise errors.NoReader()
        mode = SCARD_SHARE_SHARED if shared else SCARD_SHARE_EXCLUSIVE
        candidates = _choose(available, choice)
        last: errors.SscardError = errors.NoCard()
        for reader in candidates:
            connection = reader.createConnection()
            try:
                connection.connect(mode=mode)
                return cls(connection, str(reader))
            except Exception as e:
                last = map_pcsc_error(e)
                _release(connection)
        raise last

    @property
    def atr(self) -> bytes:
        return self._atr

    def transmit(self, apdu: bytes) -> bytes:
        try:
            data, sw1, sw2 = self._connection.transmit(list(apdu))
        except Exception as e:
            raise map_pcsc_error(e) from None
        return bytes(data) + bytes((sw1, sw2))

    def close(self) -> None:
        _release(self._connection)


def _release(connection) -> None:
    for step in ("disconnect", "release"):
        try:
            getattr(connection, step, lambda: None)()
        except Exception:  # closing a connection to a gone card must not mask the real error
            pass


def _choose(available: list, choice: str | int | None) -> list:
    """Readers to try: by index, name substring or ATR; all of them when no choice."""
    names = [str(r) for r in available]
    if choice is None:
        return list(available)
    text = str(choice).strip()
    if text.isdigit() and int(text) < len(available):
        return [available[int(text)]]
    matches = [r for r, n in zip(available, names) if text.lower() in n.lower()]
    if len(matches) == 1:
        return matches
    listing = "; ".join(f"{i}: {n}" for i, n in enumerate(names))
    if not matches:
        raise errors.InvalidArgument(f"no reader matches {text!r} (readers: {listing})")
    raise errors.InvalidArgument(f"{text!r} matches several readers (readers: {listing})")
