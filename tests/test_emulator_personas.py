"""Packaged personas: they load, their synthetic numbers carry valid check characters,
and the strict loader rejects what a real card could not hold."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path

import pytest

from sscard.emulator import SocialSecurityCard, list_personas, load_persona
from sscard.emulator.persona import PERSONA_DIR
from sscard.errors import InvalidArgument, SpecError

PACKAGED = {
    "card-blocked",
    "gen1",
    "gen2",
    "gen2-expired",
    "gen2-long-name",
    "gen2-t0",
    "gen3",
    "gen3-contactless",
    "gen2-no-range",
    "shanghai",
    "ssse-blocked",
    "bank-used",
    "bank-blocked",
    "bank-expired",
    "bank-mismatch",
    "bank-contactless",
}


# --- check characters, written from the formulas (no reader code) ---------------------------


def gb11643_ok(number: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], weights, strict=True))
    return number[17] == "10X98765432"[total % 11]


def card_number_ok(number: str) -> bool:
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    if len(number) != 9 or not number[0].isupper() or not number[1:8].isdigit():
        return False
    value = lambda c: ord(c) - ord("A") + 10 if c.isalpha() else int(c)  # noqa: E731
    check = 11 - sum(value(c) * w for c, w in zip(number[:8], weights, strict=True)) % 11
    return number[8] == {10: "X", 11: "0"}.get(check, str(check))


@pytest.mark.parametrize(
    "good,bad",
    [("110101199003071233", "110101199003071234"), ("11010519491231002X", "110105194912310021")],
)
def test_gb11643_helper_can_fail(good, bad):
    assert gb11643_ok(good) and not gb11643_ok(bad)


@pytest.mark.parametrize("good", ["A12345674", "B76543212", "C24680132", "E13579025"])
def test_card_number_helper(good):
    assert card_number_ok(good)
    assert not card_number_ok(good[:8] + str((int(good[8]) + 1) % 10))


# --- packaged personas ------------------------------------------------------------------------


def test_list_personas():
    assert set(list_personas()) == PACKAGED
    assert list_personas() == sorted(list_personas())


@pytest.mark.parametrize("name", sorted(PACKAGED))
def test_packaged_persona_is_valid(name):
    p = load_persona(name)
    assert p.name == name
    assert p.description and "\n" not in p.description and p.description.isascii()
    assert len(p.atr_historical) == 13
    assert card_number_ok(p.ef05["card_number"]), "card number check character"
    card_id = bytes.fromhex(p.ef05["card_identification"])
    assert card_id[3:8] == bytes.fromhex("D156000005")
    if p.ef06 is not None:
        assert gb11643_ok(p.ef06["social_security_number"]), "GB 11643 check character"
        birth = p.ef06["birth_date"]
        assert p.ef06["social_security_number"][6:14] == birth.strftime("%Y%m%d")
        assert p.ef06["social_security_number"][:6] == p.ef06["birthplace"]
        # GB 11643: the 17th digit is odd for men, even for women
        assert int(p.ef06["social_security_number"][16]) % 2 == {"1": 1, "2": 0}[p.ef06["sex"]]
        assert p.ef06["name"].startswith("测试")
    expiry = p.ef05["expiry_date"]
    if name == "gen2-expired":
        assert expiry == _dt.date(2021, 1, 1)
    else:
        assert expiry.year >= 2030
    SocialSecurityCard(load_spec(), p)  # builds


def load_spec():
    from sscard.spec import load_spec as _load

    return _load()


def test_persona_facts():
    assert (
        load_persona("gen1").generation == 1 and "name_extension" not in load_persona("gen1").ef06
    )
    assert load_persona("gen2").generation == 2
    assert load_persona("gen3").generation == 3 and load_persona("gen3").algorithm == b"\x03"
    assert load_persona("gen2").pin.value == "123456" and load_persona("gen2").pin.max_tries == 3
    assert load_persona("shanghai").layout == "mf" and load_persona("shanghai").ef06 is None
    assert load_persona("ssse-blocked").state == "ssse_blocked"
    assert load_persona("card-blocked").state == "card_blocked"
    t0 = load_persona("gen2-t0")
    assert (t0.t0, t0.le_zero, t0.generation) == (True, "6Cxx", 2)
    long = load_persona("gen2-long-name").ef06
    assert len(long["name"].encode("gbk")) == 30
    assert len((long["name"] + long["name_extension"]).encode("gbk")) == 40


def test_holders_differ():
    ids = [
        load_persona(n).ef06["social_security_number"]
        for n in PACKAGED
        if load_persona(n).ef06 is not None
    ]
    names = [load_persona(n).ef06["name"] for n in PACKAGED if load_persona(n).ef06 is not None]
    numbers = [load_persona(n).ef05["card_number"] for n in PACKAGED]
    assert len(set(ids)) == len(ids) and len(set(names)) == len(names)
    assert len(set(numbers)) == len(numbers)


def test_load_by_path():
    p = load_persona(PERSONA_DIR / "gen2.toml")
    assert p == load_persona("gen2")
    assert load_persona(str(PERSONA_DIR / "gen3.toml")).generation == 3


def test_unknown_persona_name_lists_the_available_ones():
    with pytest.raises(InvalidArgument) as e:
        load_persona("gen9")
    for name in PACKAGED:
        assert name in str(e.value)
    with pytest.raises(InvalidArgument, match="unknown persona 'no-such-card'"):
        SocialSecurityCard.from_persona("no-such-card")
    with pytest.raises(InvalidArgument, match="persona file not found"):
        load_persona("/nonexistent/dir/x.toml")


# --- the strict loader ------------------------------------------------------------------------


def gen2_text() -> str:
    return (PERSONA_DIR / "gen2.toml").read_text(encoding="utf-8")


def write(tmp_path, text: str, name: str = "probe") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_probe_file_loads_unchanged(tmp_path):
    # the mutations below start from this text: it must be valid as it is
    assert load_persona(write(tmp_path, gen2_text())).ef05 == load_persona("gen2").ef05


# what each persona file is refused for (keyed by the parameters below)
UNKNOWN_KEY = {
    'layout = "ssse"': r"unknown key\(s\) \['colour'\]",
    'card_type = "3"': r"\[ef05\] has keys that are not items of generation 2: \['chip'\]",
    'sex = "1"': r"\[ef06\] has keys that are not items of generation 2: \['height'\]",
    "max_tries = 3": r"\[pin\]: unknown key\(s\) \['puk'\]",
    'algorithm = "01"': r"\[card_os\]: unknown key\(s\) \['speed'\]",
}


@pytest.mark.parametrize(
    "old,new",
    [
        ('layout = "ssse"', 'layout = "ssse"\ncolour = "blue"'),  # unknown top-level key
        ('card_type = "3"', 'card_type = "3"\nchip = "x"'),  # unknown EF05 key
        ('sex = "1"', 'sex = "1"\nheight = "180"'),  # unknown EF06 key
        ("max_tries = 3", 'max_tries = 3\npuk = "1"'),  # unknown [pin] key
        ('algorithm = "01"', 'algorithm = "01"\n[card_os]\nspeed = 9600'),  # unknown [card_os] key
    ],
)
def test_unknown_keys_are_rejected(tmp_path, old, new):
    text = gen2_text()
    assert old in text
    with pytest.raises(SpecError, match=UNKNOWN_KEY[old]):
        load_persona(write(tmp_path, text.replace(old, new, 1)))


SECRET_ID = "11010119900307123"  # one digit short


@pytest.mark.parametrize(
    "old,new,field",
    [
        (
            'social_security_number = "110101199003071233"',
            f'social_security_number = "{SECRET_ID}9X"',
            "social_security_number",
        ),  # 19 characters
        (
            'name = "测试甲"',
            'name = "测试甲测试甲测试甲测试甲测试甲测试甲"',
            "name",
        ),  # 36 bytes GBK
        ('name = "测试甲"', 'name = "测试😀"', "name"),  # not GBK
        ('ethnicity = "01"', 'ethnicity = "1X"', "ethnicity"),  # not BCD
        ('birthplace = "110101"', 'birthplace = "1101011"', "birthplace"),  # 7 digits in 3 bytes
        (
            "birth_date = 1990-03-07",
            'birth_date = "1990-03-07"',
            "birth_date",
        ),  # a string, not a date
        ("issue_date = 2021-03-01", "issue_date = 20210301", "issue_date"),  # an integer
        (
            'card_identification = "110100D1560000051A2B3C4D5E6F7081"',
            'card_identification = "110100D156"',
            "card_identification",
        ),
        ('card_number = "A12345674"', 'card_number = "A123456745"', "card_number"),
    ],
)
def test_invalid_values_name_the_field_not_the_value(tmp_path, old, new, field):
    text = gen2_text()
    assert old in text
    with pytest.raises(SpecError) as e:
        load_persona(write(tmp_path, text.replace(old, new, 1), "badvalue"))
    message = str(e.value)
    assert field in message and "badvalue" in message
    value = new.split("=", 1)[1].strip().strip('"')
    assert value not in message


INVALID_PERSONA = {
    'spec_version = "4.00"': "spec_version does not start with 1, 2 or 3",
    "": r"\[ef06\] is missing \['name_extension'\]",
    'spec_version = "1.00"': r"not items of generation 1: \['name_extension'\]",
    'atr_historical = "0099200110999911010000"': "atr_historical must be 13 bytes",
    'atr_historical = "not hex"': "'atr_historical' is not hex",
    'layout = "flat"': "layout must be one of",
    'state = "sleeping"': "state must be one of",
    'algorithm = "0101"': "algorithm must be one byte or empty",
    'value = "12a456"': "pin.value must be 4 to 12 digits",
    'value = "123"': "pin.value must be 4 to 12 digits",
    "tries_left = 4": "pin.tries_left must be 0 to max_tries",
    "max_tries = 16": "pin.max_tries must be 1 to 15",
    'algorithm = "01"\n[card_os]\nle_zero = "sometimes"': "card_os.le_zero must be one of",
    'algorithm = "01"\n[card_os]\nt0 = "yes"': "'t0' has the wrong type",
    'description = 5\nx = "': "'description' has the wrong type",
}


@pytest.mark.parametrize(
    "old,new",
    [
        ('spec_version = "2.00"', 'spec_version = "4.00"'),  # unknown generation
        ('name_extension = ""\n', ""),  # a gen-2 item missing
        ('spec_version = "2.00"', 'spec_version = "1.00"'),  # gen 1 has no name_extension
        (
            'atr_historical = "0099200110999911010000002A"',
            'atr_historical = "0099200110999911010000"',
        ),
        ('atr_historical = "0099200110999911010000002A"', 'atr_historical = "not hex"'),
        ('layout = "ssse"', 'layout = "flat"'),
        ('state = "active"', 'state = "sleeping"'),
        ('algorithm = "01"', 'algorithm = "0101"'),
        ('value = "123456"', 'value = "12a456"'),
        ('value = "123456"', 'value = "123"'),
        ("tries_left = 3", "tries_left = 4"),
        ("max_tries = 3", "max_tries = 16"),
        ('algorithm = "01"', 'algorithm = "01"\n[card_os]\nle_zero = "sometimes"'),
        ('algorithm = "01"', 'algorithm = "01"\n[card_os]\nt0 = "yes"'),
        ('description = "', 'description = 5\nx = "'),
    ],
)
def test_invalid_persona_files(tmp_path, old, new):
    text = gen2_text()
    assert old in text
    with pytest.raises(SpecError, match=INVALID_PERSONA[new]):
        load_persona(write(tmp_path, text.replace(old, new, 1)))


def test_ef06_required_unless_layout_mf(tmp_path):
    head, _, pin = gen2_text().partition("[ef06]")
    without_ef06 = head + "[pin]" + pin.partition("[pin]")[2]
    with pytest.raises(SpecError, match=r"\[ef06\] is required unless layout = \"mf\""):
        load_persona(write(tmp_path, without_ef06))
    p = load_persona(write(tmp_path, without_ef06.replace('layout = "ssse"', 'layout = "mf"')))
    assert p.ef06 is None and p.layout == "mf"


INVALID_RAW_RECORD = {
    '"ef06.09" = "zz"': "'ef06.09' is not hex",
    '"ef09.09" = "0900"': "key 'ef09.09' must look like",
    '"ef06.4E0" = "00"': "key 'ef06.4E0' must look like",
    '"ef06.99" = "9900"': "'ef06.99' is not a record of this card",
    'ef06 = "00"': "key 'ef06' must look like",
}


@pytest.mark.parametrize(
    "raw",
    [
        '"ef06.09" = "zz"',
        '"ef09.09" = "0900"',
        '"ef06.4E0" = "00"',
        '"ef06.99" = "9900"',
        'ef06 = "00"',
    ],
)
def test_invalid_raw_records(tmp_path, raw):
    with pytest.raises(SpecError, match=INVALID_RAW_RECORD[raw]):
        load_persona(write(tmp_path, gen2_text() + f"\n[raw_records]\n{raw}\n"))


def test_raw_record_overrides_bytes(tmp_path):
    path = write(tmp_path, gen2_text() + '\n[raw_records]\n"ef06.09" = "09FF00"\n')
    p = load_persona(path)
    c = SocialSecurityCard(load_spec(), p)
    c.execute(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF"))
    c.execute(bytes.fromhex("00A4020002EF06"))
    assert c.execute(bytes.fromhex("00B2020403")) == bytes.fromhex("09FF00") + b"\x90\x00"


def test_invalid_toml_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="probe.toml: Invalid value"):
        load_persona(write(tmp_path, "description = \n"))


def test_overrides_are_checked():
    assert SocialSecurityCard.from_persona("gen2", t0=True).t0
    with pytest.raises(SpecError, match="card_os.le_zero must be one of"):
        SocialSecurityCard.from_persona("gen2", le_zero="sometimes")
    with pytest.raises(SpecError, match="ef05.card_type: not a valid an value"):
        SocialSecurityCard.from_persona(
            "gen2", ef05={**load_persona("gen2").ef05, "card_type": "33"}
        )
    assert dataclasses.replace(load_persona("gen2"), state="ssse_blocked").state == "ssse_blocked"
