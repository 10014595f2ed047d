"""One error taxonomy for the whole library.

Every failure the library can meet (a reader, a card, a malformed answer, a
refused command, a bad spec or persona file) is raised as a subclass of
`SscardError`, so callers catch one base class.  Each class carries the CLI exit
code it maps to; its default bilingual text is in the message catalogue
(apdu_specs/messages.toml, [error.<class name>]), and a raise may give its own.  A text
never contains a PIN, key or personal data (callers pass neutral descriptions).
"""

from __future__ import annotations

import threading


class ExitCode:
    """Documented CLI exit codes (also used by kiosk wrappers); meanings in EXIT_CODES."""

    OK = 0
    FAILURE = 1  # runtime failure not covered below
    USAGE = 2  # bad command line / bad input file
    NO_READER = 3
    NO_CARD = 4
    NOT_SSC = 5  # the card answers, but not as a social security card
    CARD_BLOCKED = 6  # card, application, PIN or key permanently blocked
    LOCKED = 7  # data needs a key the caller did not provide, or the authentication failed
    CARD_REMOVED = 8  # card removed, reset or swapped during the operation
    COMMUNICATION = 9  # garbage, truncated or unexpected answers
    WRONG_PIN = 10  # the PIN was wrong (the tries left are reported)
    PIN_REFUSED = 11  # sscard refused to send a VERIFY (tries at the floor, or unknown)
    PSAM = 12  # no PSAM, or the PSAM lacks the card's key or algorithm
    EXPIRED = 13  # sscard status: nothing blocked, but an application is past its expiry date
    PIN_NOT_NEEDED = 14  # pin verify sent nothing: the card needs no PIN now, so none was checked
    MISMATCH = 15  # sscard status: the bank application's ID number or name is not the holder's
    NOT_OFFERED = 16  # this card's layout does not hold what was asked (e.g. no EF06, no PIN)
    CARD_REFUSED = 17  # the card refused a command (a status word of no class above)
    CARD_BUSY = 18  # the card is in use by another program
    INCOMPLETE = 19  # an item the spec requires on this card is absent or empty
    CARD_MUTE = 20  # the card stopped answering: nothing within the operation's deadline
    INTERRUPTED = 130  # Ctrl-C (SIGINT), the shells' 128 + 2


