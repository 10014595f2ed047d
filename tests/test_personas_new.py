"""`sscard personas new` / `check`: synthetic personas that load, with check digits computed
here independently of sscard's codecs."""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import tomllib

import pytest

from sscard.cli.main import run
from sscard.emulator.persona_new import new_persona

GB11643_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def _gb11643_ok(number: str) -> bool:
    total = sum(int(c) * w for c, w in zip(number[:17], GB11643_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17]


def _card_number_ok(number: str) -> bool:
    values = ["0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(c) for c in number[:8]]
    check = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check)) == number[8]


def _luhn_ok(pan: str) -> bool:
    digits = [int(c) for c in reversed(pan)]
    return (
        sum(d if n % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for n, d in enumerate(digits))
        % 10
        == 0
    )


def test_the_oracles_can_fail():
    assert _gb11643_ok("11010519491231002X") and not _gb11643_ok("110105194912310021")
    assert _card_number_ok("A12345674") and not _card_number_ok("A12345675")
    assert _luhn_ok("6212340000000000012") and not _luhn_ok("6212340000000000013")


@pytest.mark.parametrize(
    "generation, bank", list(itertools.product((1, 2, 3), ("used", "blocked", "expired", "none")))
)
def test_a_new_persona_is_a_consistent_synthetic_person(tmp_path, generation, bank):
    path = tmp_path / "p.toml"
    assert (
        run(
            [
                "personas",
                "new",
                "--generation",
                str(generation),
                "--region",
                "440305",
                "--seed",
                "11",
                "--bank",
                bank,
                "-o",
                str(path),
            ]
        )
        == 0
    )
    assert run(["personas", "check", str(path)]) == 0
    raw = tomllib.loads(path.read_text("utf-8"))
    ef05, ef06 = raw["ef05"], raw["ef06"]
    ssn = ef06["social_security_number"]
    assert _gb11643_ok(ssn) and ssn[:6] == "440305" == ef06["birthplace"]
    assert ssn[6:14] == ef06["birth_date"].strftime("%Y%m%d")
    assert int(ssn[16]) % 2 == (1 if ef06["sex"] == "1" else 0)
    assert "测试" in ef06["name"] and ef06["name"].encode("gbk")
    assert _card_number_ok(ef05["card_number"])
    assert ef05["spec_version"] == f"{generation}.00"
    assert ef05["card_identification"].startswith("440300D156000005")
    assert ef05["issue_date"] < ef05["expiry_date"] and ef05["expiry_date"] > _dt.date(2026, 12, 31)
    if bank == "none":
        assert "bank" not in raw
        return
    b = raw["bank"]
    assert b["id_number"] == ssn and _luhn_ok(b["pan"])
    assert b.get("state", "active") == ("blocked" if bank == "blocked" else "active")
    if bank == "expired":
        assert b["expiry_date"] < ef05["issue_date"]
    else:
        assert b["effective_date"] == ef05["issue_date"]
        assert (b["expiry_date"].year, b["expiry_date"].month) == (
            ef05["expiry_date"].year,
            ef05["expiry_date"].month,
        )
    assert bool(b.get("transaction_log")) == (bank == "used")


def test_the_seed_decides_the_person():
    one = new_persona(3, "440300", 7, "blocked")
    assert new_persona(3, "440300", 7, "blocked") == one
    people = {
        tomllib.loads(new_persona(3, "440300", seed, "used"))["ef06"]["social_security_number"]
        for seed in range(30)
    }
    assert len(people) == 30


def test_a_generated_card_reads_and_reports_as_asked(tmp_path, capsys):
    path = tmp_path / "gen3-blocked.toml"
    assert (
        run(
            [
                "personas",
                "new",
                "--generation",
                "3",
                "--region",
                "440300",
                "--seed",
                "7",
                "--bank",
                "blocked",
                "-o",
                str(path),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert run(["status", "--emulator", str(path), "--json"]) == 6  # a blocked application
    document = json.loads(capsys.readouterr().out)
    assert document["bank"]["verdict"]["code"] == "application_blocked"
    assert document["bank"]["counters"]["pin_tries_left"] == 0
    assert document["social_security"]["verdict"]["code"] == "usable"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--region", "440300", "--seed", "1", "--generation", "4"],
            "Invalid value for '--generation'",
        ),
        (["--region", "4403", "--seed", "1", "--generation", "3"], "6-digit"),
        (["--region", "990300", "--seed", "1", "--generation", "3"], "6-digit"),
        (["--region", "440000", "--seed", "1", "--generation", "3"], "city or county"),
        (["--region", "440300", "--seed", "-1", "--generation", "3"], "Invalid value for '--seed'"),
        (["--region", "440300", "--seed", "1", "--generation", "3", "--bank", "maybe"], "--bank"),
    ],
)
def test_bad_arguments_are_one_usage_error(capsys, args, message):
    assert run(["personas", "new", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_existing_files_are_not_overwritten_and_bad_files_are_named(tmp_path, capsys):
    path = tmp_path / "p.toml"
    path.write_text("keep", encoding="utf-8")
    assert (
        run(
            [
                "personas",
                "new",
                "--generation",
                "2",
                "--region",
                "110101",
                "--seed",
                "3",
                "-o",
                str(path),
            ]
        )
        == 2
    )
    assert path.read_text("utf-8") == "keep"
    bad = tmp_path / "bad.toml"
    bad.write_text(
        new_persona(2, "110101", 3).replace('card_type = "3"', 'card_type = "3"\ncolour = 1'),
        encoding="utf-8",
    )
    capsys.readouterr()
    assert run(["personas", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: persona bad: [ef05] has keys that are not items") and "colour" in err
    )
    assert err.count("\n") == 1
    assert run(["personas", "check", str(tmp_path / "missing.toml")]) == 2
