"""Every example in apdu_specs/ runs both ways: bytes → decoded and decoded → bytes."""

from __future__ import annotations

import datetime as _dt
import re
import shutil
from pathlib import Path

import pytest

from sscard import errors
from sscard.codec import tlv
from sscard.codec.apdu import CommandApdu
from sscard.spec import load_spec
from sscard.spec.loader import build_spec, spec_dir

SPEC = load_spec()


def _absent(value):
    """Examples write "" for an absent value (padding only); decoders return None."""
    return None if value == "" else value


def _all_items():
    for sw in SPEC.status_words.entries:
        yield f"sw {sw.pattern}", sw
    for command in SPEC.commands.commands.values():
        yield f"command {command.name}", command
    for table in SPEC.code_tables.values():
        yield f"code table {table.key}", table
    yield "application ssse", SPEC.ssse
    yield "atr", SPEC.atr
    for fci in SPEC.ssse.fci:
        yield f"fci {fci.key}", fci
    for ef in SPEC.ssse.files.values():
        for item in ef.items:
            yield f"{ef.key} {item.key}", item
    pboc = SPEC.pboc
    yield "pboc scheme", pboc.scheme
    for group in (
        pboc.directories.values(),
        pboc.interfaces.values(),
        pboc.aids,
        pboc.code_tables.values(),
        pboc.tags.values(),
        pboc.logs.values(),
    ):
        for item in group:
            yield f"pboc {type(item).__name__} {getattr(item, 'key', '')}", item
    psam = SPEC.psam
    yield "psam terminal_number", psam.terminal_number
    for env in psam.environments:
        yield f"psam environment {env.key}", env
    for key in psam.keys.values():
        yield f"psam key {key.name}", key


@pytest.mark.parametrize(
    "name,item", list(_all_items()), ids=lambda x: x if isinstance(x, str) else ""
)
def test_every_item_has_examples(name, item):
    assert item.examples, f"{name} has no example"


@pytest.mark.parametrize("sw", SPEC.status_words.entries, ids=lambda s: s.pattern)
def test_status_word_examples(sw):
    for example in sw.examples:
        value = int(example.hex, 16)
        found = SPEC.status_words.lookup(value)
        assert found is sw, f"{example.hex} matched {found and found.pattern}"
        assert found.pattern == example.decoded["pattern"]
        if "tries" in example.decoded:
            assert found.tries_left(value) == example.decoded["tries"]
        # the other way: pattern + variable part → the SW
        variable = example.decoded.get("tries", example.decoded.get("length", 0))
        wild = sw.pattern.count("x")
        rebuilt = sw.pattern.replace("x" * wild, f"{variable:0{wild}X}") if wild else sw.pattern
        assert rebuilt.upper() == example.hex


def test_status_word_unknown_and_specificity():
    assert SPEC.status_words.lookup(0x6A99) is None
    assert SPEC.status_words.lookup(0x63C1).pattern == "63Cx"
    assert SPEC.status_words.lookup(0x6283).error == "ApplicationBlocked"


@pytest.mark.parametrize("command", list(SPEC.commands.commands.values()), ids=lambda c: c.name)
def test_command_examples(command):
    for example in command.examples:
        apdu = CommandApdu.parse(example.raw)
        found = SPEC.commands.identify(apdu)
        assert found is not None and found[0] is command, example.hex
        assert found[1] == example.decoded
        params = dict(example.decoded)
        built = command.build(
            p1=params.pop("p1", None),
            p2=params.pop("p2", None),
            sfi=params.pop("sfi", 0),
            data=bytes.fromhex(params.pop("data", "")),
            le=params.pop("le", None),
        )
        assert not params, f"unused example parameters {params}"
        assert built.to_bytes().hex().upper() == example.hex


@pytest.mark.parametrize("table", list(SPEC.code_tables.values()), ids=lambda t: t.key)
def test_code_table_examples(table):
    for example in table.examples:
        code = table.codec.decode(example.raw)
        assert code == example.decoded
        assert table.codec.encode(code) == example.raw
        assert table.get(code) is not None


def test_application_name_example():
    for example in SPEC.ssse.examples:
        assert example.raw == SPEC.ssse.name
        assert example.raw[:7].decode("ascii") + example.raw[7:].decode("gbk") == example.decoded


