"""The MAC of LD/T 32.4 §8.2 (docs/card-facts.md#mac): ISO 9797-1 padding method 2, CBC from a
zero IV; 8-byte blocks: the left 4 bytes of the last block; 16-byte blocks: the XOR of the
last block's four 4-byte words."""

from __future__ import annotations

from sscard.crypto.ciphers import Algorithm, encrypt_cbc


def pad(data: bytes, block: int) -> bytes:
    padded = bytes(data) + b"\x80"
    return padded + bytes(-len(padded) % block)


def mac(algorithm: Algorithm, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    last = encrypt_cbc(algorithm, key, pad(data, algorithm.block), iv)[-algorithm.block :]
    if algorithm.block == 8:
        return last[:4]
    words = [last[i : i + 4] for i in range(0, 16, 4)]
    out = bytearray(4)
    for word in words:
        out = bytearray(a ^ b for a, b in zip(out, word, strict=False))
    return bytes(out)
