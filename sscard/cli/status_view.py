"""The views of `sscard status` (also of `replay` and the service's /v1/status): the
`sscard.status/1` document, and the human view — one verdict line per application with its
evidence.  Personal data (PAN, name, ID number, balances, amounts, merchants) is masked unless
reveal, by the mask styles declared in apdu_specs/.
"""

from __future__ import annotations

import datetime as _dt

SCHEMA = "sscard.status/1"


# --- the document -----------------------------------------------------------------------------


def _mask(style: str | None, value, reveal: bool):
    if value is None or reveal or style is None:
        return _plain(value)
    from sscard.masking import mask

    return mask(style, str(value))


def _plain(value):
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return value


def _tag_mask(pboc, tag: int) -> str | None:
    obj = pboc.tags.get(tag)
    return obj.mask if obj is not None and obj.personal else None


def _coded(c) -> dict:
    return {"code": c.code, "en": c.en, "zh": c.zh}


def to_document(pboc, result, *, reveal: bool, source: dict) -> dict:
    ssse, bank = result.ssse, result.bank
    identity = ssse.identity
    m = lambda tag, value: _mask(_tag_mask(pboc, tag), value, reveal)  # noqa: E731
    social = {
        "verdict": vars(result.ssse_verdict),
        "state": ssse.state.value,
        "select_sw": ssse.select_sw,
        "layout": identity.layout if identity else None,
        "generation": identity.generation if identity else None,
        "expiry_date": _plain(identity.issuer.expiry_date) if identity else None,
        "expired": ssse.expired,
        "pin": {
            "tries_left": ssse.pin.tries_left,
            "blocked": ssse.pin.blocked,
            "required": ssse.pin.required,
            "source": ssse.pin.source,
        },
        "holder_status": identity.holder_status.value if identity else None,
        "enablement": _back_end(*_ssc_enablement()),
        "apdus": result.ssse_cost.apdus,  # what reading it cost on the wire
        "bytes": result.ssse_cost.bytes,
    }
    records = None
    if bank.records is not None:
        r = bank.records
        records = {
            "pan": m(0x5A, r.pan),
            "pan_sequence": r.pan_sequence,
            "expiry_date": _plain(r.expiry_date),
            "effective_date": _plain(r.effective_date),
            "name": m(0x5F20, r.name),
            "name_extended": m(0x9F0B, r.name_extended),
            "id_number": m(0x9F61, r.id_number),
            "id_type": _coded(r.id_type),
            "currency": r.currency,
            "aip": r.aip,
            "afl": [{"sfi": s, "first": f, "last": la, "offline": o} for s, f, la, o in r.afl],
            "tags": list(r.tags),
        }
    ec = bank.electronic_cash
    bank_doc = {
        "verdict": vars(result.bank_verdict),
        "state": bank.state.value,
        "select_sw": bank.select_sw,
        "selection": bank.selection,
        "aid": bank.aid,
        "unionpay": bank.unionpay,
        "label": bank.label,
        "preferred_name": bank.preferred_name,
        "language": bank.language,
        "pdol": bank.pdol,
        "candidates": [vars(c) for c in bank.candidates],
        "counters": {
            "atc": bank.counters.atc,
            "last_online_atc": bank.counters.last_online_atc,
            "pin_tries_left": bank.counters.pin_tries_left,
        },
        "used": bank.used,
        "electronic_cash": None
        if ec is None
        else {
            "balance": m(0x9F79, ec.balance),
            "balance_limit": m(0x9F77, ec.balance_limit),
            "single_limit": m(0x9F78, ec.single_limit),
            "reset_threshold": m(0x9F6D, ec.reset_threshold),
        },
        "currency": bank.currency,
        "log": {
            "read": bank.usage_read,
            "records": bank.log_records,
            "format": bank.log_format,
            "transactions": [
                {
                    "number": t.number,
                    "date": _plain(t.date),
                    "time": _plain(t.time),
                    "amount": m(0x9F02, t.amount),
                    "amount_other": m(0x9F03, t.amount_other),
                    "currency": t.currency,
                    "country": t.country,
                    "merchant": m(0x9F4E, t.merchant),
                    "type": _coded(t.type),
                    "atc": t.atc,
                }
                for t in bank.transactions
            ],
        },
        "load_log": [
            {
                "number": x.number,
                "date": _plain(x.date),
                "time": _plain(x.time),
                "balance_before": m(0x9F79, x.balance_before),
                "balance_after": m(0x9F79, x.balance_after),
                "changed_tag": x.changed_tag,
                "merchant": m(0x9F4E, x.merchant),
                "atc": x.atc,
            }
            for x in bank.loads
        ],
        "records_status": bank.records_status.value,
        "gpo_sent": bank.gpo_sent,
        "records": records,
        "expired": result.bank_expired,
        "activation": _back_end(*_bank_activation()),
        "apdus": result.bank_cost.apdus,
        "bytes": result.bank_cost.bytes,
    }
    return {
        "schema": SCHEMA,
        "source": source,
        "masked": not reveal,
        "atr": result.atr,
        "social_security": social,
        "bank": bank_doc,
        "cross_checks": [vars(c) for c in result.cross_checks],
        "findings": [vars(f) for f in result.findings],
        "advice": [{"code": c, "en": en, "zh": zh} for c, en, zh in result.advice],
    }