@pytest.mark.parametrize("item", SPEC.ssse.fci, ids=lambda i: i.key)
def test_fci_examples(item):
    for example in item.examples:
        assert item.extract(example.raw) == _absent(example.decoded)
        # the other way: the whole FCI, built from the declaration and the values it holds
        values = SPEC.ssse.decode_fci(example.raw)
        assert values[item.key] == _absent(example.decoded)
        assert SPEC.ssse.encode_fci(values).hex().upper() == example.hex


def test_fci_encoding_leaves_out_what_is_absent():
    name = SPEC.ssse.name.hex()
    assert SPEC.ssse.encode_fci({"df_name": name}) == tlv.encode_ber(
        0x6F, tlv.encode_ber(0x84, SPEC.ssse.name)
    )
    with_sfi = SPEC.ssse.encode_fci({"df_name": name, "dir_sfi": "1E", "algorithm": None})
    assert with_sfi.hex().upper().endswith("A50388011E")
    with pytest.raises(ValueError, match="colour"):
        SPEC.ssse.encode_fci({"df_name": name, "colour": "red"})


def test_the_emulator_answers_select_with_the_declared_fci(spec_copy):
    """The emulated card's FCI comes from the declaration: move the algorithm identifier in
    ssse.toml and the emulator's answer moves with it."""
    from sscard.emulator import SocialSecurityCard, load_persona

    persona = load_persona("gen3")
    select = CommandApdu(0x00, 0xA4, 0x04, 0x00, SPEC.ssse.name, 0).to_bytes()
    answer = SocialSecurityCard(SPEC, persona).execute(select)
    assert answer[-2:] == b"\x90\x00"
    assert SPEC.ssse.decode_fci(answer[:-2])["algorithm"] == persona.algorithm.hex().upper()
    _edit(spec_copy / "ssse.toml", 'path = ["6F", "A5", "9F0C", "86"]', 'path = ["6F", "A5", "87"]')
    moved = build_spec(str(spec_copy))
    answer = SocialSecurityCard(moved, persona).execute(select)[:-2]
    assert tlv.parse_ber(answer)[0].find_path(0xA5, 0x87).value == persona.algorithm
    assert b"\x9f\x0c" not in answer


@pytest.mark.parametrize(
    "item", [i for ef in SPEC.ssse.files.values() for i in ef.items], ids=lambda i: i.key
)
def test_record_examples(item):
    for example in item.examples:
        if example.error is not None:  # a record the decoder must reject
            with pytest.raises(errors.DecodeError, match=re.escape(example.error)):
                item.decode_record(example.raw)
            assert len(example.raw) == item.record_length
            continue
        decoded = item.decode_record(example.raw)
        assert decoded == _absent(example.decoded), example.hex
        assert item.encode_record(_absent(example.decoded)).hex().upper() == example.hex
        assert len(example.raw) == item.record_length


def test_atr_examples():
    assert any(e.error is None for e in SPEC.atr.examples)
    for example in SPEC.atr.examples:
        if example.error is not None:
            with pytest.raises(errors.DecodeError, match=re.escape(example.error)):
                SPEC.atr.parse(example.raw)
            continue
        atr = SPEC.atr.parse(example.raw)
        expected = example.decoded
        assert atr.convention == expected["convention"], example.hex
        assert list(atr.protocols) == expected["protocols"], example.hex
        assert atr.historical.hex().upper() == expected["historical"], example.hex
        assert (f"{atr.tck:02X}" if atr.tck is not None else "") == expected["tck"], example.hex
        if expected["card_factor"]:
            assert SPEC.atr.card_factor(example.raw).hex().upper() == expected["card_factor"]
        else:
            with pytest.raises(errors.DecodeError, match="card factor"):
                SPEC.atr.card_factor(example.raw)


# --- the PBOC financial application (apdu_specs/pboc.toml) -------------------------------

PBOC = SPEC.pboc


@pytest.mark.parametrize("obj", list(PBOC.tags.values()), ids=lambda o: o.tag_hex)
def test_pboc_tag_examples(obj):
    for example in obj.examples:
        (parsed,) = tlv.parse_ber(example.raw)  # one whole TLV, nothing after it
        assert parsed.tag == obj.tag, example.hex
        assert obj.min_length <= len(parsed.value) <= obj.max_length, example.hex
        assert PBOC.decode(obj.tag, parsed.value) == example.decoded, example.hex
        assert PBOC.encode(obj.tag, example.decoded).hex().upper() == example.hex


