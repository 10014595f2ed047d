"""`sscard read --hsm-step1 --hsm-step2 FILE|-`: both steps in one process, the HSM's answer
on standard input or from a named pipe; the HSM is the independent oracle of test_hsm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import expected_ireadcardbas, hsm, persona_toml

from sscard.cli.main import run

SSCARD = str(Path(sys.executable).with_name("sscard"))


class HsmOnStdin:
    """Standard input whose line is the HSM's answer to the Step 1 line printed so far."""

    def __init__(self, capsys, json_step1=False, answer=None, **spoil):
        self.capsys, self.json_step1, self.answer, self.spoil = capsys, json_step1, answer, spoil
        self.step1_output = None

    def readline(self, limit=-1):
        self.step1_output = self.capsys.readouterr().out
        line = self.step1_output.splitlines()[0]
        if self.json_step1:
            line = json.loads(line)["step1"]
        if self.answer is None:
            self.answer = hsm(line, **self.spoil)
        return self.answer + "\n"


def run_hsm(capsys, monkeypatch, args, **stdin_options):
    stdin = HsmOnStdin(capsys, **stdin_options)
    monkeypatch.setattr(sys, "stdin", stdin)
    code = run(["read", "--hsm-step1", "--hsm-step2", "-", *args])
    rest = capsys.readouterr()
    return code, (stdin.step1_output or "") + rest.out, rest.err, stdin


def test_gen3_ireadcardbas_through_both_steps(capsys, monkeypatch):
    code, out, err, _ = run_hsm(
        capsys, monkeypatch, ["--emulator", "gen3", "--format", "ireadcardbas", "--reveal"]
    )
    assert code == 0, err
    step1, result = out.splitlines()
    assert step1.split("|")[3] == persona_toml("gen3")["ef05"]["card_identification"].upper()
    assert result == expected_ireadcardbas("gen3")


def test_gen3_json_through_both_steps(capsys, monkeypatch):
    code, out, err, _ = run_hsm(
        capsys, monkeypatch, ["--emulator", "gen3", "--json"], json_step1=True
    )
    assert code == 0, err
    first, _, document = out.partition("\n")
    assert json.loads(first)["schema"] == "sscard.hsm_step1/1"
    doc = json.loads(document)
    assert doc["complete"] and doc["card"]["authentic"] == "yes" and doc["masked"]
    assert doc["holder"]["sex"]["code"] == persona_toml("gen3")["ef06"]["sex"]


def test_text_format_and_masked_step1(capsys, monkeypatch):
    code, out, err, _ = run_hsm(capsys, monkeypatch, ["--emulator", "gen3"])
    assert code == 0, err
    cid = persona_toml("gen3")["ef05"]["card_identification"].upper()
    step1 = out.splitlines()[0].split("|")
    assert step1[3] != cid and step1[3].startswith(cid[:16]) and "*" in step1[3]
    assert "yes (internal authentication passed) / 是" in out and cid not in out


def test_wrong_internal_answer_is_minus_25(capsys, monkeypatch):
    code, out, err, _ = run_hsm(
        capsys, monkeypatch, ["--emulator", "gen3", "--format", "ireadcardbas"], spoil_internal=True
    )
    assert out.splitlines()[1] == "-25|内部认证与加密机不一致|" and code == 7


def test_wrong_external_cryptogram_reports_the_tries_left(capsys, monkeypatch):
    code, out, err, _ = run_hsm(
        capsys, monkeypatch, ["--emulator", "gen3", "--format", "ireadcardbas"], spoil_external=True
    )
    assert out.splitlines()[1] == f"{-0x63C2}|外部认证失败，剩余可尝试次数2次|" and code == 7


def test_wrong_external_cryptogram_in_json(capsys, monkeypatch):
    code, out, err, _ = run_hsm(
        capsys, monkeypatch, ["--emulator", "gen3", "--json"], json_step1=True, spoil_external=True
    )
    doc = json.loads(out.partition("\n")[2])
    assert code == 7 and doc["holder_status"] == "locked"
    assert [f["sw"] for f in doc["findings"] if f["code"] == "external_auth_failed"] == ["63C2"]


def test_malformed_answer_exits_2_and_is_never_echoed(capsys, monkeypatch):
    secret = "ABCDEF0123456789" * 2 + "|" + "X" * 32 + "|"
    code, out, err, _ = run_hsm(
        capsys, monkeypatch, ["--emulator", "gen3", "--format", "ireadcardbas"], answer=secret
    )
    assert code == 2 and out.splitlines()[1] == "-23|传入数据不合法|"
    assert "ABCDEF0123" not in out + err and err.startswith("error: ")


