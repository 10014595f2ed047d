"""Whether an identity read is complete: decided from the spec (apdu_specs/ssse.toml
`required`) on the decoded values, whatever way the records were fetched.

An item the spec requires for the card's generation and layout that is absent (6A83) or
empty (padding only) leaves the identity incomplete: `Identity.complete` is False and the
item is named in `Identity.missing`, so a partial identity is never taken for a whole one.
"""

from __future__ import annotations

from sscard.results import Coded
from sscard.spec import Spec
from sscard.spec.model import ElementaryFile
from sscard.ssse.results import HolderInfo, IssuerInfo


def item_value(ef: ElementaryFile, part: IssuerInfo | HolderInfo, key: str):
    """The decoded value of item `key` of file `ef` in its IssuerInfo or HolderInfo (the
    item's own value where another item joins it: `HolderInfo.name` is 姓名 + 姓名扩展)."""
    value = getattr(part, ef.attribute(key))
    return value.code if isinstance(value, Coded) else value


def missing_required(
    spec: Spec, layout: str, generation: int | None, issuer: IssuerInfo, holder: HolderInfo | None
) -> tuple[str, ...]:
    """Keys of the required items without a value: EF05's always, EF06's when it was read
    (a locked or absent EF06 is reported by the holder status, not here)."""
    parts: list[tuple[ElementaryFile, IssuerInfo | HolderInfo]] = [(spec.ssse.file("ef05"), issuer)]
    if holder is not None:
        parts.append((spec.ssse.file("ef06"), holder))
    return tuple(
        item.key
        for ef, part in parts
        for item in ef.items_for(generation or 3)
        if item.required_in(generation, layout) and item_value(ef, part, item.key) in (None, "")
    )
