"""File control information returned by SELECT of the SSSE (ssc-card.md §3.1).

Structure per LD/T 32.5 Table 36: 6F { 84 DF name, A5 { 88 DIR SFI, 9F0C { 86 algorithm } } }.
Built with the BER encoder so the lengths are always consistent.
"""

from __future__ import annotations

from sscard.codec.tlv import encode_ber

DIR_SFI = b"\x1e"  # what real 3.00 cards report (outside the 5..15 the spec text allows)


def ssse_fci(df_name: bytes, algorithm: bytes) -> bytes:
    """`algorithm` is the 86 value (one byte); empty leaves 9F0C out, as on old cards."""
    proprietary = encode_ber(0x88, DIR_SFI)
    if algorithm:
        # 9F0C is primitive but carries TLVs: the algorithm identifier 86
        proprietary += encode_ber(0x9F0C, encode_ber(0x86, algorithm))
    return encode_ber(0x6F, encode_ber(0x84, df_name) + encode_ber(0xA5, proprietary))
