"""The national reader interface's iReadCardBas output and error codes (人社信息函〔2016〕38号).

Kiosk software written against the vendor DLLs (SSCardDriver.dll, HNSICRW.DLL …) parses
one `|`-terminated string; producing it exactly lets that software switch to sscard:

    区划代码|社会保障号码|卡号|卡识别码|姓名|卡复位信息|规范版本|发卡日期|卡有效期|终端机编号|终端设备号|

区划代码 = the first 6 hex digits of 卡识别码; 姓名 = name + name extension; 卡号 = its first
9 characters; 卡复位信息 = the ATR's historical bytes; dates YYYYMMDD; 终端机编号 = the PSAM
terminal number, 12 zeros without a PSAM; 终端设备号 = empty without a device number.
Errors are the interface's negative codes; a refused card command is the negated status word
(6A82 → −27266).
"""

from __future__ import annotations

import datetime as _dt

from sscard import errors
from sscard.findings import CardStatusFinding
from sscard.ssse.results import Authenticity, HolderStatus, Identity

NO_PSAM_TERMINAL = "000000000000"
# a record the spec requires is absent (6A83, "record not found", negated as the interface
# does with status words) or holds padding only
INCOMPLETE = (-0x6A83, "必备数据项缺失")
NO_HOLDER_FILE = (-0x6A82, "卡中无持卡人基本信息文件(EF06)")

# (code, message) of the interface for errors that are not a card status word
_CODES: list[tuple[type[errors.SscardError], int, str]] = [
    (errors.NotSocialSecurityCard, -1, "卡类型不对"),
    (errors.NoCard, -2, "无卡"),  # CardRemoved is a NoCard-like CardError: see code_for()
    (errors.CardMute, -4, "卡无应答"),
    (errors.ProtocolError, -4, "卡无应答"),
    (errors.ReaderError, -11, "读卡器连接错"),
    (errors.CardBusy, -11, "读卡器连接错"),
    (errors.InvalidArgument, -14, "命令参数错"),
    (errors.WrongPin, -51, "PIN校验失败"),
    (errors.PinBlocked, -52, "PIN锁定"),
]


INTERRUPTED = (-31, "用户取消")  # Ctrl-C: the interface's "cancelled by the user"


def psam_code(error: errors.PsamError) -> tuple[int, str]:
    """A PSAM failure: −2201/−2202/−2203 make kiosk software fall back to the HSM functions
    (SC-RW §10.5); −24 is the interface's "PSAM key level insufficient"."""
    if isinstance(error, errors.PsamKeyMissing):
        return -2203, f"PSAM无{error.key}"
    if isinstance(error, errors.PsamAlgorithmUnsupported):
        return -2202, "PSAM算法不支持"
    if isinstance(error, errors.PsamKeyUsage):
        return -24, "PSAM卡密钥级别不够"
    if isinstance(error, errors.PsamMissing):
        return -2201, "无PSAM卡"
    return -2201, "PSAM卡错误"  # the PSAM cannot be used: same fallback as none