def _back_end(en: str, zh: str) -> dict:
    return {"recorded_on_chip": False, "en": en, "zh": zh}


def _bank_activation():
    from sscard.status import BANK_ACTIVATION

    return BANK_ACTIVATION


def _ssc_enablement():
    from sscard.status import SSC_ENABLEMENT

    return SSC_ENABLEMENT


# --- the human view -----------------------------------------------------------------------------
# Every bilingual phrase reads "English / 中文", in this order everywhere (as `read` and
# the error lines); no raw code stands alone (outcomes, currencies, states are named).


def _bi(en: str, zh: str) -> str:
    return f"{en} / {zh}"


def _yuan(value) -> str:
    return f"{value // 100}.{value % 100:02d}" if isinstance(value, int) else str(value)


def _currency(code: str | None) -> str:
    if not code:
        return ""
    from sscard.spec import load_spec

    entry = load_spec().pboc.code_table("currency").entries.get(code)
    return _bi(entry.en, entry.zh) if entry else f"{_bi('currency', '货币')} {code}"


def _coded_text(c: dict) -> str:
    if c.get("en") and c.get("zh"):
        return _bi(c["en"], c["zh"])
    return _bi(f"code {c['code']}", f"代码 {c['code']}") if c.get("code") else "—"


_OUTCOMES = {
    "match": ("match", "一致"),
    "mismatch": ("MISMATCH", "不一致"),
    "not_done": ("not checked", "未核对"),
}
_CHECK_ITEMS = {
    "id_number": ("ID number", "证件号码"),
    "id_type": ("ID type", "证件类型"),
    "name": ("name", "姓名"),
    "expiry": ("expiry date", "有效期"),
}
_SEVERITY = {"warning": ("warning", "警告"), "info": ("note", "提示")}
_HOLDER = {
    "read": ("holder data read", "持卡人信息已读取"),
    "locked": ("holder data locked (needs a key)", "持卡人信息受密钥保护"),
    "absent": ("no holder data on the card", "卡中无持卡人信息"),
}
_SELECTION = {"pse": "PSE", "ppse": "PPSE", "aid_list": ("the UnionPay AID list", "银联 AID 列表")}
_NOT_GIVEN = _bi("not given", "未提供")


