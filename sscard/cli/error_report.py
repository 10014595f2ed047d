"""How a failed run is reported: one line `error: …` (English / Chinese) on stderr, and with
--json an sscard.error/1 document on stdout too; click's usage errors get their Chinese."""

from __future__ import annotations

import click

from sscard.cli import output

ERROR_SCHEMA = "sscard.error/1"


def wants_json(argv: list[str]) -> bool:
    """--json, or --format json, on the command line (before a `--`)."""
    args = argv[: argv.index("--")] if "--" in argv else argv
    return (
        "--json" in args
        or "--format=json" in args
        or any(a == "--format" and b == "json" for a, b in zip(args, args[1:], strict=False))
    )


def json_error(
    argv: list[str],
    exit_code: int,
    kind: str,
    en: str,
    zh: str,
    *,
    sw: int | None = None,
    tries_left: int | None = None,
) -> None:
    """With --json, the error is a JSON document on standard output too (the one line on
    stderr stays), so a program reading the JSON never gets nothing."""
    if not wants_json(argv):
        return
    click.echo(
        output.dumps(
            {
                "schema": ERROR_SCHEMA,
                "error": {
                    "type": kind,
                    "exit_code": int(exit_code),
                    "en": en,
                    "zh": zh,
                    "sw": None if sw is None else f"{sw:04X}",
                    "tries_left": tries_left,
                },
            }
        )
    )


def one_line(text: str) -> str:
    return " ".join(text.split())


# click's usage errors in Chinese, by kind (the English is click's own message)
_USAGE_ZH = (
    (click.exceptions.NoSuchOption, "无此选项：{option}"),
    (click.exceptions.MissingParameter, "缺少参数：{param}"),
    (click.exceptions.BadParameter, "参数值无效：{param}"),
    (click.exceptions.BadOptionUsage, "选项用法错误：{option}"),
)
# click's other usage errors come from ctx.fail() with only an English text: by its start
_USAGE_ZH_BY_TEXT = (
    ("No such command", "无此子命令"),
    ("Got unexpected extra argument", "多余的参数"),
    ("Option '", "选项用法错误"),
)


def usage_line(e: click.UsageError, argv: list[str], root: click.Group) -> str:
    """One line for any usage error: `<English> (see 'sscard … --help') / <中文>（…）`."""
    if _pin_like_argument(argv):
        # the offending word may be a PIN typed on the command line: never echo it
        return (
            "invalid command line for `sscard pin` (a PIN is never an argument: use the "
            "prompt or --pin-stdin; see 'sscard pin --help') / 命令行参数无效（密码不能作为"
            "参数；参见 'sscard pin --help'）"
        )
    path = e.ctx.command_path if e.ctx is not None else "sscard"
    named = _command_path(root, argv)
    if len(named) > len(path):  # an option error raised before the subcommand's context
        path = named
    if isinstance(e, click.exceptions.NoArgsIsHelpError):
        group = e.ctx.command if e.ctx else None  # a group asked without its subcommand
        names = ", ".join(group.list_commands(e.ctx)) if isinstance(group, click.Group) else ""
        en, zh = f"a command is needed ({names})", "需要子命令"
    else:
        en = one_line(e.format_message()).rstrip(".")
        zh = (
            getattr(e, "zh", None)
            or next((text for cls, text in _USAGE_ZH if isinstance(e, cls)), None)
            or next(
                (text for start, text in _USAGE_ZH_BY_TEXT if en.startswith(start)),
                "命令行用法错误",
            )
        )
        option = getattr(e, "option_name", None) or ""
        param = getattr(e, "param", None)
        hint = param.get_error_hint(e.ctx) if param is not None and e.ctx is not None else option
        zh = zh.format(option=option, param=hint).rstrip("：")
    return f"{en} (see '{path} --help') / {zh}（参见 '{path} --help'）"


def _command_path(root: click.Group, argv: list[str]) -> str:
    """`sscard pin verify` for argv ["pin", "verify", …]: the commands named on the line."""
    path, command = ["sscard"], root  # type: list[str], click.Command
    ctx = click.Context(root, info_name="sscard")
    for word in argv:
        if word.startswith("-") or not isinstance(command, click.Group):
            continue
        sub = command.get_command(ctx, word)
        if sub is None:
            break
        path.append(word)
        command = sub
    return " ".join(path)


def _pin_like_argument(argv: list[str]) -> bool:
    """Whether a `sscard pin` command line holds something that may be a PIN: a run of 4 or
    more digits in any word (a PIN is 4–16 digits), which a usage error must not echo."""
    import re

    if next((a for a in argv if not a.startswith("-")), None) != "pin":
        return False
    return any(re.search(r"\d{4,}", a) for a in argv)