def _date(value: _dt.date | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def format_identity(
    identity: Identity, *, terminal_number: str = NO_PSAM_TERMINAL, device_number: str = ""
) -> str:
    """The iReadCardBas output string for a completely read card."""
    if identity.holder_status is not HolderStatus.READ or identity.holder is None:
        raise errors.SecurityNotSatisfied("iReadCardBas needs the holder data")
    if identity.missing:  # never a success string with a required field empty
        raise errors.IdentityIncomplete(
            "iReadCardBas needs every required item; missing: " + ", ".join(identity.missing)
        )
    issuer, holder = identity.issuer, identity.holder
    if identity.historical_bytes is None:
        raise errors.DecodeError(
            "the ATR does not parse: no 卡复位信息 (historical bytes)",
            zh="ATR 格式错误，无卡复位信息（历史字节）",
        )
    cid = issuer.card_identification
    fields = [
        cid.region if cid else "",
        holder.social_security_number or "",
        (issuer.card_number or "")[:9],  # SC-RW §1.1.3: the first 9 characters only
        cid.hex if cid else "",
        holder.name or "",
        identity.historical_bytes,
        issuer.spec_version or "",
        _date(issuer.issue_date),
        _date(issuer.expiry_date),
        terminal_number,
        device_number,
    ]
    return join_fields(fields)


DELIMITER = "|"


def join_fields(fields: list[str]) -> str:
    """Each field followed by `|`.  A field holding the delimiter would add fields to the
    string a kiosk parses: the spec's alphabets keep card values free of it (a card value
    with `|` is a decode error), and this refuses whatever got past them (a device number,
    a PSAM's terminal number, a future item) instead of shifting the fields."""
    for n, field in enumerate(fields):
        if DELIMITER in field:
            raise errors.DecodeError(
                f"field {n + 1} of the iReadCardBas string holds the delimiter '{DELIMITER}'",
                zh=f"iReadCardBas 第 {n + 1} 个字段含分隔符 '{DELIMITER}'",
            )
    return "".join(f"{f}{DELIMITER}" for f in fields)


# the two-step HSM read (sscard.auth.hsm), checked before the classes they derive from
_HSM_CODES: list[tuple[type[errors.SscardError], int, str]] = [
    (errors.HsmNotNeeded, -2204, "不需要加密机认证"),
    (errors.HsmAnswerInvalid, -23, "传入数据不合法"),
    (errors.HsmAnswerMismatch, -22, "传入数据与卡内不符"),
    (errors.HsmCardMismatch, -22, "传入数据与卡内不符"),
    (errors.HsmChallengeLost, -22, "传入数据与卡内不符"),
]


def _auth_code(identity: Identity, hsm: bool) -> tuple[int, str] | None:
    """A failed authentication: the card was not genuine, or refused the external one."""
    if identity.authentic is Authenticity.NO:
        return (-25, "内部认证与加密机不一致") if hsm else (-21, "内部认证失败(用户卡不合法)")
    if identity.holder_status is not HolderStatus.LOCKED:
        return None
    sw = next((int(f.sw, 16) for f in identity.findings if isinstance(f, CardStatusFinding)), None)
    if sw is not None and sw & 0xFFF0 == 0x63C0:
        return -sw, f"外部认证失败，剩余可尝试次数{sw & 0x0F}次"
    if sw is not None:
        return -sw, "认证方法已锁定" if sw == 0x6983 else "外部认证失败"
    if hsm:  # the HSM path opened nothing: the card proved nothing, or refused EF06
        return -27010, "安全状态不满足"
    return None


def code_for(
    error: errors.SscardError | None, identity: Identity | None = None, *, hsm: bool = False
) -> tuple[int, str]:
    """The interface's (return code, message) for an error, or for a result it cannot give.
    `hsm`: the result of iReadCardBas_HSM_Step2 (an internal-authentication mismatch is −25)."""
    if error is None:
        failed = _auth_code(identity, hsm) if identity is not None else None
        if failed is not None:
            return failed
        if identity is not None and identity.missing:
            return INCOMPLETE
        if identity is not None and identity.holder_status is HolderStatus.LOCKED:
            return -2201, "无PSAM卡"  # a 3.0 card without a key source (SC-RW §10.5)
        if identity is not None and identity.holder_status is HolderStatus.ABSENT:
            # a social security card without EF06 (e.g. Shanghai-style, EF05 under the MF):
            # its SELECT EF06 answered 6A82, which the interface reports as the negated SW
            return NO_HOLDER_FILE
        return 0, ""
    for cls, code, message in _HSM_CODES:
        if isinstance(error, cls):
            return code, message
    if isinstance(error, errors.IdentityIncomplete):
        return INCOMPLETE
    if isinstance(error, errors.PsamError):
        return psam_code(error)
    if isinstance(error, errors.CardRemoved):
        return -2, "无卡"
    if isinstance(error, errors.CommandError) and error.sw is not None:
        return -error.sw, error.zh
    for cls, code, message in _CODES:
        if isinstance(error, cls):
            return code, message
    return -4, "卡无应答"


def format_error(code: int, message: str) -> str:
    """What the CLI prints for a failure: the code and the message, `|`-terminated."""
    return f"{code}|{message}|"
