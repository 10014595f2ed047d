"""Card cryptography: standard vectors, and every derived value computed a second time, step by
step on `cryptography`'s primitives, independently of sscard.crypto (crypto_oracle.py)."""

from __future__ import annotations

import pytest
from crypto_oracle import cbc_last_block, second_auth, second_derivation
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard import errors
from sscard.crypto import (
    Algorithm,
    algorithm_from_id,
    authentication_data,
    card_factor,
    city_factor,
    derive_card_key,
    encrypt_cbc,
    encrypt_ecb,
    mac,
    province_factor,
    session_key,
)

ROOT = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
ATR = bytes.fromhex("3B6D000000992001309999510100000333")


ALGS = [(Algorithm.DES3, "DES"), (Algorithm.SM4, "SM4")]


# --- standard vectors --------------------------------------------------------------------------


def test_sm4_gbt_32907_vector():
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    assert encrypt_ecb(Algorithm.SM4, key, key).hex().upper() == "681EDF34D206965E86B3E94F536E4246"


def test_des_fips_vector_and_two_key_tdes_with_equal_halves():
    key = bytes.fromhex("0123456789ABCDEF")
    plain = bytes.fromhex("4E6F772069732074")  # "Now is t"
    assert encrypt_ecb(Algorithm.DES3, key, plain).hex().upper() == "3FA40E8A984D4815"
    assert encrypt_ecb(Algorithm.DES3, key + key, plain) == encrypt_ecb(Algorithm.DES3, key, plain)


# --- two computations agree ----------------------------------------------------------------


@pytest.mark.parametrize("algorithm,name", ALGS)
@settings(max_examples=40, deadline=None)
@given(
    root=st.binary(min_size=16, max_size=16),
    random8=st.binary(min_size=8, max_size=8),
    original8=st.binary(min_size=8, max_size=8),
    region=st.sampled_from(["510100", "110101", "330100", "330782", "440300"]),
)
def test_derivation_and_authentication_match_a_second_computation(
    algorithm, name, root, random8, original8, region
):
    card_key = derive_card_key(algorithm, root, region, ATR)
    assert card_key == second_derivation(name, root, region, ATR)
    assert authentication_data(algorithm, card_key, random8, original8) == second_auth(
        name, card_key, random8, original8
    )


@pytest.mark.parametrize("algorithm,name", ALGS)
@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=64), key16=st.binary(min_size=16, max_size=16))
def test_mac_matches_a_second_computation(algorithm, name, data, key16):
    block = algorithm.block
    key = key16[:8] if block == 8 else key16
    padded = data + b"\x80" + bytes(-(len(data) + 1) % block)
    last = cbc_last_block(name, key, padded, block)
    expected = (
        last[:4]
        if block == 8
        else bytes(
            a ^ b ^ c ^ d
            for a, b, c, d in zip(last[0:4], last[4:8], last[8:12], last[12:16], strict=True)
        )
    )
    assert mac(algorithm, key, data) == expected


# --- pinned regression vectors (produced once by the code above, which two computations agree on)


@pytest.mark.parametrize(
    "algorithm,card_key,auth,mac_hex",
    [
        (Algorithm.DES3, "71611DFAFEA443C7A17328380DAD8DAD", "B614A25385A33482", "1F17537E"),
        (Algorithm.SM4, "86785D1334BF17171BE22371C665AE7C", "98686CA28A280C8D", "217DC26F"),
    ],
)
def test_pinned_vectors(algorithm, card_key, auth, mac_hex):
    key = derive_card_key(algorithm, ROOT, "510100", ATR)
    assert key.hex().upper() == card_key
    assert (
        authentication_data(
            algorithm, key, bytes.fromhex("1122334455667788"), bytes.fromhex("0102030405060708")
        )
        .hex()
        .upper()
        == auth
    )
    mac_key = key[:8] if algorithm.block == 8 else key
    assert mac(algorithm, mac_key, bytes.fromhex("0482000A10")).hex().upper() == mac_hex


# --- factors and rules --------------------------------------------------------------------------


def test_factors():
    assert province_factor("510100") == bytes.fromhex("3531303030307368")
    assert city_factor("510100") == bytes.fromhex("3531303130307378")
    assert city_factor("330782") == b"330700sx"  # Zhejiang: 4 digits ‖ "00sx"
    assert card_factor(ATR) == bytes.fromhex("9999510100000333")


def test_session_key_shapes():
    assert len(session_key(Algorithm.DES3, ROOT, bytes(8))) == 8
    assert len(session_key(Algorithm.SM4, ROOT, bytes(8))) == 16


def test_algorithm_identifiers():
    assert algorithm_from_id("03") == (Algorithm.SM4, False)
    assert algorithm_from_id(None) == (Algorithm.DES3, True)
    with pytest.raises(errors.NotSupported, match="SSF33"):
        encrypt_ecb(algorithm_from_id("02")[0], ROOT, bytes(16))
    with pytest.raises(errors.NotSupported, match="unknown algorithm identifier '07'"):
        algorithm_from_id("07")


@pytest.mark.parametrize(
    "call",
    [
        lambda: encrypt_ecb(Algorithm.SM4, ROOT[:15], bytes(16)),
        lambda: encrypt_ecb(Algorithm.DES3, ROOT[:10], bytes(8)),
        lambda: encrypt_ecb(Algorithm.SM4, ROOT, bytes(15)),
        lambda: encrypt_cbc(Algorithm.DES3, ROOT, bytes(8), iv=bytes(7)),
        lambda: authentication_data(Algorithm.SM4, ROOT, bytes(8), bytes(7)),
        lambda: province_factor("51010"),
    ],
)
def test_bad_inputs_are_typed_errors_without_key_bytes(call):
    with pytest.raises(errors.InvalidArgument) as info:
        call()
    text = str(info.value).upper()
    assert ROOT.hex().upper()[:8] not in text and "00112233" not in text
