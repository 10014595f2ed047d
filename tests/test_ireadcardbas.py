"""The iReadCardBas string and error codes of the national reader interface
(docs/card-facts.md#reader-interface)."""

from __future__ import annotations

import datetime as _dt

import pytest
from helpers import emulator, read

from sscard import errors, ireadcardbas
from sscard.cli.main import run
from sscard.results import Coded
from sscard.ssse.results import CardIdentification, HolderInfo, HolderStatus, Identity, IssuerInfo

# SC-RW §1.1.2's example output, byte for byte
SPEC_EXAMPLE = (
    "639900|111111198101011110|X00000019|639900D15600000500BF7C7A48FB4966|张三|"
    "00814E43238697159900BF7C7A|1.00|20101001|20201001|410100813475|终端设备号|"
)


def test_the_specification_example_is_reproduced():
    cid = "639900D15600000500BF7C7A48FB4966"
    identity = Identity(
        atr="3B6D0000" + "00814E43238697159900BF7C7A",
        historical_bytes="00814E43238697159900BF7C7A",
        layout="ssse",
        algorithm=Coded("01"),
        generation=1,
        issuer=IssuerInfo(
            CardIdentification(cid, cid[:6], cid[6:16], cid[16:24], cid[24:]),
            Coded("3"),
            "1.00",
            None,
            _dt.date(2010, 10, 1),
            _dt.date(2020, 10, 1),
            "X00000019",
            None,
        ),
        holder=HolderInfo(
            "111111198101011110", "张三", "张三", None, Coded("1"), Coded("01"), None, None
        ),
        holder_status=HolderStatus.READ,
        holder_locked_by=None,
    )
    assert (
        ireadcardbas.format_identity(
            identity, terminal_number="410100813475", device_number="终端设备号"
        )
        == SPEC_EXAMPLE
    )


def test_emulated_gen2_card():
    identity, _ = read(emulator("gen2"))
    text = ireadcardbas.format_identity(identity)
    assert text == (
        "110100|110101199003071233|A12345674|110100D1560000051A2B3C4D5E6F7081|测试甲|"
        "0099200110999911010000002A|2.00|20210301|20310301|000000000000||"
    )
    assert text.count("|") == 11 and text.endswith("||")


def test_name_is_name_plus_extension():
    identity, _ = read(emulator("gen2-long-name"))
    assert ireadcardbas.format_identity(identity).split("|")[4] == identity.holder.name
    assert len(identity.holder.name.encode("gbk")) > 30


@pytest.mark.parametrize(
    "error,code",
    [
        (errors.NoCard(), -2),
        (errors.CardRemoved(), -2),
        (errors.CardMute(), -4),
        (errors.NoReader(), -11),
        (errors.ServiceUnavailable(), -11),
        (errors.NotSocialSecurityCard(), -1),
        (errors.WrongPin(2), -51),
        (errors.PinBlocked(), -52),
        (errors.NotFound(sw=0x6A82), -27266),
        (errors.CardBlocked(sw=0x6A81), -27265),
        (errors.ApplicationBlocked(sw=0x9303), -37635),
        (errors.AuthenticationFailed(sw=0x63C2), -25538),
        (errors.DecodeError("x", offset=1), -4),
    ],
)
def test_error_codes(error, code):
    assert ireadcardbas.code_for(error)[0] == code


def test_cli_masks_by_default_and_reports_codes(capsys):
    assert run(["read", "--emulator", "gen2", "--format", "ireadcardbas"]) == 0
    out = capsys.readouterr().out
    assert "110101199003071233" not in out and "测试甲" not in out
    assert out.split("|")[1] == "110***********1233"
    assert run(["read", "--emulator", "gen3", "--format", "ireadcardbas"]) == 7
    assert capsys.readouterr().out == "-2201|无PSAM卡|\n"
    assert run(["read", "--emulator", "ssse-blocked", "--format", "ireadcardbas"]) == 6
    captured = capsys.readouterr()
    assert captured.out == "-37635|应用已被永久锁定|\n" and captured.err.startswith("error: ")
