"""An independent second implementation of the card cryptography, step by step on
`cryptography`'s primitives and never through sscard.crypto: the oracle of test_crypto and
test_psam."""

from __future__ import annotations

import warnings


def _raw_cipher(name, key):
    from cryptography.hazmat.primitives.ciphers import algorithms

    if name == "SM4":
        return algorithms.SM4(key)
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TripleDES(key)  # 16-byte (two-key) form on purpose: the library uses 24 bytes


def ecb(name, key, data):
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    if name == "DES" and len(key) == 8:
        key = key + key  # K1 = K2: single DES
    e = Cipher(_raw_cipher(name, key), modes.ECB()).encryptor()
    return e.update(data) + e.finalize()


def cbc_last_block(name, key, data, block):
    """CBC written out by hand: chain each block through ECB."""
    chain = bytes(block)
    for i in range(0, len(data), block):
        chain = ecb(
            name, key, bytes(a ^ b for a, b in zip(chain, data[i : i + block], strict=True))
        )
    return chain


def second_derivation(name, root, region, atr):
    factors = [
        region[:2].encode() + b"0000sh",
        (region[:4].encode() + b"00sx") if region.startswith("33") else region.encode() + b"sx",
        atr[-8:],
    ]
    key = root
    for f in factors:
        nf = bytes(255 - b for b in f)
        key = ecb(name, key, f) + ecb(name, key, nf) if name == "DES" else ecb(name, key, f + nf)
    return key


def second_auth(name, key, random8, original8):
    if name == "DES":
        session = ecb("DES", key, random8)
        return ecb("DES", session, original8)
    session = ecb("SM4", key, random8 + bytes(8))
    out = ecb("SM4", session, original8 + bytes(8))
    return bytes(x ^ y for x, y in zip(out[:8], out[8:], strict=True))