def test_gen2_through_both_steps(capsys, monkeypatch):
    code, out, err, _ = run_hsm(
        capsys, monkeypatch, ["--emulator", "gen2", "--format", "ireadcardbas", "--reveal"]
    )
    step1, result = out.splitlines()
    assert step1.endswith("|||") and code == 0 and result == expected_ireadcardbas("gen2")


def test_card_without_ssse_is_minus_2204(capsys):
    code = run(["read", "--emulator", "shanghai", "--hsm-step1", "--format", "ireadcardbas"])
    captured = capsys.readouterr()
    assert captured.out == "-2204|不需要加密机认证|\n" and code == 1


def test_step1_alone_prints_the_line_and_ends(capsys):
    assert run(["read", "--emulator", "gen3", "--hsm-step1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and len(lines[0].split("|")) == 9


@pytest.mark.parametrize(
    "args",
    [
        ["--hsm-step2", "-"],  # Step 2 needs Step 1 in the same process
        ["--hsm-step1", "--keys", "test"],
    ],
)
def test_usage_errors(capsys, args):
    assert run(["read", "--emulator", "gen3", *args]) == 2


def test_empty_standard_input(capsys, monkeypatch):
    class Empty:
        def readline(self, limit=-1):
            return ""

    monkeypatch.setattr(sys, "stdin", Empty())
    assert run(["read", "--emulator", "gen3", "--hsm-step1", "--hsm-step2", "-"]) == 2
    assert "no HSM answer" in capsys.readouterr().err


def test_answer_file_for_another_step1_is_refused(capsys, tmp_path):
    stale = tmp_path / "pkey.txt"
    stale.write_text("11" * 16 + "|" + "22" * 16 + "|\n")
    code = run(
        [
            "read",
            "--emulator",
            "gen3",
            "--hsm-step1",
            "--hsm-step2",
            str(stale),
            "--format",
            "ireadcardbas",
        ]
    )
    assert code == 2 and capsys.readouterr().out.splitlines()[1] == "-22|传入数据与卡内不符|"
    assert (
        run(["read", "--emulator", "gen3", "--hsm-step1", "--hsm-step2", str(tmp_path / "missing")])
        == 2
    )


def test_cryptograms_never_in_the_trace_or_the_recording(capsys, monkeypatch, tmp_path):
    record = tmp_path / "trace.json"
    code, out, err, stdin = run_hsm(
        capsys,
        monkeypatch,
        ["--emulator", "gen3", "--json", "--record", str(record), "-d"],
        json_step1=True,
    )
    assert code == 0
    external = stdin.answer.split("|")[1][:16]
    recorded = record.read_text()
    for channel in (out, err, recorded):
        assert external not in channel.upper() and stdin.answer not in channel
    assert "0082000A10" + "*" * 32 in recorded
    assert "(external_authenticate)" in err and "[16 bytes hidden]" in err


# --- as a kiosk runs it: a separate HSM client on the other end of pipes ----------------------


def _coprocess(args, answer_via=None):
    """Start `sscard read --hsm-step1 …`, answer its Step 1 line like an HSM client."""
    proc = subprocess.Popen(
        [SSCARD, "read", "--hsm-step1", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    step1 = proc.stdout.readline()  # arrives before any answer: it was flushed
    answer = hsm(step1.strip())
    if answer_via is None:
        proc.stdin.write(answer + "\n")
        proc.stdin.flush()
    else:
        answer_via(answer)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, step1, out, err


def test_subprocess_with_standard_input():
    code, step1, out, err = _coprocess(
        ["--emulator", "gen3", "--format", "ireadcardbas", "--reveal", "--hsm-step2", "-"]
    )
    assert code == 0, err
    assert out.strip() == expected_ireadcardbas("gen3")


def test_subprocess_with_a_named_pipe(tmp_path):
    fifo = tmp_path / "pkey"
    os.mkfifo(fifo)

    def write(answer):
        threading.Thread(target=fifo.write_text, args=(answer + "\n",), daemon=True).start()

    code, step1, out, err = _coprocess(
        ["--emulator", "gen3", "--format", "ireadcardbas", "--reveal", "--hsm-step2", str(fifo)],
        write,
    )
    assert code == 0, err
    assert out.strip() == expected_ireadcardbas("gen3")
