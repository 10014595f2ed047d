"""Card text that a terminal could act on (escape sequences, DEL, C1, bidi overrides) never
reaches any output: every text decoder applies one rule (sscard.codec.text) and rejects it,
so human, JSON and iReadCardBas output, masked or revealed, never carry it."""

from __future__ import annotations

import json

import pytest
from helpers import PERSONA_DIR

from sscard import errors
from sscard.cli.main import run
from sscard.codec import fields, text
from sscard.codec import pboc_formats as fmt
from sscard.errors import ExitCode
from sscard.spec import load_spec
from sscard.transport.emulated import EmulatorTransport

UNSAFE = [
    "\x1b",
    "\x07",
    "\x00",
    "\x08",
    "\r",
    "\n",
    "\t",
    "\x7f",
    "\x85",
    "\x9b",
    "\u202e",
    "\u202d",
    "\u2066",
    "\u2069",
    "\u200f",
    "\u200e",
    "\u061c",
    "\u200b",
    "\u00ad",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\ue000",
    "\U000e0001",
]


@pytest.mark.parametrize("char", UNSAFE, ids=lambda c: f"U+{ord(c):04X}")
def test_the_rule_rejects_controls_formats_and_separators(char):
    for sample in (char, f"张三{char}", f"AB{char}CD"):
        assert text.unsafe_index(sample) == sample.index(char)
    with pytest.raises(errors.DecodeError) as info:
        text.check_text(f"张{char}", "utf-8", base=10)
    assert info.value.offset == 13  # the byte offset of the character, not its index


@pytest.mark.parametrize("sample", ["张三", "ZHANG SAN", "阿卜杜·热合曼", "王\u3000五", "3.00", ""])
def test_the_rule_keeps_ordinary_text(sample):
    assert text.unsafe_index(sample) is None and text.check_text(sample, "gbk") == sample


# every byte a terminal acts on that GBK or ASCII can carry
C0_AND_DEL = [b for b in range(0x01, 0x20)] + [0x7F]


@pytest.mark.parametrize("byte", C0_AND_DEL, ids=lambda b: f"{b:02X}")
def test_every_text_decoder_applies_the_rule(byte):
    raw = b"AB" + bytes((byte,)) + b"CD"
    gbk = "测".encode("gbk") + bytes((byte,))
    decoders = [
        lambda: fields.decode_an(raw, "ascii", base=5),
        lambda: fields.decode_an(raw, "gbk", base=5),
        lambda: fmt.decode("ans", raw, base=5),
        lambda: fmt.decode("an", raw, base=5),
        lambda: fmt.decode("text", raw, base=5),
    ]
    for decode in decoders:
        with pytest.raises(errors.DecodeError) as info:
            decode()
        assert info.value.offset == 7
    for decode in (lambda: fields.decode_an(gbk, "gbk"), lambda: fmt.decode("text", gbk)):
        with pytest.raises(errors.DecodeError) as info:
            decode()
        assert info.value.offset == 2


@pytest.mark.parametrize("tag", [0x5F20, 0x9F0B, 0x9F12, 0x50, 0x9F4E], ids=lambda t: f"{t:X}")
def test_pboc_text_objects_reject_escape_and_del(tag):
    pboc = load_spec().pboc
    shortest = pboc.tag(tag).min_length  # padded to it: refused for the character, not the length
    for bad in (b"\x1b]0;owned\x07", b"\x1b[2J", b"SHOP\x7f", b"\x1b"):
        with pytest.raises(
            errors.DecodeError, match=r"control or formatting character U\+00(1B|7F)"
        ):
            pboc.decode(tag, bad.ljust(shortest, b"A"))


# --- whole reads: a card whose bank texts carry escape sequences ------------------------------

GEN3 = (PERSONA_DIR / "gen3.toml").read_text(encoding="utf-8").split("\n[bank", 1)[0] + "\n"
# placeholders of the same length as the hostile bytes that replace them on the wire
NAME, HOSTILE_NAME = "ZHANG/SANFENG", b"\x1b[2J\x1b]0;X\x07\x7fSA"
PREFERRED, HOSTILE_PREFERRED = "UNIONPAYDEBIT", b"\x1b[1A\x1b[2KPAN:1"
MERCHANT, HOSTILE_MERCHANT = "SHOPSHOPSHOPS", b"SHOP\x1b[31mRED\x7f"
BANK = f"""
[bank]
pan = "6212340000000000012"
expiry_date = 2031-03-01
effective_date = 2021-03-01
cardholder_name = "{NAME}"
preferred_name = "{PREFERRED}"
id_number = "510104200001310287"
id_type = "00"
atc = 3
last_online_atc = 1
[[bank.transaction_log]]
transaction_date = 2026-11-30
transaction_time = 14:30:15
amount = 1000
transaction_currency = "0156"
merchant_name = "{MERCHANT}"
transaction_type = "00"
atc = 3
"""
SWAPS = [
    (NAME.encode(), HOSTILE_NAME),
    (PREFERRED.encode(), HOSTILE_PREFERRED),
    (MERCHANT.encode(), HOSTILE_MERCHANT),
]


@pytest.fixture
def hostile_bank(tmp_path, monkeypatch):
    for placeholder, hostile in SWAPS:
        assert len(placeholder) == len(hostile)
    path = tmp_path / "hostile-bank.toml"
    path.write_text(GEN3 + BANK, encoding="utf-8")
    plain = EmulatorTransport.transmit

    def transmit(self, apdu):
        response = plain(self, apdu)
        for placeholder, hostile in SWAPS:
            response = response.replace(placeholder, hostile)
        return response

    monkeypatch.setattr(EmulatorTransport, "transmit", transmit)
    return str(path)


@pytest.mark.parametrize("reveal", [False, True], ids=["masked", "reveal"])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_status_never_prints_card_control_characters(hostile_bank, capsys, reveal, as_json):
    argv = ["status", "--emulator", hostile_bank, "--bank-records"]
    code = run(argv + (["--reveal"] if reveal else []) + (["--json"] if as_json else []))
    out, err = capsys.readouterr()
    for stream in (out, err):
        assert "\x1b" not in stream and "\x7f" not in stream and "\x07" not in stream
        assert "\\u001b" not in stream.lower() and "\\u007f" not in stream.lower()
    # the card answered malformed text: a card fault (9), said in one line
    assert code == ExitCode.COMMUNICATION, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_merchant_name_with_controls_is_a_finding_not_a_transaction(
    tmp_path, monkeypatch, capsys
):
    """The log is read entry by entry: a bad entry is reported and left out, the rest stays."""
    path = tmp_path / "hostile-log.toml"
    path.write_text(GEN3 + BANK, encoding="utf-8")
    plain = EmulatorTransport.transmit
    monkeypatch.setattr(
        EmulatorTransport,
        "transmit",
        lambda self, apdu: plain(self, apdu).replace(MERCHANT.encode(), HOSTILE_MERCHANT),
    )
    for reveal in ([], ["--reveal"]):
        code = run(["status", "--emulator", str(path), "--json", "--logs"] + reveal)
        out, err = capsys.readouterr()
        assert "\x1b" not in out + err and "\\u001b" not in out.lower()
        doc = json.loads(out)
        assert doc["bank"]["log"]["transactions"] == []
        assert any(
            f["code"] == "bank_log_mismatch" and "U+001B" in f["en"] for f in doc["findings"]
        ), doc["findings"]
        assert code in (ExitCode.OK, ExitCode.EXPIRED)
