"""Files handed to sscard — key files ($SSCARD_KEYS_FILE, --keys), the key file's text in
$SSCARD_KEYS, personas (--emulator FILE), recordings to replay — are bounded before they are
read, must be regular files, and fail with a typed error however they are malformed: never
a hang on a FIFO, never reading /dev/zero until memory runs out, never a RecursionError."""

from __future__ import annotations

import os
import threading

import pytest

from sscard import errors
from sscard.auth.keysource import load_keys
from sscard.cli.main import run
from sscard.emulator.persona import load_persona
from sscard.transport.replay import ReplayTransport

DEPTH = 30_000  # far beyond any parser's recursion, yet inside every size limit


def key_file(path):
    return load_keys(str(path))


def persona(path):
    return load_persona(str(path))


def recording(path):
    return ReplayTransport.from_file(str(path))


LOADERS = {
    "key file": (key_file, errors.InvalidArgument),
    "persona": (persona, errors.SpecError),
    "recording": (recording, errors.InvalidArgument),
}
DEEP = {
    "key file": "a = " + "[" * DEPTH + "]" * DEPTH + "\n",
    "persona": "description = " + "[" * DEPTH + "]" * DEPTH + "\n",
    "recording": '{"atr": ' + "[" * DEPTH + "]" * DEPTH + "}",
}


def finishes(fn, *args):
    """fn(*args) in a thread: (True, exception or result) or (False, None) if it hangs."""
    outcome = []

    def call():
        try:
            outcome.append(fn(*args))
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            outcome.append(e)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(20)
    return (not worker.is_alive()), (outcome[0] if outcome else None)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_deep_nesting_is_a_typed_error(tmp_path, kind):
    load, error = LOADERS[kind]
    path = tmp_path / "deep"
    path.write_text(DEEP[kind])
    with pytest.raises(error, match="nested too deeply"):
        load(path)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, kind):
    load, error = LOADERS[kind]
    path = tmp_path / "fifo"
    os.mkfifo(path)
    done, outcome = finishes(load, path)
    assert done, "reading a FIFO hangs"
    assert isinstance(outcome, error) and "not a regular file" in outcome.message


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_symlink_to_dev_zero_is_refused(tmp_path, kind):
    load, error = LOADERS[kind]
    path = tmp_path / "zero"
    path.symlink_to("/dev/zero")
    done, outcome = finishes(load, path)
    assert done and isinstance(outcome, error) and "not a regular file" in outcome.message


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_huge_file_is_refused_before_it_is_read(tmp_path, kind):
    load, error = LOADERS[kind]
    path = tmp_path / "huge"
    with open(path, "wb") as f:
        f.truncate(700 * 1024 * 1024)  # sparse: 700 MB of size, no disk, no time to read
    with pytest.raises(error, match="larger than"):
        load(path)


def test_a_symlink_to_a_regular_file_still_works(tmp_path):
    from sscard.emulator.persona import PERSONA_DIR

    link = tmp_path / "mine.toml"
    link.symlink_to(PERSONA_DIR / "gen2.toml")
    assert load_persona(str(link)).layout == "ssse"


def test_keys_in_the_environment_nested_or_too_large(monkeypatch):
    monkeypatch.delenv("SSCARD_KEYS_FILE", raising=False)
    monkeypatch.setenv("SSCARD_KEYS", DEEP["key file"])
    with pytest.raises(errors.InvalidArgument, match="nested too deeply"):
        load_keys(None)
    monkeypatch.setenv("SSCARD_KEYS", "#" * (64 * 1024 + 1))
    with pytest.raises(errors.InvalidArgument, match="larger than"):
        load_keys(None)


@pytest.mark.parametrize(
    "args,env",
    [
        (["read", "--emulator", "gen3", "--keys", "{deep}"], {}),
        (["read", "--emulator", "gen3"], {"SSCARD_KEYS_FILE": "{deep}"}),
        (["read", "--emulator", "gen3"], {"SSCARD_KEYS": DEEP["key file"]}),
        (["read", "--emulator", "{deep_persona}"], {}),
        (["read", "--emulator", "gen3", "--keys", "{fifo}"], {}),
        (["read", "--emulator", "{fifo}.toml"], {}),
    ],
)
def test_the_cli_says_one_line_and_exits_2(tmp_path, capsys, monkeypatch, args, env):
    deep = tmp_path / "deep.toml"
    deep.write_text(DEEP["key file"])
    deep_persona = tmp_path / "deep-persona.toml"
    deep_persona.write_text(DEEP["persona"])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    os.mkfifo(str(fifo) + ".toml")
    names = {"deep": deep, "deep_persona": deep_persona, "fifo": fifo}
    monkeypatch.delenv("SSCARD_KEYS_FILE", raising=False)
    monkeypatch.delenv("SSCARD_KEYS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(**names))
    done, code = finishes(run, [a.format(**names) for a in args])
    assert done, "the command hangs"
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1, err
    assert "internal error" not in err and "Recursion" not in err


# past Python's int-from-string digit limit: int() raises ValueError inside tomllib
HUGE_NUMBER = "1" + "0" * 5000
HUGE = {
    "key file": f'"01" = {HUGE_NUMBER}\n',
    "persona": f"description = {HUGE_NUMBER}\n",
    "scenario": f"seconds = {HUGE_NUMBER}\n",
}


def scenario(path):
    from sscard.emulator.scenario import load_scenario

    return load_scenario(str(path))


@pytest.mark.parametrize(
    ("kind", "load", "error"),
    [
        ("key file", key_file, errors.InvalidArgument),
        ("persona", persona, errors.SpecError),
        ("scenario", scenario, errors.SpecError),
    ],
)
def test_a_number_too_long_is_a_typed_error_that_quotes_nothing(tmp_path, kind, load, error):
    path = tmp_path / "huge.toml"
    path.write_text(HUGE[kind])
    with pytest.raises(error) as raised:
        load(path)
    assert "00000" not in str(raised.value)


def test_keys_in_the_environment_with_a_number_too_long(monkeypatch):
    monkeypatch.delenv("SSCARD_KEYS_FILE", raising=False)
    monkeypatch.setenv("SSCARD_KEYS", HUGE["key file"])
    with pytest.raises(errors.InvalidArgument, match="not a valid key file") as raised:
        load_keys(None)
    assert "00000" not in str(raised.value)


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["read", "--emulator", "gen3", "--keys", "{keys}"], {}),
        (["read", "--emulator", "gen3"], {"SSCARD_KEYS": HUGE["key file"]}),
        (["personas", "check", "{persona}"], {}),
        (["emulate", "gen3", "--scenario", "{scenario}"], {}),
    ],
)
def test_a_number_too_long_the_cli_says_one_line_and_exits_2(
    tmp_path, capsys, monkeypatch, args, env
):
    names = {}
    for kind in ("keys", "persona", "scenario"):
        names[kind] = tmp_path / f"{kind}.toml"
        names[kind].write_text(HUGE["key file" if kind == "keys" else kind])
    monkeypatch.delenv("SSCARD_KEYS_FILE", raising=False)
    monkeypatch.delenv("SSCARD_KEYS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    done, code = finishes(run, [a.format(**names) for a in args])
    assert done, "the command hangs"
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1, err
    assert "internal error" not in err and "00000" not in err