# The one table of exit codes: `sscard --help` prints it and a test holds README.md to it.
EXIT_CODES: tuple[tuple[int, str, str], ...] = (
    (ExitCode.OK, "success", "成功"),
    (
        ExitCode.FAILURE,
        "runtime failure (also: the --record file could not be written)",
        "运行失败（包括无法写入 --record 文件）",
    ),
    (
        ExitCode.USAGE,
        "usage error: bad option, unknown persona, bad input file",
        "用法错误：选项、模拟卡名称或输入文件无效",
    ),
    (
        ExitCode.NO_READER,
        "no reader, or the PC/SC service (pcscd) is not running",
        "无读卡器，或 PC/SC 服务（pcscd）未运行",
    ),
    (ExitCode.NO_CARD, "no card in the reader", "读卡器中无卡"),
    (ExitCode.NOT_SSC, "not a social security card", "不是社会保障卡"),
    (
        ExitCode.CARD_BLOCKED,
        "blocked for good: the card, an application, the PIN or a key",
        "已永久锁定：卡片、应用、密码或密钥",
    ),
    (
        ExitCode.LOCKED,
        "data locked: it needs a key not given (generation 3: RKSSSE), "
        "or the card refused the authentication",
        "数据受保护：需要未提供的密钥（第三代卡：RKSSSE），或卡片未通过认证",
    ),
    (
        ExitCode.CARD_REMOVED,
        "card removed or reset during the operation",
        "操作过程中卡片被移除或复位",
    ),
    (
        ExitCode.COMMUNICATION,
        "communication error: a malformed, truncated or unexpected "
        "answer, or a status word the spec does not know",
        "通信错误：应答格式错误、不完整或异常，或规范中没有的状态字",
    ),
    (
        ExitCode.WRONG_PIN,
        "wrong PIN (the tries left are in the message)",
        "密码错误（消息中有剩余次数）",
    ),
    (
        ExitCode.PIN_REFUSED,
        "PIN not sent: the tries left are at or below the floor, or unknown",
        "未发送密码：剩余次数已到下限或未知",
    ),
    (
        ExitCode.PSAM,
        "PSAM: none in its reader, or it lacks the card's key or algorithm",
        "PSAM：读卡器中无 PSAM 卡，或缺少该卡的密钥或算法",
    ),
    (
        ExitCode.EXPIRED,
        "`status`: nothing blocked, but an application is past its expiry date",
        "`status`：无锁定，但有应用已过有效期",
    ),
    (
        ExitCode.PIN_NOT_NEEDED,
        "`pin verify`: PIN not checked — the card needs no PIN now (none "
        "set, or verified already by another program), nothing was sent",
        "`pin verify`：未校验密码——卡片当前无需密码（未设置，或已被其他程序校验），未发送任何指令",
    ),
    (
        ExitCode.MISMATCH,
        "`status --bank-records`: ID number or name mismatch — the bank "
        "application's ID number (`9F61`) or name differs from the social "
        "security application's",
        "`status --bank-records`：证件号码或姓名不符——"
        "金融应用的证件号码（`9F61`）或姓名与社保应用不同",
    ),
    (
        ExitCode.NOT_OFFERED,
        "the card does not offer what was asked: a card without holder data "
        "(EF06, e.g. Shanghai-style) for `--format ireadcardbas`, a "
        "Shanghai-style card whose MF keeps no PIN for `pin`",
        "卡片不提供所请求的内容：无持卡人信息（EF06，如上海样式卡）时的 `--format ireadcardbas`，"
        "或主文件中无密码的上海样式卡的 `pin`",
    ),
    (
        ExitCode.CARD_REFUSED,
        "the card refused a command (its status word is in the message)",
        "卡片拒绝了指令（消息中有状态字）",
    ),
    (
        ExitCode.CARD_BUSY,
        "the card is in use by another program (try again, or --shared)",
        "卡片正被其他程序占用（稍后再试，或用 --shared）",
    ),
    (
        ExitCode.INCOMPLETE,
        "identity incomplete: an item the spec requires for this card's "
        "generation and layout (card identification code, card number, social "
        "security number, name) is absent or empty; what was read is printed",
        "身份信息不完整：该卡代别与结构所必备的数据项（卡识别码、卡号、社会保障号码、姓名）缺失或为空；"
        "已读取的内容照常输出",
    ),
    (
        ExitCode.CARD_MUTE,
        "card mute: the card stopped answering, an operation did not finish "
        "within its deadline (`--timeout`)",
        "卡片无应答：操作未在时限内完成（`--timeout`）",
    ),
    (ExitCode.INTERRUPTED, "interrupted (Ctrl-C)", "已中断（Ctrl-C）"),
)

# The rule for a card's refusal.  apdu_specs/status_words.toml names the error class of each
# status word; the classes below carry the exit codes, by this rule (tests hold both to it):
#   blocked for good (6283 and 9303 application, 6A81 card, 6983 PIN or key)  -> 6
#   authentication needed or failed (6982, 63Cx, 9302)                        -> 7
#     (63Cx answering a VERIFY is a wrong PIN: 10; sscard.ssse.pin)
#   every other status word the spec lists as an error                        -> 17
#   a status word the spec does not know                                      -> 9
# SELECT of the social security application is the one place where a refusal other than
# "blocked" means "not a social security card" (5): the card has no such application
# (6A82, or no such command: 6D00, 6E00).  A blocked answer there is still 6.
SW_RULE: tuple[tuple[str, int], ...] = (
    ("blocked", ExitCode.CARD_BLOCKED),
    ("authentication", ExitCode.LOCKED),
    ("refused", ExitCode.CARD_REFUSED),
    ("unknown", ExitCode.COMMUNICATION),
)


