"""Synthetic personas from a seed: a person who does not exist, on a card that could.

`new_persona(generation, region, seed, bank)` gives the text of a persona TOML that loads
(it is checked by loading it): a GB 11643 ID number with its check digit, born in `region`;
a GBK name made of a common surname and 测试 ("test"), so it cannot be taken for a real person;
a card number with its check character (V2.0 appendix A); EF05 identifiers of the region's
issuer; and, unless `bank` is "none", a UnionPay debit application with the same ID number,
a PAN with its Luhn digit and dates that agree with the card.  The same arguments give the
same file.
"""

from __future__ import annotations

import datetime as _dt
import random
from typing import TYPE_CHECKING

from sscard.codec import gb11643
from sscard.codec.card_number import check_character as card_number_check_character
from sscard.codec.gb11643 import make_id_number
from sscard.errors import InvalidArgument

if TYPE_CHECKING:
    from sscard.spec.model import ElementaryFile

BANK_STATES = ("used", "blocked", "expired", "none")
# new personas live in the mainland provinces: GB 11643's province codes below 70
# (71, 81, 82, 83: Taiwan, Hong Kong, Macao, residence permits)
PROVINCES = frozenset(code for code in gb11643.PROVINCES if code < 70)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯"
    "邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "明华伟芳娜静丽强磊军洋勇艳杰娟涛超霞平刚桂英"
ISSUE_YEARS = {1: (2006, 2010), 2: (2018, 2021), 3: (2022, 2025)}  # still valid at the end of 2026
VALIDITY_YEARS = {1: 20, 2: 10, 3: 10}
SPEC_VERSION = {1: "1.00", 2: "2.00", 3: "3.00"}
ALGORITHM = {1: "", 2: "01", 3: "03"}  # FCI 9F0C: none, DES, SM4
MERCHANTS = ("测试超市有限公司", "测试便利店", "测试药房", "测试餐厅")


def _luhn_digit(body: str) -> str:
    total = 0
    for n, c in enumerate(reversed(body)):
        d = int(c) * (2 if n % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _month_end(day: _dt.date) -> _dt.date:
    following = day.replace(day=28) + _dt.timedelta(days=4)
    return following - _dt.timedelta(days=following.day)


def _years_later(day: _dt.date, years: int) -> _dt.date:
    return day.replace(year=day.year + years, day=min(day.day, 28))


def check_region(region: str) -> str:
    if not (
        isinstance(region, str)
        and len(region) == 6
        and region.isascii()
        and region.isdigit()
        and int(region[:2]) in PROVINCES
        and region[2:4] != "00"
    ):
        raise InvalidArgument(
            f"region must be a 6-digit administrative division code of a "
            f"city or county (e.g. 440300, 110101), not {region!r}",
            zh="区划代码应为6位市或区县行政区划代码",
        )
    return region


def _toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _table(name: str, values: dict) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())