def test_pboc_scheme_and_directories():
    for example in PBOC.scheme.examples:
        assert PBOC.scheme.owns(example.raw) == (example.decoded == PBOC.scheme.key)
    for d in PBOC.directories.values():
        for example in d.examples:
            assert example.raw == d.name and d.name.decode("ascii") == example.decoded
        assert PBOC.interface(d.interface).directory == d.key
    for i in PBOC.interfaces.values():
        for example in i.examples:
            assert [{"tag": f"{t:X}", "length": n} for t, n in i.typical_pdol] == example.decoded
            assert PBOC.decode(0x9F38, example.raw) == example.decoded


@pytest.mark.parametrize("aid", PBOC.aids, ids=lambda a: a.key)
def test_pboc_aid_examples(aid):
    for example in aid.examples:
        assert PBOC.aid_entry(example.raw) is aid
        assert PBOC.aid(example.decoded).aid == example.raw


def test_pboc_partial_aid_matches_longer_aids_only_by_prefix():
    assert PBOC.aid_entry(bytes.fromhex("A000000333010105")).key == "unionpay"
    assert PBOC.aid_entry(bytes.fromhex("A000000333010101")).key == "debit"
    assert PBOC.aid_entry(bytes.fromhex("A0000000031010")) is None


@pytest.mark.parametrize("table", list(PBOC.code_tables.values()), ids=lambda t: t.key)
def test_pboc_code_table_examples(table):
    for example in table.examples:
        assert example.raw.hex().upper() == example.decoded and table.get(example.decoded)


@pytest.mark.parametrize("log", list(PBOC.logs.values()), ids=lambda g: g.key)
def test_pboc_log_examples(log):
    for example in log.examples:
        assert log.decode_record(example.raw) == example.decoded
        assert log.encode_record(example.decoded).hex().upper() == example.hex
        assert len(example.raw) == log.record_length(log.recommended_format)
        size = len(example.raw)
        with pytest.raises(
            errors.DecodeError, match=f"has {size - 1} bytes, its format needs {size}"
        ):
            log.decode_record(example.raw[:-1])
    # the recommended format is the one the format tag's example shows (JR/T 0025.5 table 45)
    (fmt_example,) = PBOC.tag(log.format_tag).examples
    assert PBOC.decode(log.format_tag, tlv.parse_ber(fmt_example.raw)[0].value) == [
        {"tag": f"{t:X}", "length": n} for t, n in log.recommended_format
    ]


def test_pboc_scope_hides_unionpay_meanings_under_other_schemes():
    visa = bytes.fromhex("A0000000031010")
    debit = PBOC.aid("debit").aid
    for tag in (0x9F61, 0x9F62, 0x9F79):
        assert PBOC.tag(tag, aid=visa) is None and PBOC.tag(tag, aid=debit) is not None
    assert PBOC.tag(0x5A, aid=visa).key == "pan"


def test_pboc_personal_objects():
    personal = {o.tag for o in PBOC.tags.values() if o.personal}
    assert {0x5A, 0x57, 0x5F20, 0x9F0B, 0x9F61} <= personal
    assert PBOC.tag(0x5A).mask == "pan" and PBOC.tag(0x9F61).mask == "id"


# what each malformed value is refused for
MALFORMED_VALUE = {
    "9F3603001122": r"9F36 has 3 bytes, expected 2\.\.2",
    "5F2403491331": "invalid calendar date",
    "5A0A62123400000000000F12": "digit after F padding",
    "9F7906FFFFFFFFFFFF": "invalid BCD nibble F",
    "9403080101": r"94 has 3 bytes, expected 4\.\.252",
    "9F2103256000": "invalid time of day",
    "9F610431320033": "data after 00 padding|00 byte inside text",
    "57086212345678901234": "track 2 data needs one D separator",
}


@pytest.mark.parametrize(
    "raw",
    [
        "9F3603001122",
        "5F2403491331",
        "5A0A62123400000000000F12",
        "9F7906FFFFFFFFFFFF",
        "9403080101",
        "9F2103256000",
        "9F610431320033",
        "57086212345678901234",
    ],
)
def test_pboc_rejects_malformed_values(raw):
    (parsed,) = tlv.parse_ber(bytes.fromhex(raw))
    with pytest.raises(errors.DecodeError, match=MALFORMED_VALUE[raw]):
        PBOC.decode(parsed.tag, parsed.value)


# --- the social security PSAM (apdu_specs/psam.toml) ---------------------------------------

