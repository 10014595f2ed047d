"""Identity → the human view and the JSON document (schema "sscard.identity/1").

Masking is applied here, from the privacy class and mask style of each item in
apdu_specs/, so the library's results stay exact and no caller masks by hand.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, replace

from sscard.masking import mask
from sscard.spec import Spec
from sscard.ssse.results import CardIdentification, Coded, Identity

SCHEMA = "sscard.identity/1"

PARTS = (("issuer", "ef05"), ("holder", "ef06"))  # the identity's parts and their files


def shown_keys(spec: Spec, part: str) -> tuple[str, ...]:
    """The keys of a part's text view and JSON section: its file's items in spec order,
    except an item that joins another (4E is inside the name)."""
    return tuple(item.key for item in spec.ssse.file(dict(PARTS)[part]).shown)


def _field_value(identity: Identity, part: str, key: str):
    source = identity.issuer if part == "issuer" else identity.holder
    value = getattr(source, key)
    if isinstance(value, CardIdentification):
        return value.hex
    return value


def _item(spec: Spec, key: str):
    for _, ef in PARTS:
        for item in spec.ssse.file(ef).items:
            if item.key == key:
                return item
    raise KeyError(key)


def _shown(spec: Spec, key: str, value, reveal: bool):
    """The value as displayed: masked when personal and not revealed."""
    item = _item(spec, key)
    if isinstance(value, Coded) or value is None:
        return value
    if item.personal and not reveal:
        return mask(item.mask, value)
    return value.isoformat() if isinstance(value, _dt.date) else value


def _masked_card_id(spec: Spec, cid: CardIdentification) -> CardIdentification:
    """The card identification code with its serial and authentication code hidden."""
    return replace(
        cid,
        hex=_shown(spec, "card_identification", cid.hex, reveal=False),
        serial="*" * len(cid.serial),
        auth_code="*" * len(cid.auth_code),
    )


def masked(spec: Spec, identity: Identity) -> Identity:
    """A copy of `identity` with every personal value replaced by its masked text
    (for views built from the typed result, such as the iReadCardBas string)."""

    def part_masked(ef_key: str, part):
        ef = spec.ssse.file(ef_key)
        changes = {}
        for item in ef.items:
            if not item.personal:
                continue
            for attribute in dict.fromkeys((item.key, ef.attribute(item.key))):
                value = getattr(part, attribute)
                changes[attribute] = (
                    _masked_card_id(spec, value)
                    if isinstance(value, CardIdentification)
                    else _shown(spec, item.key, value, reveal=False)
                )
        return replace(part, **changes)

    holder = identity.holder
    return replace(
        identity,
        issuer=part_masked("ef05", identity.issuer),
        holder=None if holder is None else part_masked("ef06", holder),
    )


def to_document(spec: Spec, identity: Identity, *, reveal: bool, source: dict) -> dict:
    def coded(c: Coded) -> dict | None:
        return None if c.code is None else {"code": c.code, "en": c.en, "zh": c.zh}

    def section(part: str, keys: tuple[str, ...]) -> dict:
        out = {}
        for key in keys:
            value = _shown(spec, key, _field_value(identity, part, key), reveal)
            out[key] = coded(value) if isinstance(value, Coded) else value
        return out

    issuer = section("issuer", shown_keys(spec, "issuer"))
    cid = identity.issuer.card_identification
    # the same keys masked or not: a masked part is a string of "*", never null
    issuer["card_identification_parts"] = (
        None if cid is None else asdict(cid if reveal else _masked_card_id(spec, cid))
    )
    issuer["card_number_check"] = identity.issuer.card_number_check
    holder = section("holder", shown_keys(spec, "holder")) if identity.holder else None
    return {
        "schema": SCHEMA,
        "source": source,
        "masked": not reveal,
        "complete": identity.complete,
        "missing": list(identity.missing),
        "card": {
            "atr": identity.atr,
            "historical_bytes": identity.historical_bytes,
            "layout": identity.layout,
            "generation": identity.generation,
            "algorithm": coded(identity.algorithm),
            "authentic": identity.authentic,
        },
        "issuer": issuer,
        "holder_status": identity.holder_status.value,
        "holder_locked_by": identity.holder_locked_by,
        "holder": holder,
        "findings": [asdict(f) for f in identity.findings],
    }


def to_json(document: dict) -> str:
    from sscard.cli.output import dumps

    return dumps(document, indent=2)


def _bi(en: str, zh: str) -> str:
    """Every bilingual phrase reads "English / 中文" (as in `status` and the error lines)."""
    return f"{en} / {zh}"


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):  # a coded value
        names = [x for x in (value.get("en"), value.get("zh")) if x]
        meaning = " / ".join(dict.fromkeys(names))  # zh and en may be the same (SM4)
        return (
            f"{value['code']} ({meaning})"
            if meaning
            else f"{value['code']} ({_bi('unknown', '未知')})"
        )
    if isinstance(value, bool):
        return _bi("yes", "是") if value else _bi("no", "否")
    return str(value)


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    from sscard.cli.textwidth import columns

    return columns(text)


_SEVERITY = {"warning": ("warning", "警告"), "info": ("note", "提示")}


def to_text(spec: Spec, document: dict, width: int | None = None) -> str:
    """The human view: a title line, then sections of (label, value) rows; long rows wrap
    to `width` columns under their value (None: not wrapped)."""
    from sscard.cli.textwidth import wrap

    out: list[tuple[str, str] | str] = [
        f"{_bi('Social security card', '社会保障卡')} — {document['source']['description']}"
    ]
    card = document["card"]
    out.append(("ATR", card["atr"]))
    out.append(
        (
            _bi("Layout", "结构"),
            _bi("SSSE", "社会保障应用")
            if card["layout"] == "ssse"
            else _bi("EF05 under the MF (Shanghai-style)", "主文件下的 EF05（上海式卡）"),
        )
    )
    out.append((_bi("Algorithm", "算法"), _text(card["algorithm"])))
    out.append((_bi("Generation", "代"), str(card["generation"] or _bi("unknown", "未知"))))
    if document["missing"]:
        names = "; ".join(_bi(_item(spec, k).en, _item(spec, k).zh) for k in document["missing"])
        out.append(
            (
                _bi("Complete", "完整"),
                _bi("NO — required but absent or empty", "否——必备数据项缺失") + f": {names}",
            )
        )
    out.append(
        (
            _bi("Authentic", "真伪"),
            {
                "yes": _bi("yes (internal authentication passed)", "是（内部认证通过）"),
                "no": _bi("NO (internal authentication failed)", "否（内部认证失败）"),
            }.get(card["authentic"], _bi("not checked (--keys, --psam or an HSM)", "未检查")),
        )
    )

    def block(keys, values: dict) -> None:
        for key in keys:
            item = _item(spec, key)
            out.append((_bi(item.en, item.zh), _text(values.get(key))))

    out.append(f"{_bi('Issuer data', '发卡机构数据')} (EF05)")
    block(shown_keys(spec, "issuer"), document["issuer"])
    check = document["issuer"]["card_number_check"]
    if check is not None:
        out.append(
            (
                _bi("Card number check", "卡号校验位"),
                _bi("ok", "正确") if check else _bi("mismatch", "不符"),
            )
        )
    out.append(f"{_bi('Cardholder', '持卡人基本信息')} (EF06)")
    status = document["holder_status"]
    if status == "read":
        block(shown_keys(spec, "holder"), document["holder"])
    elif status == "locked":
        key = document["holder_locked_by"]
        out.append(
            (
                _bi("Status", "状态"),
                _bi(
                    f"locked: needs {key} external authentication (PSAM, HSM or keys)",
                    f"已加密保护，需要 {key} 外部认证",
                ),
            )
        )
    else:
        out.append((_bi("Status", "状态"), _bi("not on this card", "本卡无此文件")))
    if document["findings"]:
        out.append(_bi("Findings", "提示"))
        for f in document["findings"]:
            severity = _SEVERITY.get(f["severity"], (f["severity"], f["severity"]))
            out.append(f"  [{_bi(*severity)}] {_bi(f['en'], f['zh'])}")  # free text, no column
    if document["masked"]:
        out.append(
            _bi("personal data masked: use --reveal to show", "个人信息已遮蔽，使用 --reveal 显示")
        )

    column = max(_width(row[0]) for row in out if isinstance(row, tuple)) + 2
    lines = []
    for row in out:
        if isinstance(row, str):
            lines.extend(wrap(row, width))
        else:
            label, value = row
            lines.extend(
                wrap(f"  {label}{' ' * (column - _width(label))}{value}", width, hanging=column)
            )
    return "\n".join(lines)
