"""A software social security PSAM: the terminal's security access module, emulated.

It holds root keys (by default the published test roots of test_keys.toml) in key
environments selected by name, and does what a kiosk asks of a PSAM when it reads a
generation-3 card (docs/card-facts.md#psam):

* DELIVERY SESSION KEY `BF DE <usage> <key id> Lc <factors card-level first> ‖ <session
  factor>`: diversify the root key with the factors (province first, so in reverse order),
  then derive the session key from the session factor;
* CIPHER DATA `80 FA 00 00 Lc data`: encrypt with the session key, answered `61xx` and
  fetched with GET RESPONSE (T=0, as PSAMs do);
* READ BINARY of the terminal number (EF 0016 under the MF, also by SFI).

Facts (environment names, key ids and usages, the terminal-number file) come from
apdu_specs/psam.toml; never from the reader's code.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sscard.codec.apdu import CommandApdu
from sscard.crypto import Algorithm, algorithm_from_id, diversify, encrypt_ecb, session_key
from sscard.crypto.key_file import published_roots
from sscard.emulator.card_os import CardOS, SwError, sw_bytes
from sscard.errors import DecodeError, SpecError
from sscard.spec import load_spec
from sscard.spec.loader import Fields, read_toml
from sscard.spec.psam import PsamEnvironment, PsamSpec, usage_levels

PSAM_FILE = Path(__file__).resolve().parent / "psam.toml"
MF_FID = 0x3F00
CLA_DELIVERY = 0xBF
INS_DELIVERY, INS_CIPHER, INS_READ_BINARY, INS_SELECT = 0xDE, 0xFA, 0xB0, 0xA4
SW_OK = sw_bytes(0x9000)
# status words of the emulated PSAM
SW_KEY_NOT_FOUND = 0x9403  # no key with this id in the selected environment
SW_WRONG_USAGE = 0x6985  # the key exists, with another usage (type or levels)
SW_NO_SESSION_KEY = 0x6985  # CIPHER DATA before DELIVERY SESSION KEY


@dataclasses.dataclass(frozen=True)
class PsamProfile:
    """What one PSAM holds; overridable like a persona (e.g. keys=("IRK",))."""

    description: str
    atr: bytes
    terminal_number: str
    t0: bool
    environments: tuple[str, ...]  # keys of apdu_specs/psam.toml environments
    keys: tuple[str, ...]  # key names loaded in every environment that has a root for them

    def __post_init__(self) -> None:
        if not (len(self.terminal_number) == 12 and self.terminal_number.isdigit()):
            raise SpecError("psam: terminal_number must be 12 digits")
        if not 2 <= len(self.atr) <= 33:
            raise SpecError("psam: atr must be 2..33 bytes")


def load_profile(path: str | Path = PSAM_FILE) -> PsamProfile:
    f = Fields(read_toml(path), os.path.basename(str(path)))
    profile = PsamProfile(
        description=f.get("description", str),
        atr=f.hex("atr"),
        terminal_number=f.get("terminal_number", str),
        t0=f.get("t0", bool, True),
        environments=tuple(f.get("environments", list)),
        keys=tuple(f.get("keys", list)),
    )
    f.done()
    return profile


@dataclasses.dataclass
class _Environment:
    spec: PsamEnvironment
    algorithm: Algorithm
    keys: dict[int, tuple[int, bytes]]  # key id -> (usage, root key)


class PsamCard(CardOS):
    """The emulated PSAM; `profile` decides which environments and keys it holds."""

    def __init__(
        self,
        profile: PsamProfile,
        psam_spec: PsamSpec | None = None,
        roots: dict[str, dict[str, bytes]] | None = None,
    ) -> None:
        self.psam_spec = psam_spec or load_spec().psam
        self.profile = profile
        self.atr = profile.atr
        self.environments = self._load_environments(
            roots if roots is not None else published_roots()
        )
        self.terminal_ef = self.psam_spec.terminal_number
        self.terminal_content = self.terminal_ef.codec.encode(profile.terminal_number)
        super().__init__(le_zero="data", t0=profile.t0)
        self.handlers.update(
            {
                INS_SELECT: self.select,
                INS_READ_BINARY: self.read_binary,
                INS_CIPHER: self.cipher_data,
            }
        )

    @classmethod
    def from_file(cls, path: str | Path = PSAM_FILE, **overrides) -> PsamCard:
        profile = load_profile(path)
        if overrides:
            profile = dataclasses.replace(profile, **overrides)
        return cls(profile)

    def _load_environments(self, roots: dict[str, dict[str, bytes]]) -> dict[bytes, _Environment]:
        out = {}
        for env_key in self.profile.environments:
            try:
                env = self.psam_spec.environment(env_key)
            except KeyError:
                raise SpecError(f"psam: unknown environment {env_key!r}") from None
            # the environment's cipher: its first algorithm a public library implements
            usable = [a for a in env.algorithms if algorithm_from_id(a)[0] is not Algorithm.SSF33]
            if not usable:
                raise SpecError(f"psam: environment {env_key!r} has no implementable algorithm")
            code = usable[0]
            keys = {}
            for name in self.profile.keys:
                spec_key = self.psam_spec.keys.get(name)
                if spec_key is None:
                    raise SpecError(f"psam: unknown key {name!r}")
                root = roots.get(name, {}).get(code)
                if root is not None:
                    keys[spec_key.id] = (spec_key.usage, root)
            out[env.name] = _Environment(env, algorithm_from_id(code)[0], keys)
        return out

    # --- volatile state ---------------------------------------------------------------

    def clear_volatile(self) -> None:
        super().clear_volatile()
        self.current: _Environment | None = None  # None = the MF
        self.current_ef = False  # EF 0016 selected (under the MF)
        self.session: bytes | None = None

    # --- dispatch: DELIVERY SESSION KEY has its own class byte (BF) --------------------

    def process(self, raw: bytes) -> bytes:
        if raw[:1] != bytes((CLA_DELIVERY,)):
            return super().process(raw)
        self.check_state()
        self._pending = b""
        try:
            apdu = CommandApdu.parse(raw)
        except DecodeError:
            raise SwError(0x6700) from None
        if apdu.ins != INS_DELIVERY:
            raise SwError(0x6D00)
        return self.delivery_session_key(apdu)

    # --- SELECT, READ BINARY ----------------------------------------------------------

    def select(self, apdu: CommandApdu) -> bytes:
        if apdu.p2 not in (0x00, 0x0C):
            raise SwError(0x6A86)
        if apdu.p1 == 0x04:
            env = self.environments.get(apdu.data)
            if env is None:
                raise SwError(0x6A82)
            self.current, self.current_ef, self.session = env, False, None
            if apdu.p2 == 0x0C:
                return SW_OK
            name = env.spec.name
            return self.respond(apdu, bytes((0x6F, len(name) + 2, 0x84, len(name))) + name)
        if apdu.p1 not in (0x00, 0x02) or len(apdu.data) != 2:
            raise SwError(0x6A86 if apdu.p1 not in (0x00, 0x02) else 0x6700)
        fid = int.from_bytes(apdu.data, "big")
        if apdu.p1 == 0x00 and fid == MF_FID:
            self.current, self.current_ef, self.session = None, False, None
            return SW_OK
        if fid == self.terminal_ef.fid and self.current is None:
            self.current_ef = True
            return SW_OK
        raise SwError(0x6A82)

    def read_binary(self, apdu: CommandApdu) -> bytes:
        if apdu.data or apdu.le is None:
            raise SwError(0x6700)
        if apdu.p1 & 0x80:  # P1 = 100x xxxx: short file identifier, P2 = offset
            if (
                apdu.p1 & 0x60
                or (apdu.p1 & 0x1F) != self.terminal_ef.sfi
                or self.current is not None
            ):
                raise SwError(0x6A82)
            self.current_ef = True
            offset = apdu.p2
        else:
            if not self.current_ef:
                raise SwError(0x6986)  # no current EF
            offset = apdu.p1 << 8 | apdu.p2
        content = self.terminal_content
        if offset >= len(content):
            raise SwError(0x6B00)
        return self.respond(apdu, content[offset : offset + (apdu.le or 256)])

    # --- DELIVERY SESSION KEY, CIPHER DATA ----------------------------------------------

    def delivery_session_key(self, apdu: CommandApdu) -> bytes:
        self.session = None
        env = self.current
        if env is None or apdu.p2 not in env.keys:
            raise SwError(SW_KEY_NOT_FOUND)
        usage, root = env.keys[apdu.p2]
        if apdu.p1 != usage:
            raise SwError(SW_WRONG_USAGE)
        block = env.algorithm.block
        levels = usage_levels(usage)
        if apdu.le is not None or len(apdu.data) != 8 * levels + block:
            raise SwError(0x6700)
        factors = [apdu.data[8 * n : 8 * n + 8] for n in range(levels)]
        key = root
        for factor in reversed(factors):  # sent card-level first; the root meets the province
            key = diversify(env.algorithm, key, factor)
        self.session = session_key(env.algorithm, key, apdu.data[8 * levels :])
        return SW_OK

    def cipher_data(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 or apdu.p2:
            raise SwError(0x6A86)
        if self.session is None or self.current is None:
            raise SwError(SW_NO_SESSION_KEY)
        block = self.current.algorithm.block
        if not apdu.data or len(apdu.data) % block:
            raise SwError(0x6700)
        return self.respond(apdu, encrypt_ecb(self.current.algorithm, self.session, apdu.data))