SM4_ENV = bytes.fromhex("7378332E73682EC9E7BBE1B1A3D5CF")
DES_ENV = bytes.fromhex("D15600000590")


def test_psam_spec_examples_both_ways():
    spec = SPEC.psam
    for env in spec.environments:
        for example in env.examples:
            assert example.raw == env.name
            text = example.decoded
            assert (
                bytes.fromhex(text)
                if all(c in "0123456789ABCDEF" for c in text)
                else text.encode("gbk")
            ) == example.raw
    for key in spec.keys.values():
        for example in key.examples:
            parsed = CommandApdu.parse(example.raw)
            assert (parsed.cla, parsed.ins) == (0xBF, 0xDE)
            d = example.decoded
            assert (
                (parsed.p1, parsed.p2)
                == (int(d["usage"], 16), int(d["id"], 16))
                == (key.usage, key.id)
            )
            assert (key.levels, key.type) == (d["levels"], d["type"])
    ef = spec.terminal_number
    for example in ef.examples:
        assert ef.codec.decode(example.raw) == example.decoded
        assert ef.codec.encode(example.decoded) == example.raw
    assert spec.environment_for("03").name == SM4_ENV and spec.environment_for("01").name == DES_ENV
    assert spec.keys["RKSSSE"].card_reference == 0x0A


def test_dates_decode_to_dates():
    item = SPEC.ssse.file("ef06").item("birth_date")
    assert item.decode_record(bytes.fromhex("0D0419900307")) == _dt.date(1990, 3, 7)


def test_record_numbers_follow_generation():
    ef06 = SPEC.ssse.file("ef06")
    assert [f"{i.tag:02X}" for i in ef06.items_for(2)] == ["08", "09", "4E", "0A", "0B", "0C", "0D"]
    assert ef06.record_number(ef06.item("sex"), 1) == 3
    assert ef06.record_number(ef06.item("sex"), 2) == 4
    assert ef06.read_access[3] == "RKSSSE" and ef06.free_to_read(2)


def test_transparent_files():
    # docs/card-facts.md#ssse-files: EF07 0x300 B (free on gen 1), EF08 0x1000 B from V2.0, RKSSSE
    ef07, ef08 = SPEC.ssse.file("ef07"), SPEC.ssse.file("ef08")
    assert (ef07.fid, ef07.sfi, ef07.size, ef08.fid, ef08.sfi, ef08.size) == (
        0xEF07,
        7,
        0x300,
        0xEF08,
        8,
        0x1000,
    )
    assert ef07.transparent and ef08.transparent and not SPEC.ssse.file("ef06").transparent
    assert ef07.personal and ef08.personal and not ef07.items
    assert ef07.free_to_read(1) and not ef07.free_to_read(2) and ef07.read_access[3] == "RKSSSE"
    assert not ef08.held_by(1) and ef08.held_by(2) and not ef08.free_to_read(1)
    assert dict(ef08.read_access) == {2: "RKSSSE", 3: "RKSSSE"}


def test_exact_le_of_identity_records():
    # docs/card-facts.md#read-record: EF05 Le 12 03 06 0E 06 06 0B, EF06 14 20 16 03 03 05 06
    ef05, ef06 = SPEC.ssse.file("ef05"), SPEC.ssse.file("ef06")
    assert [i.record_length for i in ef05.items] == [0x12, 0x03, 0x06, 0x0E, 0x06, 0x06, 0x0B]
    assert [i.record_length for i in ef06.items] == [0x14, 0x20, 0x16, 0x03, 0x03, 0x05, 0x06]


# --- the loader rejects what it does not understand ---------------------------------------