def to_text(doc: dict, width: int | None = None) -> str:
    """The human view, wrapped to `width` columns (None: not wrapped)."""
    from sscard.cli.textwidth import wrap_text

    s, b = doc["social_security"], doc["bank"]
    lines = [
        f"{_bi('card', '卡片')}: {doc['source'].get('description') or doc['source']['name']}"
        f"  ATR {doc['atr']}"
    ]
    v = s["verdict"]
    lines.append(f"{_bi('social security application', '社会保障应用')}: {_bi(v['en'], v['zh'])}")
    evidence = []
    if s["select_sw"]:
        evidence.append(f"SELECT {s['select_sw']}")
    elif s["state"] == "absent":
        evidence.append(_bi("no social security application", "无社会保障应用"))
    if s["layout"] == "mf":
        evidence.append(
            _bi("EF05 under the MF (no SSSE, Shanghai-style)", "EF05 位于 MF 下（上海式卡）")
        )
    if s["generation"]:
        evidence.append(_bi(f"generation {s['generation']}", f"第{s['generation']}代"))
    if s["expiry_date"]:
        state = _bi("expired", "已过期") if s["expired"] else _bi("valid", "有效")
        evidence.append(f"{_bi('expires', '有效期至')} {s['expiry_date']} ({state})")
    pin = s["pin"]
    if pin["blocked"]:
        evidence.append(_bi("PIN blocked", "密码已锁定"))
    elif pin["tries_left"] is not None:
        evidence.append(
            _bi(f"PIN tries left {pin['tries_left']}", f"密码剩余 {pin['tries_left']} 次")
        )
    elif pin["source"] == "verify" and not pin["required"]:
        evidence.append(_bi("no PIN needed now (none set, or already verified)", "当前无需密码"))
    elif pin["source"] == "verify":
        evidence.append(_bi("PIN tries unknown", "密码剩余次数未知"))
    elif s["layout"] == "mf":
        evidence.append(_bi("no PIN in the MF", "MF 下无个人密码"))
    if s["holder_status"]:
        evidence.append(_bi(*_HOLDER[s["holder_status"]]))
    if evidence:
        lines.append("  " + " · ".join(evidence))
    e = s["enablement"]
    lines.append(f"  {_bi('enablement', '社保功能启用')}: {_bi(e['en'], e['zh'])}")

    v = b["verdict"]
    lines.append(f"{_bi('bank application', '金融应用')}: {_bi(v['en'], v['zh'])}")
    evidence = []
    if b["aid"]:
        label = f' "{b["label"]}"' if b["label"] else ""
        how = _SELECTION.get(b["selection"], b["selection"])
        how = (
            _bi(f"found by {how[0]}", f"经{how[1]}找到")
            if isinstance(how, tuple)
            else _bi(f"found by {how}", f"经 {how} 找到")
        )
        evidence.append(f"{b['aid']}{label} ({how})")
    if b["select_sw"]:
        evidence.append(f"SELECT {b['select_sw']}")
    if b["state"] == "absent" and not b["aid"]:
        evidence.append(
            _bi("no payment application answered (PSE, PPSE, UnionPay AIDs)", "未找到金融应用")
        )
    if evidence:
        lines.append("  " + " · ".join(evidence))
    c = b["counters"]
    if b["aid"] and b["state"] != "card_blocked":
        atc = c["atc"] if c["atc"] is not None else _NOT_GIVEN
        online = c["last_online_atc"] if c["last_online_atc"] is not None else _NOT_GIVEN
        usage = [
            f"{_bi('transaction counter (ATC)', '交易计数器')} {atc}",
            f"{_bi('last online ATC', '上次联机计数')} {online}",
        ]
        log = b["log"]
        if not log["read"]:
            usage.append("log not read (--logs) / 未读取日志")
        elif log["records"] is not None:
            n = len(log["transactions"])
            usage.append(_bi(f"log {n} {'entry' if n == 1 else 'entries'}", f"日志 {n} 条"))
        hint = {
            True: ("used", "使用过"),
            False: ("never used", "从未使用"),
            None: ("unknown", "未知"),
        }[b["used"]]
        lines.append("  " + " · ".join(usage) + f" → {_bi('usage hint', '使用提示')}: {_bi(*hint)}")
        if c["pin_tries_left"] is not None:
            lines.append(
                "  "
                + _bi(
                    f"offline PIN tries left (9F17) {c['pin_tries_left']}",
                    f"脱机密码剩余 {c['pin_tries_left']} 次",
                )
            )
        else:
            lines.append(
                "  "
                + _bi(
                    "offline PIN tries: not given by the card (9F17)", "卡片未提供脱机密码剩余次数"
                )
            )
        ec = b["electronic_cash"]
        if ec and ec["balance"] is not None:
            limit = (
                f" ({_bi('limit', '上限')} {_yuan(ec['balance_limit'])})"
                if ec["balance_limit"] is not None
                else ""
            )
            lines.append(
                f"  {_bi('e-cash balance', '电子现金余额')} {_yuan(ec['balance'])}{limit}"
                f" {_currency(b['currency'])}".rstrip()
            )
        for t in log["transactions"]:
            lines.append(
                f"    #{t['number']} {t['date']} {t['time'] or ''} "
                f"{_bi('amount', '金额')} {_yuan(t['amount'])} {_currency(t['currency'])} "
                f"{_coded_text(t['type'])} {t['merchant'] or ''}".rstrip()
            )
        for x in b["load_log"]:
            lines.append(
                f"    {_bi('load', '圈存')} #{x['number']} {x['date']} "
                f"{_yuan(x['balance_before'])} → {_yuan(x['balance_after'])}"
            )
    status = b["records_status"]
    records = _bi("records", "记录")
    if status == "not_requested":
        lines.append(
            f"  {records}: "
            + _bi(
                "not read (--bank-records reads them with one GPO: ATC + 1)",
                "未读取（--bank-records 以一次获取处理选项读取：ATC 加 1）",
            )
        )
    elif status == "read" and b["records"]:
        r = b["records"]
        absent = _bi("absent", "无")
        lines.append(
            f"  {_bi('PAN', '主账号')} {r['pan'] or absent}"
            f" · {_bi('expires', '有效期至')} {r['expiry_date'] or absent}"
            f" · {_bi('name', '姓名')} {r['name'] or '—'}"
            f" · {_bi('ID', '证件')} {r['id_number'] or '—'} ({_coded_text(r['id_type'])})"
        )
    elif status == "refused":
        lines.append(
            f"  {records}: "
            + _bi("GPO refused (6985), not read", "拒绝获取处理选项（6985），未读取")
        )
    elif status == "withheld":
        lines.append(
            f"  {records}: "
            + _bi(
                "not read, no GPO sent (ATC unknown or at its end)",
                "未发送获取处理选项（ATC 未知或已到上限），未读取",
            )
        )
    a = b["activation"]
    lines.append(f"  {_bi('activation', '金融功能激活')}: {_bi(a['en'], a['zh'])}")

    if doc["cross_checks"]:
        lines.append(f"{_bi('cross-checks', '交叉核对')}:")
        for x in doc["cross_checks"]:
            item = _CHECK_ITEMS.get(x["item"], (x["item"], x["item"]))
            lines.append(
                f"  {_bi(*item)}: {_bi(*_OUTCOMES[x['outcome']])} — {_bi(x['en'], x['zh'])}"
            )
    if doc["findings"]:
        lines.append(f"{_bi('findings', '提示')}:")
        for f in doc["findings"]:
            severity = _SEVERITY.get(f["severity"], (f["severity"], f["severity"]))
            lines.append(f"  [{_bi(*severity)}] {_bi(f['en'], f['zh'])}")
    if doc.get("advice"):
        lines.append(f"{_bi('what to do', '建议')}:")
        for a in doc["advice"]:
            lines.append(f"  {_bi(a['en'], a['zh'])}")
    return wrap_text("\n".join(lines), width)