def _summary(cls: type) -> str:
    """The first line of an error class's docstring."""
    return (cls.__doc__ or cls.__name__).strip().splitlines()[0]


_catalogue_read = threading.local()


def default_text(cls: type[SscardError]) -> tuple[str, str]:
    """An error class's default (English, Chinese) text: its entry in the message catalogue
    (apdu_specs/messages.toml, [error.<class name>]), else its nearest base class's.

    An error raised while the catalogue itself is read (a broken messages.toml) cannot look
    itself up: it says its docstring's first line, in both places."""
    if getattr(_catalogue_read, "busy", False):
        return _summary(cls), _summary(cls)
    _catalogue_read.busy = True
    try:
        from sscard.spec.messages import catalogue

        entries = catalogue()
    finally:
        _catalogue_read.busy = False
    for klass in cls.__mro__:
        entry = entries.get(f"error.{klass.__name__}")
        if entry is not None:
            return entry.en, entry.zh
    return _summary(cls), _summary(cls)  # not reached: SscardError has its entry


class SscardError(Exception):
    """Base of every error raised by sscard."""

    exit_code = ExitCode.FAILURE

    def __init__(self, message: str | None = None, *, zh: str | None = None) -> None:
        if message is None or zh is None:  # the class's text, from the message catalogue
            default_en, default_zh = default_text(type(self))
            message, zh = message or default_en, default_zh if zh is None else zh
        self.message: str = message
        self.zh: str = zh
        super().__init__(self.message)

    def bilingual(self) -> str:
        return f"{self.message} / {self.zh}"


# --- usage and data files -------------------------------------------------


class InvalidArgument(SscardError):
    """Invalid argument."""

    exit_code = ExitCode.USAGE


class ReaderNotFound(InvalidArgument):
    """No reader matches the choice."""


class SpecError(SscardError):
    """Invalid specification or persona file."""

    exit_code = ExitCode.USAGE


class RecordingFailed(SscardError):
    """The --record file could not be written."""

    exit_code = ExitCode.FAILURE


# --- reader / PC/SC layer ---------------------------------------------------


class ReaderError(SscardError):
    """Reader error."""

    exit_code = ExitCode.NO_READER


class NoReader(ReaderError):
    """No smart-card reader found."""


class ReaderGone(ReaderError):
    """The reader was disconnected."""


START_PCSCD = (
    "start it: `sudo systemctl start pcscd`, or on a machine without systemd "
    "`sudo pcscd` (`sudo pcscd --foreground &` keeps it in this terminal)",
    "启动方法：`sudo systemctl start pcscd`；没有 systemd 的机器上用 `sudo pcscd`"
    "（`sudo pcscd --foreground &` 在当前终端运行）",
)


class ServiceUnavailable(ReaderError):
    """The PC/SC service (pcscd) is not running."""

    def __init__(self, message: str | None = None, *, zh: str | None = None) -> None:
        if message is None:  # the service is down, not pyscard missing: say how to start it
            message = f"the PC/SC service (pcscd) is not running; {START_PCSCD[0]}"
            zh = zh or f"PC/SC 服务（pcscd）未运行；{START_PCSCD[1]}"
        super().__init__(message, zh=zh)


class VpcdSlotTaken(ReaderError):
    """The vpcd slot did not take the emulated card (another card holds it)."""

    exit_code = ExitCode.FAILURE


# --- card presence ------------------------------------------------------------


class CardError(SscardError):
    """Card error."""

    exit_code = ExitCode.NO_CARD


class NoCard(CardError):
    """No card in the reader."""


class CardRemoved(CardError):
    """The card was removed during the operation."""

    exit_code = ExitCode.CARD_REMOVED


