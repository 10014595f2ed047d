"""`sscard pin`: the social security application's PIN — tries left, verify, change.  Every
check comes before the PIN is asked for; one attempt per command, nothing retried."""

from __future__ import annotations

import sys

import click

from sscard import errors
from sscard.cli import output
from sscard.cli.options import (
    CardSource,
    RunState,
    debug_option,
    emulator_option,
    open_card,
    pass_state,
    reader_options,
    takes_card_source,
    using,
)
from sscard.errors import ExitCode


@click.group()
def pin() -> None:
    """PIN of the social security application: tries left, verify, change.

    \b
    The PIN is read from a hidden prompt, or from standard input with --pin-stdin
    (one PIN per line); never from the command line.  Before any VERIFY the tries
    left are asked (an empty VERIFY, which spends none); sscard refuses when they
    are at or below --floor (default 1) unless --force-last-try.  One attempt per
    command: nothing is retried.
    """


def _card_source_options(f):
    f = reader_options(f)
    return emulator_option("Use a built-in emulated card instead of a reader.")(f)


def _pin_options(f):
    f = click.option(
        "--force-last-try",
        is_flag=True,
        help="Send the VERIFY even at or below the floor, or with unknown tries.",
    )(f)
    f = click.option(
        "--floor",
        type=click.IntRange(0, 15),
        default=1,
        show_default=True,
        help="Refuse to verify when the tries left are at or below this.",
    )(f)
    f = click.option(
        "--pin-stdin", is_flag=True, help="Read the PIN(s) from standard input, one per line."
    )(f)
    return f


def _read_pins(prompts: list[str], from_stdin: bool) -> list[str]:
    if from_stdin:
        try:
            lines = sys.stdin.read(4096).splitlines()  # a few PIN lines, never a stream
        except UnicodeDecodeError:
            raise errors.InvalidArgument(
                "standard input is not text", zh="标准输入不是文本"
            ) from None
        if len(lines) < len(prompts):
            raise errors.InvalidArgument(
                f"standard input holds {len(lines)} of the {len(prompts)} PIN lines needed"
            )
        return [line.strip() for line in lines[: len(prompts)]]
    if not sys.stdin.isatty():  # asked last: the card's own answers come first
        raise errors.InvalidArgument(
            "no terminal for the hidden PIN prompt: use --pin-stdin",
            zh="没有可用于隐藏输入密码的终端：请使用 --pin-stdin",
        )
    return [click.prompt(p, hide_input=True, err=True) for p in prompts]


@pin.command("tries")
@_card_source_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@debug_option
@pass_state
@takes_card_source
def pin_tries(state: RunState, source: CardSource, as_json) -> int:
    """Show the PIN tries left (spends no try)."""
    card, _ = open_card(state, source)
    with using(card):
        tries = card.pin_tries()
    if as_json:
        click.echo(
            output.dumps(
                {
                    "tries_left": tries.tries_left,
                    "blocked": tries.blocked,
                    "required": tries.required,
                    "known": tries.known,
                    "sw": f"{tries.sw:04X}",
                }
            )
        )
    elif tries.blocked:
        click.echo("PIN blocked / 密码已锁定")
    elif not tries.required:
        click.echo("no PIN needed now (none set, or already verified) / 当前无需密码")
    elif tries.tries_left is None:
        odd = " with unexpected data" if tries.unexpected_data else ""
        click.echo(f"tries left: unknown (the card answered {tries.sw:04X}{odd}) / 剩余次数未知")
    else:
        click.echo(f"tries left: {tries.tries_left} / 剩余尝试次数：{tries.tries_left}")
    return ExitCode.CARD_BLOCKED if tries.blocked else ExitCode.OK


@pin.command("verify")
@_card_source_options
@_pin_options
@debug_option
@pass_state
@takes_card_source
def pin_verify(state: RunState, source: CardSource, pin_stdin, floor, force_last_try) -> int:
    """Verify the PIN once (spends a try when wrong).

    Everything is checked before the PIN is asked for: the card, its tries left, the
    floor.  A card that needs no PIN now (it answers the empty VERIFY with 9000: none set,
    or verified already by another program) gets nothing and the command exits 14: the
    PIN was not checked.
    """
    from sscard.ssse import pin as pin_rules
    from sscard.ssse.pin import VerifyOutcome

    card, _ = open_card(state, source)
    with using(card):
        if not pin_rules.would_send(card.pin_tries(), floor=floor, force_last_try=force_last_try):
            raise errors.PinNotNeeded()
        (value,) = _read_pins(["PIN / 密码"], pin_stdin)
        result = card.verify_pin(value, floor=floor, force_last_try=force_last_try)
    if result.outcome is not VerifyOutcome.VERIFIED:  # the card changed its answer meanwhile
        raise errors.PinNotNeeded()
    click.echo("PIN correct / 密码正确")
    return ExitCode.OK


@pin.command("change")
@_card_source_options
@_pin_options
@debug_option
@pass_state
@takes_card_source
def pin_change(state: RunState, source: CardSource, pin_stdin, floor, force_last_try) -> int:
    """Change the PIN (CHANGE PIN: old PIN, then the new one twice).

    The card and its tries left are checked before the PINs are asked for."""
    from sscard.ssse import pin as pin_rules

    card, _ = open_card(state, source)
    with using(card):
        pin_rules.check_change(card.pin_tries(), floor=floor, force_last_try=force_last_try)
        old, new, again = _read_pins(
            ["current PIN / 原密码", "new PIN / 新密码", "new PIN again / 再次输入新密码"],
            pin_stdin,
        )
        if new != again:
            raise errors.InvalidArgument("the two new PINs differ", zh="两次输入的新密码不一致")
        card.change_pin(old, new, floor=floor, force_last_try=force_last_try)
    click.echo("PIN changed / 密码已修改")
    return ExitCode.OK