@pytest.fixture
def spec_copy(tmp_path):
    for f in Path(spec_dir()).glob("*.toml"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    "file,old,new,message",
    [
        ("ssse.toml", 'key = "card_type"', 'key = "card_type"\ncolour = "red"', "unknown key"),
        ("ssse.toml", 'examples = [{ hex = "020133", decoded = "3" }]', "examples = []", "example"),
        ("ssse.toml", 'encoding = "an"', 'encoding = "xx"', "encoding"),
        ("ssse.toml", 'values = "sex"', 'values = "gender"', "code table"),
        ("status_words.toml", 'error = "NotFound"', 'error = "NoSuchError"', "error class"),
        ("commands.toml", "case = 4", 'case = "four"', "wrong type"),
        ("commands.toml", 'ins = "A4"', 'ins = "A4A4"', "1 bytes"),
        ("ssse.toml", 'mask = "name"\nen = "Name"', 'en = "Name"', "mask"),
        (
            "pboc.toml",
            'key = "ecash_balance"',
            'key = "ecash_balance"\ncolour = "red"',
            "unknown key",
        ),
        ("pboc.toml", 'format = "amount"', 'format = "money"', "format"),
        ("pboc.toml", 'scope = "unionpay"', 'scope = "visa"', "scope"),
        ("pboc.toml", 'mask = "pan"\n', "", "mask"),
        ("pboc.toml", 'values = "id_type"', 'values = "id_kind"', "code table"),
        ("pboc.toml", 'where = ["get_data"]', 'where = ["somewhere"]', "where"),
        # transparent files (EF07, EF08)
        ("ssse.toml", "size = 0x300\n", "", "missing key 'size'"),
        ("ssse.toml", "size = 0x300", "size = 0x300\nitem = []", "no items"),
        ("ssse.toml", 'structure = "transparent"', 'structure = "binary"', "structure"),
        ("ssse.toml", 'privacy = "personal"\nen = "Fingerprint"', 'en = "Fingerprint"', "privacy"),
        ("ssse.toml", "sfi = 5\nen", "sfi = 5\nsize = 16\nen", "transparent files"),
        ("ssse.toml", "sfi = 8", "sfi = 7", "duplicate"),
        ("ssse.toml", "generations = [2, 3]  # added", "generations = [2, 4]  #", "generations"),
        (
            "ssse.toml",
            'read_access = { gen2 = "RKSSSE", gen3 = "RKSSSE" }',
            'read_access = { gen1 = "free", gen2 = "RKSSSE", gen3 = "RKSSSE" }',
            "unknown key",
        ),
        (
            "ssse.toml",
            'read_access = { gen2 = "RKSSSE", gen3 = "RKSSSE" }',
            'read_access = { gen3 = "RKSSSE" }',
            "missing key 'gen2'",
        ),
        ("ssse.toml", 'path = ["6F", "A5", "88"]', 'path = ["6F", "84", "88"]', "one inside"),
        ("ssse.toml", 'path = ["6F", "A5", "88"]', 'path = ["6F", "A5", "8"]', "path must"),
        ("ssse.toml", 'path = ["6F", "A5", "88"]', "path = []", "path must"),
        ("psam.toml", 'name = "IRK"', 'name = "IRK"\ncolour = "red"', "psam.toml key IRK: unknown"),
        ("psam.toml", 'usage = "67"', 'usage = "07"', "levels"),
        # joins: an earlier text item of the file, which joins nothing, joined once
        ("ssse.toml", 'joins = "name"', 'joins = "nickname"', "joins 'nickname', not an earlier"),
        ("ssse.toml", 'joins = "name"', 'joins = "sex"', "joins 'sex', not an earlier"),
        ("ssse.toml", 'key = "sex"\n', 'key = "sex"\njoins = "name_extension"\n', "joins nothing"),
        (
            "ssse.toml",
            'key = "ethnicity"\n',
            'key = "ethnicity"\njoins = "social_security_number"\n',
            "must be text",
        ),
        ("ssse.toml", 'key = "sex"\n', 'key = "sex"\njoins = "name"\n', "more than one item joins"),
        (
            "ssse.toml",
            'privacy = "personal"\nmask = "name"\nen = "Name extension"',
            'en = "Name extension"',
            "must have the privacy and mask of name",
        ),
        (
            "ssse.toml",
            'key = "spec_version"\n',
            'key = "spec_version"\njoins = "card_type"\n',
            "not codes",
        ),
        (
            "ssse.toml",
            'key = "name"\nrequired = { gen1 = ["ssse"], gen2 = ["ssse"], gen3 = ["ssse"] }',
            'key = "name"\ngenerations = [3]\nrequired = { gen3 = ["ssse"] }',
            "held by a generation name is not",
        ),
        (
            "ssse.toml",
            'values = "sex"',
            'values = "sex"\nprivacy = "personal"\nmask = "id"',
            "personal item cannot name a code table",
        ),
    ],
)
def test_loader_rejects(spec_copy, file, old, new, message):
    _edit(spec_copy / file, old, new)
    with pytest.raises(errors.SpecError, match=message):
        build_spec(str(spec_copy)).load_all()