def new_persona(generation: int, region: str, seed: int, bank: str = "used", spec=None) -> str:
    """The TOML text of a synthetic persona (see the module docstring)."""
    from sscard.spec import load_spec

    if generation not in SPEC_VERSION:
        raise InvalidArgument("generation must be 1, 2 or 3", zh="代次应为 1、2 或 3")
    if bank not in BANK_STATES:
        raise InvalidArgument(f"bank must be one of {', '.join(BANK_STATES)}")
    check_region(region)
    spec = spec or load_spec()
    rng = random.Random(f"sscard-persona/{generation}/{region}/{seed}/{bank}")
    birth = _dt.date(1950, 1, 1) + _dt.timedelta(days=rng.randrange(0, 365 * 55))
    sex = rng.choice("12")
    seq = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)  # odd = male (GB 11643)
    id_number = make_id_number(region, birth, f"{seq:03d}")
    name = rng.choice(SURNAMES) + "测试" + rng.choice(GIVEN + " ").strip()
    first, last = ISSUE_YEARS[generation]
    issue = _dt.date(rng.randint(first, last), rng.randint(1, 12), rng.randint(1, 28))
    expiry = _years_later(issue, VALIDITY_YEARS[generation])
    body = rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + "".join(
        rng.choice("0123456789") for _ in range(7)
    )
    check = card_number_check_character(body)
    assert check is not None  # the body is 8 characters of the card number's alphabet
    card_number = body + check
    city = region[:4] + "00"
    ef05 = {
        "card_identification": city
        + "D156000005"
        + "".join(rng.choice("0123456789ABCDEF") for _ in range(16)),
        "card_type": "3",
        "spec_version": SPEC_VERSION[generation],
        "initialising_institution": "9156000002" + city + region[:4] + "0001",
        "issue_date": issue,
        "expiry_date": expiry,
        "card_number": card_number,
    }
    holder = {  # an item not named here takes its spec example (_file_values)
        "social_security_number": id_number,
        "name": name,
        "name_extension": "",
        "sex": sex,
        "ethnicity": "01",
        "birthplace": region,
        "birth_date": birth,
    }
    ef05 = _file_values(spec.ssse.file("ef05"), generation, ef05)
    ef06 = _file_values(spec.ssse.file("ef06"), generation, holder)
    historical = (
        "00992001"
        + {1: "10", 2: "10", 3: "30"}[generation]
        + "9999"
        + city
        + f"{rng.randrange(1 << 24):06X}"
    )
    command = (
        f"sscard personas new --generation {generation} --region {region} --seed {seed} "
        f"--bank {bank}"
    )
    description = (
        f"Synthetic generation {generation} card from {region} (seed {seed}), bank "
        f"application: {bank}"
    )
    parts = [
        f"# Made by `{command}`: a person who does not exist (the name holds 测试, test).\n"
        f"description = {_toml_value(description)}\n"
        f'atr_historical = "{historical}"\n'
        'layout = "ssse"\nstate = "active"\n'
        f'algorithm = "{ALGORITHM[generation]}"\n',
        _table("ef05", ef05),
        _table("ef06", ef06),
        _table("pin", {"value": "123456", "tries_left": 3, "max_tries": 3}),
    ]
    if bank != "none":
        parts.append(_bank(rng, bank, id_number, issue, expiry))
    return "\n".join(parts)


def _file_values(ef: ElementaryFile, generation: int, chosen: dict) -> dict:
    """A value for every item the generation holds, in file order: the chosen one, else the
    item's first decoded example (a new spec item needs no code here to be generated)."""
    values = {}
    for item in ef.items_for(generation):
        if item.key in chosen:
            values[item.key] = chosen[item.key]
        else:
            values[item.key] = next(e.decoded for e in item.examples if e.error is None)
    return values


def _bank(rng: random.Random, state: str, id_number: str, issue: _dt.date, expiry: _dt.date) -> str:
    pan_body = "621234" + "".join(rng.choice("0123456789") for _ in range(12))
    values = {
        "directories": ["pse"],
        "pan": pan_body + _luhn_digit(pan_body),
        "expiry_date": _month_end(expiry),
        "effective_date": issue,
        "cardholder_name": " /",
        "id_number": id_number,
        "id_type": "00",
    }
    logs = []
    if state == "blocked":
        values = {"state": "blocked", **values}
        values.update(atc=rng.randint(3, 60), pin_try_counter=0)
        values["last_online_atc"] = values["atc"]
    elif state == "expired":
        # the bank application of an earlier card, carried over and expired before this issue
        effective = _years_later(issue, -10)
        values.update(
            effective_date=effective,
            expiry_date=_month_end(issue.replace(day=1) - _dt.timedelta(days=40)),
        )
        atc = rng.randint(10, 80)
        values.update(atc=atc, last_online_atc=atc - 1)
    else:  # used
        atc = rng.randint(5, 120)
        values.update(atc=atc, last_online_atc=atc - rng.randint(0, 2), pin_try_counter=3)
        day = _dt.date(2026, 11, 1) + _dt.timedelta(days=rng.randrange(28))
        logs.append(
            {
                "transaction_date": day,
                "transaction_time": _dt.time(rng.randint(8, 21), rng.randint(0, 59)),
                "amount": rng.randint(100, 50000),
                "terminal_country": "0156",
                "transaction_currency": "0156",
                "merchant_name": rng.choice(MERCHANTS),
                "transaction_type": "00",
                "atc": atc,
            }
        )
    text = _table("bank", values)
    for entry in logs:
        text += "\n" + _table("[bank.transaction_log]", entry).replace("[[[", "[[").replace(
            "]]]", "]]"
        )
    return text
