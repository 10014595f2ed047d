"""sscard: read the PRC social security card (社会保障卡).

    import sscard
    with sscard.open_emulator("gen2") as card:      # or sscard.open() for a PC/SC reader
        identity = card.read_identity()
        print(identity.issuer.card_number, identity.holder_status)

Every failure is a subclass of `sscard.SscardError` (see `sscard.errors`).
Names are imported lazily so that `import sscard` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "Card": "sscard.card",
    "CardSession": "sscard.session",
    "Identity": "sscard.ssse.results",
    "IssuerInfo": "sscard.ssse.results",
    "HolderInfo": "sscard.ssse.results",
    "HolderStatus": "sscard.ssse.results",
    "Finding": "sscard.results",
    "Coded": "sscard.results",
    "CardIdentification": "sscard.ssse.results",
    "SscardError": "sscard.errors",
    "errors": "sscard.errors",
    "load_spec": "sscard.spec",
    "list_readers": "sscard.transport.pcsc",
    "ReaderState": "sscard.transport.pcsc",
    "CardWatcher": "sscard.transport.watch",
    "CardEvent": "sscard.transport.watch",
    "HsmStep1": "sscard.auth.hsm",
    "HsmAnswer": "sscard.auth.hsm",
    "open_psam": "sscard.auth.psam",
    "open_psam_emulator": "sscard.auth.psam",
    "PsamKeys": "sscard.auth.psam",
    "Status": "sscard.status",
    "BankReading": "sscard.bank.results",
    "AppState": "sscard.results",
}

if TYPE_CHECKING:  # pragma: no cover  (the lazy names, for type checkers)
    from sscard import errors  # noqa: F401
    from sscard.auth.hsm import HsmAnswer, HsmStep1  # noqa: F401
    from sscard.auth.psam import PsamKeys, open_psam, open_psam_emulator  # noqa: F401
    from sscard.bank.results import BankReading  # noqa: F401
    from sscard.card import Card
    from sscard.errors import SscardError  # noqa: F401
    from sscard.results import AppState, Coded, Finding  # noqa: F401
    from sscard.session import CardSession  # noqa: F401
    from sscard.spec import load_spec  # noqa: F401
    from sscard.ssse.results import (  # noqa: F401
        CardIdentification,
        HolderInfo,
        HolderStatus,
        Identity,
        IssuerInfo,
    )
    from sscard.status import Status  # noqa: F401
    from sscard.transport.base import Transport
    from sscard.transport.pcsc import ReaderState, list_readers  # noqa: F401
    from sscard.transport.watch import CardEvent, CardWatcher  # noqa: F401


def open(
    reader: str | int | None = None,
    *,
    wait: float | None = None,
    shared: bool = False,
    trace: Callable[[str], None] | None = None,
    timeout: float | None = None,
    ignore: Iterable[str] = (),
    exclude: Collection[str] = (),
    record: bool = False,
) -> Card:
    """Connect to the card in a PC/SC reader and return a `Card` (a context manager).

    reader  index, name substring or ATR prefix (hex); default: the first reader holding a card
    wait    seconds to wait for a card to be inserted (float('inf'): for ever; default: no wait)
    shared  share the card with other programs (default: exclusive access)
    trace   callable receiving redacted APDU trace lines
    timeout seconds one operation on the card may take (default sscard.budget.DEFAULT_TIMEOUT,
            20 s); a card that does not answer in time raises sscard.errors.CardMute
    ignore  name parts of readers to pass over when choosing by default (a PSAM's slot, …)
    exclude full names of readers never to use, whatever the choice (a PSAM's reader in use)
    record  keep every exchange: card.transport.save(path) then writes them as a replayable
            trace (sscard.transport.recording; PINs and keys are never kept)

    Choosing by default, a card that answers as a social security PSAM is passed over
    (a kiosk's PSAM slot is a reader too); a PSAM alone is "no card" (NoCard).

    With `wait`, the PC/SC service and the reader may also appear meanwhile.
    """
    from sscard.card import Card
    from sscard.session import check_timeout
    from sscard.transport.pcsc import PcscTransport

    timeout = check_timeout(timeout)  # before the reader is taken
    transport = PcscTransport.open(
        reader, shared=shared, wait=wait, ignore=ignore, wanted=_user_card, exclude=exclude
    )
    return Card(_recording(transport) if record else transport, trace=trace, timeout=timeout)


def _user_card(transport) -> bool:
    """sscard.auth.psam.user_card, imported only when asked: several cards are present."""
    from sscard.auth.psam import user_card

    return user_card(transport)


def open_emulator(
    persona: str = "gen2",
    *,
    trace: Callable[[str], None] | None = None,
    timeout: float | None = None,
    record: bool = False,
    **options: object,
) -> Card:
    """Connect to a built-in emulated card (a persona name or a persona TOML path); `trace`,
    `timeout` and `record` as for open()."""
    from sscard.card import Card
    from sscard.transport.emulated import EmulatorTransport

    transport = EmulatorTransport.from_persona(persona, **options)
    return Card(_recording(transport) if record else transport, trace=trace, timeout=timeout)


def _recording(transport: Transport) -> Transport:
    from sscard.transport.recording import RecordingTransport

    return RecordingTransport(transport)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sscard' has no attribute {name!r}")
    mod = import_module(module)
    return mod if name == "errors" else getattr(mod, name)


__all__ = ["open", "open_emulator", "__version__", *_EXPORTS]