def test_parts_are_read_on_first_access_only(spec_copy, monkeypatch):
    """One door, paid per part: making the Spec reads the four shared files; ssse.toml,
    pboc.toml and psam.toml are each read and validated on first access, once."""
    from sscard.spec import loader

    read = []
    real = loader.read_toml
    monkeypatch.setattr(
        loader, "read_toml", lambda path: read.append(Path(path).name) or real(path)
    )
    for module in ("sscard.spec.pboc", "sscard.spec.psam"):  # they import read_toml by name
        monkeypatch.setattr(f"{module}.read_toml", loader.read_toml)
    spec = build_spec(str(spec_copy))
    assert sorted(read) == ["atr.toml", "code_tables.toml", "commands.toml", "status_words.toml"]
    for part in ("ssse", "pboc", "psam"):
        read.clear()
        first = getattr(spec, part)
        assert read == [f"{part}.toml"]
        assert getattr(spec, part) is first and read == [f"{part}.toml"]  # kept, not re-read


def test_threads_asking_first_at_once_share_one_spec(spec_copy, monkeypatch):
    """functools.cache does not lock: 16 threads missing it together built 16 Specs."""
    import threading
    import time

    from sscard.spec import loader

    read = []
    real = loader.read_toml

    def slow_read(path):  # widens the window in which the threads would race
        read.append(Path(path).name)
        time.sleep(0.02)
        return real(path)

    monkeypatch.setattr(loader, "read_toml", slow_read)
    barrier = threading.Barrier(16)
    got = []

    def first_use():
        barrier.wait()
        got.append(load_spec(str(spec_copy)))

    threads = [threading.Thread(target=first_use) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 16 and all(spec is got[0] for spec in got)
    assert sorted(read) == ["atr.toml", "code_tables.toml", "commands.toml", "status_words.toml"]


def test_a_broken_part_fails_alone_and_on_every_access(spec_copy):
    _edit(spec_copy / "pboc.toml", 'format = "amount"', 'format = "money"')
    (spec_copy / "psam.toml").unlink()
    spec = build_spec(str(spec_copy))
    assert spec.ssse.file("ef05").sfi == 5  # the social security part does not need them
    for _ in range(2):
        with pytest.raises(errors.SpecError, match="pboc.toml tag .*format"):
            _ = spec.pboc
        with pytest.raises(errors.SpecError, match="psam.toml"):
            _ = spec.psam
    with pytest.raises(errors.SpecError, match="pboc.toml"):
        spec.load_all()


def test_reading_a_card_never_reads_the_bank_or_psam_spec(spec_copy):
    """`sscard read` pays for the social security application only: a read through a Spec
    whose pboc.toml and psam.toml are gone still succeeds."""
    from sscard.card import Card
    from sscard.transport.emulated import EmulatorTransport

    card_side = EmulatorTransport.from_persona("gen2")  # the emulator, on the full spec
    (spec_copy / "pboc.toml").unlink()
    (spec_copy / "psam.toml").unlink()
    spec = build_spec(str(spec_copy))
    with Card(card_side, spec=spec) as card:
        identity = card.read_identity()
    assert identity.issuer.card_number
    with pytest.raises(errors.SpecError, match="pboc.toml"):
        _ = spec.pboc


def test_loader_rejects_broken_toml(spec_copy):
    (spec_copy / "commands.toml").write_text("[[command]\n", encoding="utf-8")
    with pytest.raises(errors.SpecError, match="commands.toml"):
        build_spec(str(spec_copy))


def test_spec_is_immutable():
    with pytest.raises(AttributeError, match="Spec is immutable: cannot set 'ssse'"):
        SPEC.ssse = None
    with pytest.raises(TypeError, match="does not support item assignment"):
        SPEC.ssse.files["ef07"] = None
    with pytest.raises(AttributeError, match="can't set attribute|has no setter"):
        SPEC.commands["verify"].sensitive = False


def test_every_package_and_data_file_is_in_the_wheel():
    """A regular install ships only what pyproject lists; tests import the source tree,
    so a package missing there would pass here and break `sscard` for users."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(p.parent.relative_to(root).parts)
        for p in (root / "sscard").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert found - listed == set(), "packages missing from pyproject.toml"
    data = config["package-data"]
    for folder in {p.parent for p in (root / "sscard").rglob("*.toml")}:
        package = ".".join(folder.relative_to(root).parts)
        assert data.get(package) == ["*.toml"], f"{package}: TOML files not shipped"
