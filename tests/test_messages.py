"""The message catalogue (apdu_specs/messages.toml, sscard.spec.messages): validated when
loaded, and holding exactly the texts the code asks for."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

from sscard import errors
from sscard.spec.messages import SECTIONS, catalogue, parse_messages, text

PACKAGE = Path(__file__).resolve().parents[1] / "sscard"
KEY = re.compile(rf"(?:{'|'.join(SECTIONS)})\.[a-z0-9_]+")


def _literals(node: ast.expr) -> list[str] | None:
    """The strings an argument can be: a literal, or either side of `a if c else b`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, other = _literals(node.body), _literals(node.orelse)
        return None if body is None or other is None else body + other
    return None


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def code_keys() -> dict[str, set[str]]:
    """Every catalogue key the package's source names -> the {fields} the call fills in."""
    keys: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name, args = _name(node), [_literals(a) for a in node.args]
            fields = {k.arg for k in node.keywords if k.arg} if name == "text" else set()
            found: list[str] = []
            if name in ("text", "message") and args[0]:
                found = args[0]
            elif name == "finding" and args[0]:
                found = [f"finding.{code}" for code in args[0]]
            elif name == "append" and path.name == "status.py" and args[0]:
                found = [f"advice.{code}" for code in args[0]]  # Status.advice's codes
            for key in found:
                keys.setdefault(key, set()).update(fields)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):  # keys passed along
            if isinstance(node, ast.Constant) and KEY.fullmatch(str(node.value)):
                keys.setdefault(node.value, set())
    # the keys made at run time: a verdict's text by its code, the module attributes of
    # sscard.status
    from sscard import status

    for code in status.VerdictCode:
        keys.setdefault(f"verdict.{code.value}", set())
    for key in status.NOT_ON_CHIP.values():
        keys.setdefault(f"not_on_chip.{key}", set())
    for cls in error_classes():  # an error's default text, by its class's name
        keys.setdefault(f"error.{cls.__name__}", set())
    return keys


