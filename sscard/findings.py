"""Findings: what looks wrong on a card (either application), reported, never silently fixed."""

from __future__ import annotations

from dataclasses import dataclass

from sscard.results import Finding

# code: (severity, English, Chinese)
MESSAGES = {
    "card_number_check": (
        "info",
        "card number check character does not match (common on real cards)",
        "卡号校验位不符（实际卡片中常见）",
    ),
    "card_expired": ("warning", "the card is past its expiry date", "卡片已超过有效期"),
    "card_rid": (
        "warning",
        "card identification code does not carry the MOHRSS RID D156000005",
        "卡识别码中的注册标识不是 D156000005",
    ),
    "unknown_version": ("warning", "unrecognised specification version", "无法识别的规范版本"),
    "algorithm_absent": (
        "info",
        "FCI names no algorithm (assumed DES/3DES)",
        "FCI 中无算法标识（按 DES/3DES 处理）",
    ),
    "unknown_code": ("warning", "value not in its code table", "代码值不在代码表中"),
    "record_missing": ("warning", "record not found on the card", "卡中未找到该记录"),
    "required_missing": (
        "warning",
        "a required item is absent or empty: the identity is incomplete",
        "必备数据项缺失或为空：身份信息不完整",
    ),
    "id_number_invalid": (
        "warning",
        "social security number fails the GB 11643 check",
        "社会保障号码未通过 GB 11643 校验",
    ),
    "birth_date_mismatch": (
        "warning",
        "birth date differs from the one in the social security number",
        "出生日期与社会保障号码中的不一致",
    ),
    "sex_mismatch": (
        "warning",
        "sex differs from the one in the social security number",
        "性别与社会保障号码中的不一致",
    ),
    "not_authentic": (
        "warning",
        "the card failed internal authentication with these keys: a copy, "
        "or keys of another issuer; external authentication was not attempted",
        "内部认证失败（卡片可能为伪卡，或密钥不属于该发卡方），未进行外部认证",
    ),
    "atr_malformed": (
        "warning",
        "the ATR does not parse (ISO/IEC 7816-3): no historical "
        "bytes, and no key can be derived for this card",
        "ATR 格式错误（ISO/IEC 7816-3）：无历史字节，无法分散该卡密钥",
    ),
    "atr_historical_bytes": (
        "warning",
        "the ATR does not have the 13 historical bytes of a "
        "social security card (found / expected)",
        "ATR 历史字节数不是社会保障卡的 13 个（实际 / 应为）",
    ),
    "auth_not_checked": ("info", "internal authentication could not be done", "无法进行内部认证"),
    "external_auth_not_sent": (
        "warning",
        "EXTERNAL AUTHENTICATE not sent: the card did not prove "
        "itself first (no internal authentication key, or no answer), and "
        "an unchecked try could only count down its read key",
        "未进行外部认证：卡片未先通过内部认证（无内部认证密钥或卡片未应答），"
        "盲目尝试只会消耗读密钥的剩余次数",
    ),
    "external_auth_failed": (
        "warning",
        "external authentication failed (not retried)",
        "外部认证失败（未重试）",
    ),
    "key_locked": ("warning", "the card's read key is locked", "卡片读密钥已锁定"),
    "algorithm_unsupported": (
        "warning",
        "the card's algorithm is not supported for authentication",
        "不支持该卡的密码算法",
    ),
    # bank (UnionPay PBOC) application and cross-checks (sscard status)
    "bank_id_mismatch": (
        "warning",
        "the bank application's ID number (9F61) differs from the social security number",
        "金融应用证件号码（9F61）与社会保障号码不一致",
    ),
    "bank_id_invalid": (
        "warning",
        "the bank application's ID number (9F61) fails the GB 11643 check",
        "金融应用证件号码（9F61）未通过 GB 11643 校验",
    ),
    "bank_id_type_pair": (
        "warning",
        "ID number (9F61) and ID type (9F62) should be both present or both absent",
        "证件号码（9F61）与证件类型（9F62）应同时存在或同时缺省",
    ),
    "bank_name_mismatch": (
        "warning",
        "the bank application's name (5F20/9F0B) differs from the holder name",
        "金融应用姓名（5F20/9F0B）与持卡人姓名不一致",
    ),
    "bank_expired": (
        "warning",
        "the bank application is past its expiry date (5F24)",
        "金融应用已超过有效期（5F24）",
    ),
    "bank_not_yet_effective": (
        "warning",
        "the bank application's effective date (5F25) is in the future",
        "金融应用生效日期（5F25）尚未到",
    ),
    "expiry_differs": (
        "info",
        "the card's expiry date (EF05) and the bank application's (5F24) differ",
        "卡片有效期（EF05）与金融应用有效期（5F24）不同",
    ),
    "bank_log_mismatch": (
        "warning",
        "a log record does not match the log format; it was not decoded",
        "日志记录与日志格式不符，未解析",
    ),
    "bank_gpo_refused": (
        "warning",
        "the bank application refused GET PROCESSING OPTIONS (6985): "
        "its records were not read (this alone does not mean it is blocked)",
        "金融应用拒绝了获取处理选项（6985），未读取记录（这本身不表示应用锁定）",
    ),
    "bank_duplicate_tag": (
        "info",
        "a data object appears in more than one record (the first was kept)",
        "同一数据元出现在多条记录中（取第一条）",
    ),
    "bank_not_selectable": (
        "warning",
        "the card lists a payment application it does not select",
        "卡片目录中列出的金融应用无法选择",
    ),
    "bank_no_afl": (
        "warning",
        "the GPO answer names no records to read (AFL)",
        "获取处理选项的应答中无应用文件定位器（AFL）",
    ),
    "bank_gpo_atc_exhausted": (
        "warning",
        "GET PROCESSING OPTIONS not sent: the transaction "
        "counter (ATC) is at its last value or past it, and one more "
        "transaction would end the bank application for good; records "
        "not read",
        "未发送获取处理选项：应用交易计数器（ATC）已到最后一个值"
        "或已用尽，再发起一次交易将使金融应用永久失效；未读取记录",
    ),
    "bank_gpo_atc_unknown": (
        "warning",
        "GET PROCESSING OPTIONS not sent: the card does not give "
        "its transaction counter (ATC, GET DATA 9F36), so it is unknown "
        "whether one more transaction would end the bank application for "
        "good; records not read",
        "未发送获取处理选项：卡片不提供应用交易计数器"
        "（ATC，GET DATA 9F36），无法确定再发起一次交易是否会使金融应用永久失效；"
        "未读取记录",
    ),
    "bank_list_truncated": (
        "warning",
        "the card lists more payment applications than sscard reads; the list shown is cut",
        "卡片列出的金融应用超过读取上限，显示的列表不完整",
    ),
    "bank_no_fci": (
        "warning",
        "the bank application was selected without its FCI: where its "
        "transaction log is kept is unknown, so no log was read",
        "选择金融应用时卡片未返回 FCI：交易日志位置未知，未读取日志",
    ),
    "bank_records_incomplete": (
        "warning",
        "the bank application's records lack a data object a payment application must hold",
        "金融应用记录缺少必备数据元",
    ),
}


@dataclass(frozen=True)
class CardStatusFinding(Finding):
    """A finding caused by a card's answer, with its status word as 4 hex digits (e.g.
    "63C2" after a failed EXTERNAL AUTHENTICATE), for interfaces that report it."""

    sw: str


def finding(
    code: str, field: str | None = None, detail: str | None = None, sw: int | None = None
) -> Finding:
    severity, en, zh = MESSAGES[code]
    if detail:
        en = f"{en}: {detail}"
        zh = f"{zh}：{detail}"
    if sw is not None:
        return CardStatusFinding(code, severity, field, en, zh, f"{sw:04X}")
    return Finding(code, severity, field, en, zh)
