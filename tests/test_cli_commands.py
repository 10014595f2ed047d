"""The CLI's shape: one module per command, imported only when that command runs (the start time
of `sscard read`), the help `sscard --help` lists from the table kept equal to each command's
own, and one Card per command."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from sscard.card import Card
from sscard.cli.main import COMMANDS, cli, run

COMMAND_MODULES = {module for module, _ in COMMANDS.values()}


def _modules_after(*argv: str) -> tuple[set[str], subprocess.CompletedProcess]:
    """The sscard.cli modules a fresh process has imported after running `sscard ARGV`."""
    code = (
        "import sys; from sscard.cli.main import run; code = run(sys.argv[1:]); "
        "print('MODULES', *sorted(m for m in sys.modules if m.startswith('sscard.cli.')), "
        "file=sys.stderr); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES"))
    return set(line.split()[1:]), done


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listed_help_is_the_commands_own(name):
    module, listed = COMMANDS[name]
    command = getattr(importlib.import_module(module), name)
    assert command.name == name
    assert listed == command.get_short_help_str(limit=10_000)


def test_every_command_is_in_the_table():
    assert sorted(cli.list_commands(None)) == sorted(COMMANDS)


def test_read_imports_no_other_command():
    loaded, done = _modules_after("read", "--emulator", "gen2")
    assert done.returncode == 0, done.stderr
    assert loaded & COMMAND_MODULES == {"sscard.cli.read_cmd"}


def test_help_lists_every_command_without_importing_one(capsys):
    loaded, done = _modules_after("--help")
    assert done.returncode == 0, done.stderr
    assert loaded & COMMAND_MODULES == set()
    listed = [line.split()[0] for line in done.stdout.split("Commands:\n")[1].splitlines()[:9]]
    assert listed == sorted(COMMANDS)


def test_help_lists_the_same_lines_once_the_commands_are_loaded(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert run(["--help"]) == 0
    from_table = capsys.readouterr().out
    for name in COMMANDS:
        cli.get_command(None, name)  # imported: the real command is listed
    assert run(["--help"]) == 0
    assert capsys.readouterr().out == from_table


@pytest.mark.parametrize(
    "argv",
    [
        ["read", "--emulator", "gen2"],
        ["read", "--emulator", "gen2", "--format", "ireadcardbas"],
        ["status", "--emulator", "gen2"],
        ["pin", "tries", "--emulator", "gen2"],
    ],
)
def test_a_command_builds_one_card(capsys, monkeypatch, argv):
    built = []
    init = Card.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(Card, "__init__", counting)
    assert run(argv) == 0, capsys.readouterr().err
    assert len(built) == 1


def test_a_recorded_read_builds_one_card(capsys, monkeypatch, tmp_path):
    built = []
    init = Card.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(Card, "__init__", counting)
    path = tmp_path / "read.json"
    assert run(["read", "--emulator", "gen2", "--record", str(path)]) == 0
    assert len(built) == 1 and path.exists()
    assert run(["replay", str(path)]) == 0
    assert "Card number / 社会保障卡卡号" in capsys.readouterr().out
