"""Canary values planted in a card, a PIN and a key file must appear nowhere they should not.

Every output channel is searched: standard output (masked unless --reveal), standard error
(errors, the -d APDU trace and the library's log records), --record files and exception
text.  Each test also has a positive control, so that it fails if the canary never reached
the code under test (a privacy test that cannot fail proves nothing).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import logging

import pytest
from helpers import persona_toml

from sscard import errors, privacy
from sscard.cli.main import run
from sscard.codec.card_number import check_character
from sscard.codec.gb11643 import make_id_number

CANARY_NAME = "鹦鹉螺号"
CANARY_BIRTH = _dt.date(1988, 4, 5)
CANARY_ID = make_id_number("110101", CANARY_BIRTH, "913")
CANARY_CARD_NUMBER = "Q7391528" + check_character("Q7391528")
CANARY_PIN = "480317"
WRONG_PIN = "615293"
CANARY_KEY = "5A17C0DE9BADF00D13572468ACE0BDF1"
CANARY_BANK_NAME = "NAUTILUS/CANARY"


def _luhn(body: str) -> str:
    total = 0
    for i, digit in enumerate(reversed(body)):
        d = int(digit) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


CANARY_PAN = _luhn("621234987654321")


def _toml_value(value) -> str:
    if isinstance(value, _dt.date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False)


def write_canary_persona(path, base: str = "gen2") -> str:
    """The `base` persona with canary holder data, card number and PIN, as a TOML file."""
    doc = persona_toml(base)
    doc["ef05"]["card_number"] = CANARY_CARD_NUMBER
    doc["ef06"].update(
        social_security_number=CANARY_ID,
        name=CANARY_NAME,
        birth_date=CANARY_BIRTH,
        birthplace="110101",
        sex="1",
    )
    doc["pin"] = {"value": CANARY_PIN, "tries_left": 3, "max_tries": 3}
    if "bank" in doc:
        doc["bank"].update(pan=CANARY_PAN, id_number=CANARY_ID, cardholder_name=CANARY_BANK_NAME)
    lines = []
    for key, value in doc.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {_toml_value(value)}")
    for section, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines.extend(f'"{k}" = {_toml_value(v)}' for k, v in table.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def personal_canaries() -> list[str]:
    return [
        CANARY_ID,
        CANARY_NAME,
        CANARY_CARD_NUMBER,
        CANARY_BIRTH.isoformat(),
        CANARY_BIRTH.strftime("%Y%m%d"),
        CANARY_NAME.encode("gbk").hex().upper(),
        CANARY_PAN,
        CANARY_PAN[6:-4],
        CANARY_BANK_NAME,
        CANARY_BANK_NAME.encode().hex(),
    ]


def secret_canaries() -> list[str]:
    return [CANARY_PIN, WRONG_PIN, CANARY_KEY, CANARY_KEY.lower()]


def found_in(text: str, canaries: list[str]) -> list[str]:
    upper = text.upper()
    return [c for c in canaries if c.upper() in upper]


@pytest.fixture
def sscard_logs():
    """Everything the library logs, at every level."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("sscard")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.mark.parametrize("output", ["text", "json", "ireadcardbas"])