class CardReset(CardError):
    """The card was reset during the operation."""

    exit_code = ExitCode.CARD_REMOVED


class CardBusy(CardError):
    """The card is in use by another program."""

    exit_code = ExitCode.CARD_BUSY


class CardMute(CardError):
    """The card does not answer."""

    exit_code = ExitCode.CARD_MUTE


# --- protocol: what came back cannot be understood ---------------------------


class ProtocolError(SscardError):
    """Malformed answer from the card."""

    exit_code = ExitCode.COMMUNICATION


class DecodeError(ProtocolError):
    """Malformed data."""

    def __init__(
        self, message: str | None = None, *, offset: int | None = None, zh: str | None = None
    ) -> None:
        self.offset = offset
        if message is not None and offset is not None:
            message = f"{message} (at byte offset {offset})"
        super().__init__(message, zh=zh)


class TruncatedResponse(ProtocolError):
    """The card's answer is shorter than a status word."""


class ChainTooLong(ProtocolError):
    """The card kept asking for more exchanges than allowed."""


class BudgetExceeded(ProtocolError):
    """The card made the operation cost more than a real card can (sscard.budget)."""


class UnexpectedCommand(ProtocolError):
    """A replayed exchange does not match the command sent."""


# --- command: the card refused (carries the status word) -----------------------


class CommandError(SscardError):
    """The card refused a command."""

    exit_code = ExitCode.CARD_REFUSED
    sw_class: str | None = "refused"  # SW_RULE; None: raised by sscard, never for a status word

    def __init__(
        self,
        message: str | None = None,
        *,
        sw: int | None = None,
        command: str | None = None,
        zh: str | None = None,
        tries_left: int | None = None,
    ) -> None:
        self.sw = sw
        self.command = command
        self.tries_left = tries_left
        parts = [message or default_text(type(self))[0]]
        if command:
            parts.append(f"during {command}")
        if sw is not None:
            parts.append(f"(SW {sw:04X})")
        super().__init__(" ".join(parts), zh=zh)


class NotFound(CommandError):
    """File or record not found."""


class SecurityNotSatisfied(CommandError):
    """Security status not satisfied (authentication required)."""

    exit_code = ExitCode.LOCKED
    sw_class = "authentication"


class AuthenticationFailed(CommandError):
    """Authentication failed."""

    exit_code = ExitCode.LOCKED
    sw_class = "authentication"


class AuthenticationBlocked(CommandError):
    """Authentication method blocked (PIN or key locked)."""

    exit_code = ExitCode.CARD_BLOCKED
    sw_class = "blocked"


class WrongLength(CommandError):
    """Wrong length."""


class WrongParameters(CommandError):
    """Wrong parameters or data."""


class ConditionsNotSatisfied(CommandError):
    """Conditions of use not satisfied."""


class NotSupported(CommandError):
    """Instruction or class not supported by the card."""


class AlgorithmNotSupported(NotSupported):
    """sscard cannot compute with this card's algorithm."""

    exit_code = ExitCode.FAILURE
    sw_class = None  # raised by sscard itself, never for a status word


class ApplicationBlocked(CommandError):
    """The application is permanently blocked."""

    exit_code = ExitCode.CARD_BLOCKED
    sw_class = "blocked"


class CardBlocked(CommandError):
    """The card is permanently blocked."""

    exit_code = ExitCode.CARD_BLOCKED
    sw_class = "blocked"


class UnknownStatus(CommandError):
    """The card answered with an unknown status word."""

    exit_code = ExitCode.COMMUNICATION
    sw_class = "unknown"


# --- PIN ------------------------------------------------------------------------------
# Messages never contain the PIN; they carry the tries left when the card told them.


class PinError(SscardError):
    """PIN error."""

    exit_code = ExitCode.WRONG_PIN

    def __init__(
        self, message: str | None = None, *, tries_left: int | None = None, zh: str | None = None
    ) -> None:
        self.tries_left = tries_left
        super().__init__(message, zh=zh)


