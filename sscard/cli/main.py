"""`sscard` — read the PRC social security card from the terminal.

Errors print one line `error: …` (English / Chinese) and exit non-zero; a
traceback only with -d/--debug.  Exit codes: see `sscard.errors.ExitCode`.

Each command lives in a module of its own (COMMANDS), imported only when the command runs, so
that `sscard read` pays for nothing else; the dependency goes one way: this module → command
modules → sscard.cli.options and the views.
"""

from __future__ import annotations

import sys

import click

from sscard import errors
from sscard.cli import error_report, output
from sscard.cli.options import RunState, debug_option
from sscard.errors import ExitCode

# name: (module, the one-line help `sscard --help` shows without importing the module; a test
# keeps it equal to the first sentence of the command's own help)
COMMANDS = {
    "emulate": (
        "sscard.cli.emulate_cmd",
        "Insert the emulated card PERSONA into vpcd, where any PC/SC program sees it.",
    ),
    "personas": (
        "sscard.cli.personas_cmd",
        "List the built-in emulated cards; `personas new` writes a synthetic one, `personas "
        "check FILE` validates a persona file.",
    ),
    "pin": (
        "sscard.cli.pin_cmd",
        "PIN of the social security application: tries left, verify, change.",
    ),
    "read": ("sscard.cli.read_cmd", "Read identity data from the social security application."),
    "readers": (
        "sscard.cli.readers_cmd",
        "List the PC/SC readers, their cards and whether each answers as a social security card.",
    ),
    "replay": (
        "sscard.cli.replay_cmd",
        "Run a --record FILE again: the recorded command (read or status) on the recorded "
        "answers, no card needed.",
    ),
    "serve": (
        "sscard.cli.serve_cmd",
        "Run the local kiosk service: HTTP API, live events, and the national-interface "
        "compatible WebSocket, on one loopback port.",
    ),
    "status": (
        "sscard.cli.status_cmd",
        "Show the state of the social security and bank applications.",
    ),
    "watch": (
        "sscard.cli.watch_cmd",
        "Report card insertions and removals; read each inserted card.",
    ),
}


class LazyGroup(click.Group):
    """The commands of COMMANDS, each imported from its module when named: the module's
    attribute of the command's name.  `sscard --help` lists them from the table alone."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx, name):
        if name in COMMANDS and name not in self.commands:
            from importlib import import_module

            self.add_command(getattr(import_module(COMMANDS[name][0]), name), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        """As click's, with the short help from the table (no command module imported)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._listed(name).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _listed(self, name: str) -> click.Command:
        if name in self.commands or name not in COMMANDS:
            return self.commands[name]
        return click.Command(name, help=COMMANDS[name][1])


def _exit_codes_help() -> str:
    """The epilog of `sscard --help`: errors.EXIT_CODES, the table README.md also shows."""
    rows = [f"  {code:<4}{en}\n      {zh}" for code, en, zh in errors.EXIT_CODES]
    return "\b\nExit codes / 退出码:\n" + "\n".join(rows) + "\n"


@click.group(
    cls=LazyGroup,
    epilog=_exit_codes_help(),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="sscard", prog_name="sscard")
@debug_option
def cli() -> None:
    """Read the PRC social security card (社会保障卡)."""


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises, never prints a raw traceback
    unless -d was given)."""
    state = RunState()
    output.survive_the_terminal()
    try:
        code = _run(sys.argv[1:] if argv is None else argv, state)
        failed = state.save_recording()  # after the result (or error) is out: it is never lost
        if failed is not None:
            click.echo(f"error: {failed}", err=True)
            if code == ExitCode.OK:
                code = ExitCode.FAILURE
        return code
    finally:
        state.recording = None
        state.stop_logging_to_stderr()


def _run(argv: list[str], state: RunState) -> int:
    try:
        # not cli.main(): it turns Ctrl-C into Abort after printing an empty line
        with cli.make_context("sscard", list(argv), obj=state) as ctx:
            code = cli.invoke(ctx)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        line = error_report.usage_line(e, argv, cli)
        click.echo(f"error: {line}", err=True)
        error_report.json_error(argv, ExitCode.USAGE, "UsageError", *line.split(" / ", 1))
        return ExitCode.USAGE
    except click.ClickException as e:  # click's file errors and the like: one line too
        click.echo(f"error: {error_report.one_line(e.format_message())} / 命令行参数无效", err=True)
        return ExitCode.USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C into Abort; both are an interrupt (130, as shells report SIGINT)
        click.echo("error: interrupted / 已中断", err=True)
        error_report.json_error(argv, ExitCode.INTERRUPTED, "Interrupted", "interrupted", "已中断")
        return ExitCode.INTERRUPTED
    except errors.SscardError as e:
        if state.debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {e.bilingual()}", err=True)
        error_report.json_error(
            argv,
            e.exit_code,
            type(e).__name__,
            e.message,
            e.zh,
            sw=getattr(e, "sw", None),
            tries_left=getattr(e, "tries_left", None),
        )
        return e.exit_code
    except Exception as e:  # a bug: say so in one line, details only with -d
        if state.debug:
            import traceback

            traceback.print_exc()
        click.echo(
            f"error: internal error ({type(e).__name__}); run with -d for details / 内部错误",
            err=True,
        )
        return ExitCode.FAILURE
    return code if isinstance(code, int) else ExitCode.OK


if __name__ == "__main__":
    main()