def test_masked_read_shows_no_canary_anywhere(tmp_path, capsys, sscard_logs, output):
    persona = write_canary_persona(tmp_path / "canary.toml")
    record = tmp_path / "trace.json"
    code = run(["read", "--emulator", persona, "--format", output, "-d", "--record", str(record)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (
        found_in(out + err + sscard_logs.getvalue(), personal_canaries() + secret_canaries()) == []
    )
    assert found_in(record.read_text(), secret_canaries()) == []
    # positive control: the canary card was read, and --reveal shows its data on stdout only
    assert CANARY_ID[:3] in out and "> 00B2" in err
    code = run(["read", "--emulator", persona, "--format", output, "--reveal", "-d"])
    out, err = capsys.readouterr()
    assert code == 0
    assert CANARY_ID in out and CANARY_NAME in out
    assert found_in(err + sscard_logs.getvalue(), personal_canaries() + secret_canaries()) == []


def test_pin_never_leaves_the_card_exchange(tmp_path, capsys, monkeypatch, sscard_logs):
    persona = write_canary_persona(tmp_path / "canary.toml")
    record = tmp_path / "verify.json"
    monkeypatch.setattr("sys.stdin", io.StringIO(WRONG_PIN + "\n"))
    code = run(["pin", "verify", "--emulator", persona, "--pin-stdin", "-d"])
    out, err = capsys.readouterr()
    assert code == errors.ExitCode.WRONG_PIN and "2" in err  # positive control: it was sent
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{CANARY_PIN}\n{WRONG_PIN}\n{WRONG_PIN}\n"))
    code = run(["pin", "change", "--emulator", persona, "--pin-stdin", "-d"])
    out2, err2 = capsys.readouterr()
    assert code == 0, err2
    monkeypatch.setattr("sys.stdin", io.StringIO(CANARY_PIN + "\n"))
    code = run(["read", "--emulator", persona, "--record", str(record)])
    capsys.readouterr()
    everything = out + err + out2 + err2 + sscard_logs.getvalue() + record.read_text()
    assert found_in(everything, secret_canaries()) == []


def test_pin_typed_on_the_command_line_is_not_echoed(tmp_path, capsys):
    persona = write_canary_persona(tmp_path / "canary.toml")
    code = run(["pin", "verify", "--emulator", persona, CANARY_PIN])
    out, err = capsys.readouterr()
    assert code == errors.ExitCode.USAGE and "error:" in err
    assert found_in(out + err, secret_canaries()) == []


def test_library_pin_errors_carry_no_pin(tmp_path):
    import sscard

    persona = write_canary_persona(tmp_path / "canary.toml")
    with sscard.open_emulator(persona) as card:
        with pytest.raises(errors.WrongPin) as info:
            card.verify_pin(WRONG_PIN)
    assert info.value.tries_left == 2
    text = f"{info.value} {info.value.bilingual()} {info.value!r} {info.value.args}"
    assert found_in(text, secret_canaries()) == []


def test_keys_never_appear_even_when_they_fail(tmp_path, capsys, sscard_logs):
    persona = write_canary_persona(tmp_path / "canary3.toml", base="gen3")
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[keys.RKSSSE]\n"03" = "{CANARY_KEY}"\n[keys.IRK]\n"03" = "{CANARY_KEY}"\n')
    record = tmp_path / "auth.json"
    code = run(
        [
            "read",
            "--emulator",
            persona,
            "--keys",
            str(keys),
            "--json",
            "-d",
            "--record",
            str(record),
        ]
    )
    out, err = capsys.readouterr()
    assert json.loads(out)["card"]["authentic"] == "no"  # positive control: the key was used
    assert code == errors.ExitCode.LOCKED
    everything = out + err + sscard_logs.getvalue() + record.read_text()
    assert found_in(everything, secret_canaries() + personal_canaries()) == []
    # a malformed key file names neither the key nor its bytes
    keys.write_text(f'[keys.RKSSSE]\n"03" = "{CANARY_KEY}00"\n')
    code = run(["read", "--emulator", persona, "--keys", str(keys)])
    out, err = capsys.readouterr()
    assert code == errors.ExitCode.USAGE and err.startswith("error:")
    assert found_in(out + err, secret_canaries()) == []


# --- card references in logs -------------------------------------------------------------


def test_card_reference_is_keyed_stable_and_reveals_nothing(monkeypatch):
    cid, atr = "110100D1560000051A2B3C4D5E6F7081", bytes.fromhex("3B6D0000009920011099991101")
    monkeypatch.setenv(privacy.ENV_KEY, "site key one")
    first = privacy.card_ref(cid, atr)
    assert first == privacy.card_ref(cid.lower(), atr.hex())  # same card, same reference
    assert first.startswith("card:") and len(first) == len("card:") + privacy.REF_HEX_CHARS
    assert first != privacy.card_ref("110100D1560000051A2B3C4D5E6F7082", atr)
    assert found_in(first, [cid[:8], cid[-8:], atr.hex()[-8:]]) == []
    monkeypatch.setenv(privacy.ENV_KEY, "site key two")
    assert privacy.card_ref(cid, atr) != first  # without the key, references cannot be matched
    monkeypatch.delenv(privacy.ENV_KEY)
    assert privacy.card_ref(cid, atr) == privacy.card_ref(cid, atr) != first


def test_library_log_names_the_card_by_reference_only(tmp_path, sscard_logs, monkeypatch):
    import sscard

    monkeypatch.setenv(privacy.ENV_KEY, "test site")
    persona = write_canary_persona(tmp_path / "canary.toml")
    with sscard.open_emulator(persona) as card:
        identity = card.read_identity()
        with pytest.raises(errors.WrongPin, match="2 tries left"):
            card.verify_pin(WRONG_PIN)
    text = sscard_logs.getvalue()
    assert privacy.identity_ref(identity) in text and "identity read" in text
    assert "WrongPin" in text  # failures are logged too, by class and neutral message
    assert (
        found_in(
            text,
            personal_canaries()
            + secret_canaries()
            + [identity.atr, identity.issuer.card_identification.hex],
        )
        == []
    )


@pytest.mark.parametrize("output", ["text", "json"])
def test_status_with_bank_records_shows_no_canary_unless_revealed(
    tmp_path, capsys, sscard_logs, output
):
    persona = write_canary_persona(tmp_path / "canary.toml")
    record = tmp_path / "status.json"
    as_json = ["--json"] if output == "json" else []
    code = run(
        ["status", "--emulator", persona, "--bank-records", "-d", "--record", str(record), *as_json]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (
        found_in(out + err + sscard_logs.getvalue(), personal_canaries() + secret_canaries()) == []
    )
    assert found_in(record.read_text(), secret_canaries()) == []
    assert "80A80000" in err  # positive control: the GPO was sent and the records read
    code = run(["status", "--emulator", persona, "--bank-records", "--reveal", "-d", *as_json])
    out, err = capsys.readouterr()
    assert CANARY_PAN in out and CANARY_ID in out and CANARY_BANK_NAME in out
    assert found_in(err + sscard_logs.getvalue(), personal_canaries() + secret_canaries()) == []
