"""One masking module (sscard.masking) for every style either application's spec names."""

from __future__ import annotations

import datetime as _dt

import pytest

from sscard.masking import STYLES, mask
from sscard.spec import load_spec


def test_every_style_the_specs_name_is_a_masking_style():
    spec = load_spec()
    ssse = {item.mask for ef in spec.ssse.files.values() for item in ef.items if item.personal}
    pboc = {tag.mask for tag in spec.pboc.tags.values() if tag.personal}
    assert "pan" in pboc and "card_id" in ssse  # the oracle sees both specs
    assert ssse | pboc <= STYLES
    for style in ssse | pboc:
        assert "*" in mask(style, "1234567890123456789")


def test_the_spec_validators_accept_only_masking_styles():
    from sscard.spec import loader, pboc

    assert set(loader.MASKS) | set(pboc.MASKS) <= STYLES


@pytest.mark.parametrize(
    ("style", "value", "shown"),
    [
        ("pan", "6222021234567890123", "622202*********0123"),
        ("pan", "62220212345", "622202*2345"),
        ("pan", "6222021234", "**********"),  # 10 digits or fewer: nothing shown
        ("hidden", "张三", "***"),
        ("hidden", _dt.date(2030, 1, 31), "***"),
        ("id", "110101199003071233", "110***********1233"),
        ("name", "测试甲", "测**"),
        ("date", _dt.date(1990, 3, 7), "1990-**-**"),
        ("card_number", "A12345674", "A*******4"),
    ],
)
def test_styles(style, value, shown):
    assert mask(style, value) == shown


def test_nothing_to_mask():
    assert all(mask(style, None) is None for style in STYLES)
