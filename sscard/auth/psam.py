"""A PSAM as key source: the terminal's security access module computes the cryptograms.

Kiosks read generation-3 cards with a social security PSAM in a second reader; the card
keys never leave it.  For each cryptogram (docs/card-facts.md#psam):

1. SELECT the PSAM key environment of the card's algorithm (apdu_specs/psam.toml:
   `D15600000590` for DES/SSF33, `sx3.sh.社会保障` for SM4);
2. DELIVERY SESSION KEY `BF DE <usage> <key id>` with the diversification factors, card
   level first (last 8 ATR bytes ‖ city ‖ province, as many as the usage's levels), and the
   session-key factor (the random, padded with zeros to the cipher block);
3. CIPHER DATA `80 FA 00 00` of the original data (padded likewise), fetched with GET
   RESPONSE; for 16-byte blocks the terminal XORs the two halves.

IRK checks the card's INTERNAL AUTHENTICATE answer, RKSSSE gives the EXTERNAL AUTHENTICATE
cryptogram.  Every PSAM failure is a typed `PsamError`, raised before the card command that
needed it, so a missing PSAM or key never costs a card try.  The terminal number
(终端机编号, EF 0016) is read once, when the PSAM is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from sscard import errors
from sscard.auth.keysource import AuthContext
from sscard.crypto import Algorithm, card_factor, city_factor, province_factor
from sscard.session import CardSession, Response
from sscard.spec import Spec
from sscard.spec.psam import PsamKey, PsamSpec
from sscard.transport.base import Transport

EMULATOR = "emulator"  # the CLI's name for the built-in software PSAM
MF = bytes.fromhex("3F00")
KEY_NOT_FOUND = (0x9403, 0x6A88, 0x6A82)  # DELIVERY SESSION KEY: no key with this id
WRONG_USAGE = (0x6985, 0x6A86, 0x6700)  # the key exists with another usage / factor count

T = TypeVar("T")


class PsamKeys:
    """A `KeySource` backed by a PSAM on any transport.  Close it (or use `with`) to release
    the reader.  `key_ids` / `usages` override the PSAM key ids and usage bytes of
    apdu_specs/psam.toml by key name ("IRK", "RKSSSE"); `rk_reference` is the card-side key
    reference of RKSSSE in EXTERNAL AUTHENTICATE."""

    def __init__(
        self,
        transport: Transport,
        *,
        description: str | None = None,
        trace: Callable[[str], None] | None = None,
        key_ids: Mapping[str, int] | None = None,
        usages: Mapping[str, int] | None = None,
        rk_reference: int | None = None,
        spec: Spec | None = None,
        psam_spec: PsamSpec | None = None,
    ) -> None:
        self.transport = transport
        self.reader = getattr(transport, "reader", None)
        self.description = description or f"PSAM in {transport.description}"
        sink = None if trace is None else (lambda line: trace("PSAM " + line))
        self.session = CardSession(transport, spec, sink)
        self.psam_spec = psam_spec or self.session.spec.psam
        self._keys: dict[str, PsamKey] = {}
        for name, key in self.psam_spec.keys.items():
            key = key._replace(
                id=(key_ids or {}).get(name, key.id), usage=(usages or {}).get(name, key.usage)
            )
            if not 1 <= key.levels <= 3:
                raise errors.InvalidArgument(
                    f"the usage of {name} gives {key.levels} diversification levels, not 1..3"
                )
            self._keys[name] = key
        rk = self._keys["RKSSSE"].card_reference
        self.rk_reference = (
            rk_reference if rk_reference is not None else (rk if rk is not None else 0x0A)
        )
        self._environment: bytes | None = None  # name of the selected key environment
        self.terminal_number: str | None = self._operation(self._read_terminal_number)

    def __repr__(self) -> str:
        return f"PsamKeys({self.description!r})"

    # --- KeySource -------------------------------------------------------------------------

    def external_cryptogram(self, card: AuthContext, challenge: bytes, original: bytes) -> bytes:
        return self.cryptogram("RKSSSE", card, challenge, original)

    def internal_expected(self, card: AuthContext, random: bytes, original: bytes) -> bytes:
        return self.cryptogram("IRK", card, random, original)

    def cryptogram(self, key_name: str, card: AuthContext, random: bytes, original: bytes) -> bytes:
        """The 8-byte authentication data of the card key `key_name` (IRK, RKSSSE)."""
        key = self._keys[key_name]
        algorithm = card.algorithm
        if len(original) != 8 or len(random) not in (4, 8, 16) or len(random) > algorithm.block:
            raise errors.InvalidArgument(
                "the random has 4, 8 or 16 bytes (at most one block) and the original data 8"
            )
        factors = (card_factor(card.atr), city_factor(card.region), province_factor(card.region))[
            : key.levels
        ]
        data = b"".join(factors) + bytes(random).ljust(algorithm.block, b"\x00")
        padded_original = bytes(original).ljust(algorithm.block, b"\x00")

        def compute() -> bytes:
            self._select_environment(algorithm)
            response = self.session.send(
                "psam_delivery_session_key", p1=key.usage, p2=key.id, data=data
            )
            if not response.ok:
                raise self._delivery_error(key_name, key, response)
            response = self.session.send("psam_cipher_data", data=padded_original)
            if not response.ok:
                raise errors.PsamError(
                    "the PSAM refused CIPHER DATA", sw=response.sw, zh="PSAM卡拒绝了加密指令"
                )
            if len(response.data) != algorithm.block:
                raise errors.PsamError(
                    f"the PSAM answered CIPHER DATA with "
                    f"{len(response.data)} bytes, not {algorithm.block}",
                    zh="PSAM卡加密结果长度错误",
                )
            block = response.data
            if algorithm.block == 8:
                return block
            # SPEC-P4 §9.3.2
            return bytes(a ^ b for a, b in zip(block[:8], block[8:], strict=False))

        return self._operation(compute)

    # --- the PSAM's commands -----------------------------------------------------------------

    def _select_environment(self, algorithm: Algorithm) -> None:
        env = self.psam_spec.environment_for(algorithm.code)
        if env is None:
            raise errors.PsamAlgorithmUnsupported(
                f"no PSAM key environment is known for algorithm {algorithm.code}"
            )
        if self._environment == env.name:
            return
        self._environment = None
        response = self.session.send("select_by_name", data=env.name, le=0)
        if response.ok:
            self._environment = env.name
            return
        # a social security PSAM without this environment, or no such PSAM at all?
        for other in self.psam_spec.environments:
            if other is not env and self.session.send("select_by_name", data=other.name, le=0).ok:
                self._environment = other.name
                raise errors.PsamAlgorithmUnsupported(
                    f"the PSAM has no keys for algorithm {algorithm.code} ({env.en})",
                    sw=response.sw,
                )
        raise errors.PsamMissing(
            f"the card in {self.transport.description} is not a social "
            "security PSAM (no key environment)",
            sw=response.sw,
            zh="PSAM读卡器中不是社会保障PSAM卡",
        )

    def _delivery_error(self, name: str, key: PsamKey, response: Response) -> errors.PsamError:
        if response.sw in KEY_NOT_FOUND:
            return errors.PsamKeyMissing(
                name, f"the PSAM does not hold {name} (key id {key.id:02X})", sw=response.sw
            )
        if response.sw in WRONG_USAGE:
            return errors.PsamKeyUsage(
                f"the PSAM's {name} (key id {key.id:02X}) is not a "
                f"key of usage {key.usage:02X} ({key.levels} "
                "diversification levels)",
                sw=response.sw,
            )
        return errors.PsamError(
            "the PSAM refused DELIVERY SESSION KEY", sw=response.sw, zh="PSAM卡拒绝了分散密钥指令"
        )

    def _read_terminal_number(self) -> str | None:
        """EF 0016 under the MF, by SFI; None when the PSAM has none readable."""
        self._environment = None
        self.session.send("select_by_fid", data=MF)  # the file lives under the MF
        ef = self.psam_spec.terminal_number
        length = ef.codec.length
        response = self.session.send("read_binary", p1=0x80 | ef.sfi, p2=0x00, le=length)
        if not response.ok or len(response.data) != length:
            return None
        try:
            number = ef.codec.decode(response.data)
        except errors.DecodeError:
            return None
        return number if isinstance(number, str) and number else None

    def _operation(self, fn: Callable[[], T]) -> T:
        """One PSAM transaction.  The PSAM spends nothing, so after a reset by another
        program the operation is run once more from a fresh selection."""
        for attempt in (1, 2):
            try:
                with self.transport.transaction():
                    return fn()
            except errors.CardReset:
                self._environment = None
                if attempt == 2:
                    raise errors.PsamError(
                        "the PSAM was reset twice during one operation",
                        zh="PSAM卡在操作中被多次复位",
                    ) from None
                self._recover()
            except (errors.NoCard, errors.CardRemoved, errors.ReaderGone):
                raise errors.PsamMissing(
                    f"the PSAM was removed from {self.transport.description}", zh="PSAM卡已被移除"
                ) from None
            except errors.CardMute:
                raise errors.PsamError("the PSAM does not answer", zh="PSAM卡无应答") from None
            except errors.ProtocolError as e:
                raise errors.PsamError(
                    f"malformed answer from the PSAM: {e.message}", zh="PSAM卡应答格式错误"
                ) from None
        raise AssertionError("unreachable")

    def _recover(self) -> None:
        try:
            self.transport.recover_from_reset()
        except (errors.CardRemoved, errors.NoCard):
            raise errors.PsamMissing(
                "the PSAM was replaced or removed", zh="PSAM卡已被更换或移除"
            ) from None

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> PsamKeys:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_psam(reader: str | int, *, shared: bool = False, trace=None, **options) -> PsamKeys:
    """The PSAM in a PC/SC reader (index, part of its name, or ATR prefix), as a key source.
    `options`: see PsamKeys (key_ids, usages, rk_reference)."""
    from sscard.transport.pcsc import PcscTransport

    if reader is None or str(reader).strip() == "":
        raise errors.InvalidArgument("name the PSAM's reader (index, part of its name or ATR)")
    try:
        transport = PcscTransport.open(reader, shared=shared)
    except errors.NoCard:
        raise errors.PsamMissing(f"no PSAM in the reader {reader!r}") from None
    except errors.CardMute:
        raise errors.PsamMissing(f"the card in the reader {reader!r} does not answer") from None
    return _keys_or_close(transport, trace, options)


def open_psam_emulator(*, trace=None, **options) -> PsamKeys:
    """The built-in software PSAM (published TEST root keys), in process."""
    from sscard.emulator.psam_card import PsamCard
    from sscard.transport.emulated import EmulatorTransport

    transport = EmulatorTransport(PsamCard.from_file(), "emulator: psam")
    return _keys_or_close(transport, trace, options)


def _keys_or_close(transport: Transport, trace, options) -> PsamKeys:
    try:
        return PsamKeys(transport, trace=trace, **options)
    except BaseException:
        transport.close()
        raise


def is_psam(session) -> bool:
    """Whether the card answers as a social security PSAM: SELECT of one of its key
    environments (apdu_specs/psam.toml) succeeds.  For a card that is not a social security
    card only: a user card never holds these names."""
    return any(
        session.send("select_by_name", data=env.name, le=0).ok
        for env in session.spec.psam.environments
    )


def user_card(transport) -> bool:
    """For a default reader choice among several cards: False for a PSAM (the terminal's
    security module), which is never the card to read.  One SELECT on a social security
    card, which the read repeats; the PSAM names only for a card that is not one."""
    from sscard.session import CardSession
    from sscard.ssse.select import Probe, probe

    session = CardSession(transport)
    return probe(session) is not Probe.NO or not is_psam(session)
