"""The card's block ciphers: 3DES (8-byte blocks) and SM4 (16-byte blocks), from `cryptography`.

SSF33 (algorithm 02) is a national cipher no public library implements: asking for it is a
clear NotSupported error, never a silent fallback.  Error texts never contain key bytes.
"""

from __future__ import annotations

import enum
import warnings

from sscard import errors


class Algorithm(enum.Enum):
    """The algorithm identifier of the SSSE FCI (9F0C/86) and its block size."""

    DES3 = ("01", 8)
    SSF33 = ("02", 16)
    SM4 = ("03", 16)

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def block(self) -> int:
        return self.value[1]


def algorithm_from_id(code: str | None) -> tuple[Algorithm, bool]:
    """The algorithm for an FCI identifier, and whether it was assumed (identifier absent:
    DES/3DES, as the Great Wall reader does; docs/card-facts.md#algorithm-identifier)."""
    if code is None:
        return Algorithm.DES3, True
    for algorithm in Algorithm:
        if algorithm.code == code.upper():
            return algorithm, False
    raise errors.AlgorithmNotSupported(f"unknown algorithm identifier {code!r}")


def _cipher(algorithm: Algorithm, key: bytes):
    from cryptography.hazmat.primitives.ciphers import algorithms

    if algorithm is Algorithm.SSF33:
        raise errors.AlgorithmNotSupported(
            "SSF33 (algorithm 02) is not supported: no public implementation"
        )
    if algorithm is Algorithm.SM4:
        if len(key) != 16:
            raise errors.InvalidArgument(f"an SM4 key has 16 bytes, not {len(key)}")
        return algorithms.SM4(bytes(key))
    if len(key) not in (8, 16, 24):
        raise errors.InvalidArgument(f"a DES/3DES key has 8, 16 or 24 bytes, not {len(key)}")
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:  # cryptography < 43
        TripleDES = algorithms.TripleDES  # type: ignore[misc]  # the same class, older home
    # K1 K2 K1 for a double-length key, K K K for single DES: the same cipher, stated in the
    # 24-byte form that cryptography keeps supporting
    full = key * 3 if len(key) == 8 else key + key[:8] if len(key) == 16 else key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TripleDES(bytes(full))


def _check_blocks(algorithm: Algorithm, data: bytes) -> None:
    if len(data) % algorithm.block:
        raise errors.InvalidArgument(
            f"data of {len(data)} bytes is not a whole number of {algorithm.block}-byte blocks"
        )


def encrypt_ecb(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    _check_blocks(algorithm, data)
    encryptor = Cipher(_cipher(algorithm, key), modes.ECB()).encryptor()
    return encryptor.update(bytes(data)) + encryptor.finalize()


def decrypt_ecb(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    _check_blocks(algorithm, data)
    decryptor = Cipher(_cipher(algorithm, key), modes.ECB()).decryptor()
    return decryptor.update(bytes(data)) + decryptor.finalize()


def encrypt_cbc(algorithm: Algorithm, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    _check_blocks(algorithm, data)
    iv = bytes(algorithm.block) if iv is None else bytes(iv)
    if len(iv) != algorithm.block:
        raise errors.InvalidArgument(f"the IV has {len(iv)} bytes, not {algorithm.block}")
    encryptor = Cipher(_cipher(algorithm, key), modes.CBC(iv)).encryptor()
    return encryptor.update(bytes(data)) + encryptor.finalize()