class WrongPin(PinError):
    """Wrong PIN."""

    def __init__(self, tries_left: int) -> None:
        super().__init__(
            f"wrong PIN: {tries_left} tries left",
            tries_left=tries_left,
            zh=f"密码错误，剩余 {tries_left} 次",
        )


class PinBlocked(PinError):
    """The PIN is blocked; only the card issuer can unblock it."""

    exit_code = ExitCode.CARD_BLOCKED

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, tries_left=0)


class PinRefused(PinError):
    """VERIFY not sent: it could block the PIN."""

    exit_code = ExitCode.PIN_REFUSED


class PinNotNeeded(PinError):
    """PIN not checked: the card needs no PIN now (none set, or verified already by another
    program), so nothing was sent."""

    exit_code = ExitCode.PIN_NOT_NEEDED

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "PIN not checked: the card answered the empty VERIFY with "
            "9000 (no PIN set, or verified already by another program), so "
            "nothing was sent",
            tries_left=None,
        )


class InvalidPin(InvalidArgument):
    """A PIN is 4 to 16 digits."""


# --- two-step read with a platform HSM (sscard.auth.hsm) -------------------------------
# Messages never quote the HSM's answer: it holds cryptograms.


class HsmAnswerInvalid(InvalidArgument):
    """The HSM answer (pKey) is malformed."""


class HsmAnswerMismatch(InvalidArgument):
    """The HSM answer was computed for another Step 1."""


class HsmCardMismatch(CardRemoved):
    """This is not the card (or connection) of Step 1; nothing was sent."""


class HsmChallengeLost(CardError):
    """The card's challenge from Step 1 is gone; run Step 1 again."""

    exit_code = ExitCode.CARD_REMOVED


class HsmNotNeeded(SscardError):
    """This card offers nothing for an HSM to authenticate."""


# --- card identity --------------------------------------------------------------


class IdentityIncomplete(SscardError):
    """The identity is incomplete: an item the spec requires on this card is absent or empty."""

    exit_code = ExitCode.INCOMPLETE


class NotSocialSecurityCard(SscardError):
    """This card is not a social security card."""

    exit_code = ExitCode.NOT_SSC


class NotOffered(SscardError):
    """This card does not offer what was asked."""

    exit_code = ExitCode.NOT_OFFERED


# --- PSAM (the terminal's security access module; sscard.auth.psam) ------------------------
# Raised before the card command that needed the PSAM, so a PSAM problem never costs a
# card try.  Messages never quote what the PSAM computed.


class PsamError(SscardError):
    """The PSAM failed."""

    exit_code = ExitCode.PSAM

    def __init__(
        self, message: str | None = None, *, sw: int | None = None, zh: str | None = None
    ) -> None:
        self.sw = sw
        if message is not None and sw is not None:
            message = f"{message} (SW {sw:04X})"
        super().__init__(message, zh=zh)


class PsamMissing(PsamError):
    """No PSAM: its reader holds no card, or no social security PSAM."""


class PsamAlgorithmUnsupported(PsamError):
    """The PSAM has no keys for the card's algorithm."""


class PsamKeyMissing(PsamError):
    """The PSAM does not hold the key."""

    def __init__(self, key: str, message: str | None = None, *, sw: int | None = None) -> None:
        self.key = key
        super().__init__(message or f"the PSAM does not hold {key}", sw=sw, zh=f"PSAM卡无{key}密钥")


class PsamKeyUsage(PsamError):
    """The PSAM's key has another usage or number of diversification levels."""


def error_class(name: str) -> type[CommandError]:
    """Resolve the error class a status word names in apdu_specs/ (validated at spec load time):
    a refusal of the card, so a `CommandError` that carries the status word and the command."""
    cls = globals().get(name)
    if not (isinstance(cls, type) and issubclass(cls, CommandError)):
        raise KeyError(name)
    return cls