def error_classes() -> list[type[errors.SscardError]]:
    """Every sscard error class: the package's modules imported, SscardError's subclasses."""
    import sscard

    for module in pkgutil.walk_packages(sscard.__path__, "sscard."):
        importlib.import_module(module.name)
    found, todo = [], [errors.SscardError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("sscard"):
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_error_class_names_are_unique_catalogue_keys():
    names = [cls.__name__ for cls in error_classes()]
    assert len(names) > 50 and len(names) == len(set(names))


def test_an_error_without_text_says_its_catalogue_entry():
    entries = catalogue()
    for cls, arguments in ((errors.NoCard, {}), (errors.PinBlocked, {}), (errors.SpecError, {})):
        error = cls(**arguments)
        entry = entries[f"error.{cls.__name__}"]
        assert (error.message, error.zh) == (entry.en, entry.zh)
        assert error.bilingual() == f"{entry.en} / {entry.zh}"
    given = errors.NoCard("no card in 'Reader 0'")  # a raise's own English, the class's Chinese
    assert (given.message, given.zh) == ("no card in 'Reader 0'", entries["error.NoCard"].zh)
    assert errors.NoCard(zh="读卡器 0 中无卡").message == entries["error.NoCard"].en


def test_a_class_without_an_entry_takes_its_base_class_text():
    class KioskOwnError(errors.CardBlocked):  # a caller's own subclass
        pass

    entry = catalogue()["error.CardBlocked"]
    assert (KioskOwnError().message, KioskOwnError().zh) == (entry.en, entry.zh)


def test_a_broken_catalogue_is_a_spec_error_not_a_recursion(tmp_path, monkeypatch):
    import shutil

    from sscard.spec import messages

    spec = tmp_path / "apdu_specs"
    shutil.copytree(messages.spec_dir(), spec)
    (spec / "messages.toml").write_text("[error.NoCard\n", encoding="utf-8")
    monkeypatch.setattr(messages, "spec_dir", lambda: str(spec))
    monkeypatch.setattr(messages, "_catalogues", {})  # nothing read yet: the broken file next
    with pytest.raises(errors.SpecError, match="messages.toml"):
        errors.NoCard()


def test_the_catalogue_holds_exactly_the_texts_the_code_uses():
    used, entries = code_keys(), catalogue()
    assert len(used) > 60  # the scan sees the calls (findings, verdicts, cross-checks, …)
    assert sorted(set(used) - set(entries)) == []  # asked for, but missing
    assert sorted(set(entries) - set(used)) == []  # in the catalogue, but never used


def test_each_text_gets_exactly_the_fields_it_names():
    entries = catalogue()
    for key, fields in code_keys().items():
        entry = entries[key]
        named = {n for t in (entry.en, entry.zh) for _, n, _, _ in string.Formatter().parse(t) if n}
        assert named == fields, key


def test_texts_are_the_ones_shown():
    assert text("verdict.pin_blocked") == ("PIN blocked", "密码已锁定")
    assert text("cross_check.ef06_locked", locked_by="RKSSSE") == (
        "holder data (EF06) is locked: it needs RKSSSE",
        "持卡人信息（EF06）受密钥保护，未能读取",
    )
    assert catalogue()["finding.card_number_check"].severity == "info"


GOOD = {"en": "a text", "zh": "一段文字"}


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"verdict": {"x": {"en": "a text"}}}, r"\[verdict.x\]: missing key 'zh'"),
        ({"verdict": {"x": {**GOOD, "fr": "un texte"}}}, r"\[verdict.x\]: unknown key"),
        ({"verdicts": {"x": GOOD}}, "unknown key"),
        ({"advice": {"x": {**GOOD, "zh": " "}}}, r"\[advice.x\]: 'zh' is empty"),
        ({"advice": {"x": {**GOOD, "en": 3}}}, "'en' has the wrong type"),
        ({"finding": {"x": GOOD}}, r"\[finding.x\]: missing key 'severity'"),
        ({"finding": {"x": {**GOOD, "severity": "fatal"}}}, "'severity' = 'fatal' is not one"),
        ({"verdict": {"x": {**GOOD, "severity": "info"}}}, r"\[verdict.x\]: unknown key"),
        ({"advice": {"x": {**GOOD, "en": "it {needs"}}}, "unpaired brace"),
        ({"advice": {"x": {**GOOD, "en": "{0}"}}}, "only plain names"),
        ({"advice": {"x": {**GOOD, "en": "{key.__class__}"}}}, "only plain names"),
        ({"advice": {"x": {**GOOD, "zh": "{key!r}"}}}, "only plain names"),
    ],
)
def test_the_catalogue_is_validated(doc, problem):
    with pytest.raises(errors.SpecError, match=problem):
        parse_messages(doc)


def test_a_valid_document_parses():
    parsed = parse_messages({"finding": {"x": {**GOOD, "severity": "info"}}, "advice": {"y": GOOD}})
    assert parsed["finding.x"].severity == "info" and parsed["advice.y"].en == "a text"


def test_the_catalogue_is_read_only_when_a_text_is_needed():
    """`sscard read` on a card with nothing to report never reads messages.toml."""
    script = (
        "import sscard, sscard.status, sscard.findings, sscard.bank.crosscheck\n"
        "from sscard.spec import messages\n"
        "import sscard.cli.main\n"
        "assert not messages._catalogues\n"
        "sscard.findings.finding('card_expired')\n"
        "print(len(messages._catalogues))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_threads_asking_first_at_once_share_one_catalogue(tmp_path, monkeypatch):
    """functools.cache does not lock: 16 threads missing it together read it 16 times."""
    import shutil
    import threading
    import time

    from sscard.spec import messages
    from sscard.spec.loader import spec_dir

    shutil.copy(Path(spec_dir()) / messages.FILE, tmp_path / messages.FILE)
    read = []
    real = messages.read_toml

    def slow_read(path):  # widens the window in which the threads would race
        read.append(Path(path).name)
        time.sleep(0.02)
        return real(path)

    monkeypatch.setattr(messages, "read_toml", slow_read)
    barrier = threading.Barrier(16)
    got = []

    def first_use():
        barrier.wait()
        got.append(catalogue(str(tmp_path)))

    threads = [threading.Thread(target=first_use) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 16 and all(found is got[0] for found in got)
    assert read == [messages.FILE]
