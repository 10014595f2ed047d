"""The import rules of ARCHITECTURE.md, checked by walking every import of the package with
`ast` (lazy imports inside functions included, dynamic imports refused).

The layers, bottom to top; a module imports its own layer and the layers below it:

    0 foundation    errors, inputs, log, privacy, masking
    1 model         spec, codec, crypto
    2 transport     transport
    3 engine        session, trace, budget, results, findings
    4 applications  ssse, bank, auth, ireadcardbas
    5 facade        card, status, and the package itself (sscard/__init__.py)
    6 user-facing   cli, service

Beside them, the emulator imports only codec, crypto, errors, spec and itself (it must not be
able to agree with the reader's bugs), and the test bench (testing) the emulator and layers
0-2 (PC/SC plumbing), never the reader's logic.  The few upward imports the design needs are
lazy and named below.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sscard"

LAYERS = {
    "errors": 0,
    "inputs": 0,
    "log": 0,
    "privacy": 0,
    "masking": 0,
    "spec": 1,
    "codec": 1,
    "crypto": 1,
    "transport": 2,
    "session": 3,
    "trace": 3,
    "budget": 3,
    "results": 3,
    "findings": 3,
    "ssse": 4,
    "bank": 4,
    "auth": 4,
    "ireadcardbas": 4,
    "card": 5,
    "status": 5,
    "sscard": 5,  # the package's own __init__: the lazy exports of the facade
    "cli": 6,
    "service": 6,
}
# crypto: the card's block-cipher rules, pinned by standard and cross-computed vectors
# (tests/test_crypto.py), shared with the emulator like the codecs
EMULATOR_ALLOWED = {"codec", "crypto", "errors", "spec", "emulator"}
# the bench: the emulator, and PC/SC plumbing at most (layers 0-2), never the reader's logic
TESTING_ALLOWED = {"emulator", "testing"} | {part for part, layer in LAYERS.items() if layer <= 2}
# documented old paths (sscard/keysource.py …): one star import of their new home each
OLD_PATHS = {"keysource": "auth", "psam": "auth", "pin": "ssse"}

# Upward imports the design needs, each lazy (inside a function), each with its reason
# (ARCHITECTURE.md "What may import what").
UPWARD = {
    # the watcher reads each inserted card on a worker, through the facade
    ("sscard/transport/watch.py", "session"),
    ("sscard/transport/watch.py", "sscard"),
    # a bank read's budget is computed from the bank reader's own bounds
    ("sscard/budget.py", "bank"),
    # an error's default text is in the message catalogue, read when the first one is made
    ("sscard/errors.py", "spec"),
}
# Reader code that opens an emulated card (lazily: `import sscard` never loads the emulator)
OPENS_THE_EMULATOR = {
    "sscard/transport/emulated.py",  # the in-process emulator transport
    "sscard/auth/psam.py",  # open_psam_emulator: the software PSAM
}


@dataclass(frozen=True)
class Import:
    source: str  # path relative to the repository
    target: str  # dotted module name
    lazy: bool  # inside a function: runs only when called
    line: int

    @property
    def unit(self) -> str | None:
        """The top-level part of sscard imported ("ssse", "codec" …), or None outside."""
        parts = self.target.split(".")
        if parts[0] != "sscard":
            return None
        return parts[1] if len(parts) > 1 else "sscard"


def unit_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    name = parts[0]
    return "sscard" if name == "__init__" else name


def _module_exists(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, text: str | None = None) -> list[Import]:
    """Every import a module makes (`text` instead of the file's own, when given), resolved
    to module names: `from sscard import errors` is sscard.errors, `from sscard import Card`
    is sscard; relative imports resolved from the module's place."""
    rel = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text, rel)
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    else:
        package = package.removesuffix(".__init__")
    lazy_nodes = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for inner in ast.walk(node)
    }
    found: list[Import] = []
    for node in ast.walk(tree):
        lazy = id(node) in lazy_nodes
        if isinstance(node, ast.Import):
            found += [Import(rel, a.name, lazy, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                child = f"{module}.{alias.name}"
                target = child if _module_exists(child) else module
                found.append(Import(rel, target, lazy, node.lineno))
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in ("__import__", "import_module"):
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    found.append(Import(rel, "<dynamic>", lazy, node.lineno))
                else:
                    found.append(Import(rel, first.value, True, node.lineno))
    if any(i.target == "<dynamic>" for i in found):
        # a table of module names feeds the dynamic import (sscard's lazy exports, the
        # CLI's lazy commands): each name in it counts as a lazy import
        found += [
            Import(rel, node.value, True, node.lineno)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("sscard.")
            and _module_exists(node.value)
        ]
    return found


def package_imports() -> list[Import]:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50  # the walk sees the package
    return [imp for path in modules for imp in imports_of(path)]


def violations(imports: list[Import]) -> list[str]:
    """Every import that breaks a rule of ARCHITECTURE.md, as a readable line."""
    out = []
    for imp in imports:
        source = imp.source
        here = unit_of(ROOT / source)
        where = f"{source}:{imp.line} imports {imp.target}"
        if imp.target == "<dynamic>":
            if here in ("emulator", "testing"):  # their allow-lists must be provable
                out.append(f"{where}: an import whose module is not a literal cannot be checked")
            continue
        there = imp.unit
        if imp.target == "sscard.cli.main":
            out.append(f"{where}: the CLI's entry loads the command modules, never the reverse")
            continue
        if here == "emulator":
            top = imp.target.split(".")[0]
            stdlib = top in sys.stdlib_module_names or top == "__future__"
            if not (stdlib or there in EMULATOR_ALLOWED):
                out.append(f"{where}: the emulator imports only {sorted(EMULATOR_ALLOWED)}")
            continue
        if here == "testing":
            if there is not None and there not in TESTING_ALLOWED:
                out.append(f"{where}: the test bench imports only {sorted(TESTING_ALLOWED)}")
            continue
        if there is None or there == here:
            continue
        if here in OLD_PATHS:
            if there != OLD_PATHS[here]:
                out.append(f"{where}: an old path only re-exports {OLD_PATHS[here]}")
            continue
        if there == "emulator":
            if not (here == "cli" or (source in OPENS_THE_EMULATOR and imp.lazy)):
                out.append(f"{where}: reader code opens the emulator only lazily, where named")
            continue
        if there == "testing":
            if not (here == "cli" and imp.lazy):
                out.append(f"{where}: only the CLI starts the test bench (lazily)")
            continue
        if there in OLD_PATHS:
            out.append(f"{where}: the package imports the new path, not {imp.target}")
            continue
        if here not in LAYERS or there not in LAYERS:
            unplaced = here if here not in LAYERS else there
            out.append(f"{where}: {unplaced} has no layer (LAYERS, ARCHITECTURE.md)")
            continue
        if LAYERS[there] > LAYERS[here] and not ((source, there) in UPWARD and imp.lazy):
            out.append(
                f"{where}: layer {LAYERS[here]} ({here}) may not import layer "
                f"{LAYERS[there]} ({there})"
            )
    return out


def test_every_part_of_the_package_has_a_layer():
    parts = {unit_of(path) for path in PACKAGE.rglob("*.py")}
    parts -= {"emulator", "testing", *OLD_PATHS}
    assert parts <= set(LAYERS), (
        f"{sorted(parts - set(LAYERS))}: give each a layer here (LAYERS) and in ARCHITECTURE.md"
    )


def test_the_package_follows_the_import_rules():
    assert violations(package_imports()) == []


def test_the_emulator_imports_only_its_allow_list():
    emulator = [i for i in package_imports() if i.source.startswith("sscard/emulator/")]
    assert len({i.source for i in emulator}) >= 10
    assert {i.unit for i in emulator if i.unit} <= EMULATOR_ALLOWED
    assert violations(emulator) == []


def test_the_named_exceptions_are_still_needed():
    """An exception nobody uses any more is a hole in the rules: remove it."""
    imports = package_imports()
    used = {(i.source, i.unit) for i in imports}
    assert UPWARD <= used, sorted(UPWARD - used)
    opening = {i.source for i in imports if i.unit == "emulator"}
    assert opening >= OPENS_THE_EMULATOR, sorted(OPENS_THE_EMULATOR - opening)


@pytest.mark.parametrize(
    ("source", "code", "broken"),
    [
        # the emulator reaching for reader code, at the top or lazily, or a third party
        ("sscard/emulator/ssc_card.py", "import sscard.session", "emulator imports only"),
        ("sscard/emulator/ssc_card.py", "def f():\n    from sscard.ssse import reader", "only"),
        ("sscard/emulator/ssc_card.py", "from sscard import Card", "emulator imports only"),
        ("sscard/emulator/fci.py", "from ..transport import pcsc", "emulator imports only"),
        ("sscard/emulator/fci.py", "import smartcard.System", "emulator imports only"),
        ("sscard/emulator/fci.py", "importlib.import_module(name)", "not a literal"),
        # a table of module names behind a dynamic import is checked too
        ("sscard/ssse/reader.py", "M = {'x': 'sscard.card'}\nimport_module(M[k])", "layer 4"),
        # the bench reaching for reader code
        ("sscard/testing/stack.py", "from sscard.session import CardSession", "test bench"),
        ("sscard/testing/stack.py", "def f():\n    import sscard.ssse.reader", "test bench"),
        # a layer importing upward, at the top
        ("sscard/codec/tlv.py", "from sscard.session import CardSession", "layer 1"),
        ("sscard/session.py", "import sscard.ssse.reader", "layer 3"),
        ("sscard/ssse/reader.py", "from sscard.card import Card", "layer 4"),
        ("sscard/card.py", "from sscard.cli import render", "layer 5"),
        ("sscard/transport/watch.py", "from sscard.card import Card", "layer 2"),
        # a named exception used at the top instead of lazily
        ("sscard/budget.py", "from sscard.bank.afl import MAX_RECORDS", "layer 3"),
        # reader code loading the emulator where it is not named, or at import time
        ("sscard/card.py", "def f():\n    import sscard.emulator", "opens the emulator"),
        ("sscard/auth/psam.py", "from sscard.emulator.psam_card import PsamCard", "lazily"),
        ("sscard/service/app.py", "import sscard.testing.pcscd", "test bench"),
        ("sscard/auth/flow.py", "from sscard.psam import PsamKeys", "new path"),
        ("sscard/cli/read_cmd.py", "def f():\n    from sscard.cli.main import cli", "never"),
    ],
)
def test_the_checker_catches(source, code, broken):
    """Each rule fails when broken: `code` checked as if it were the module given."""
    found = imports_of(ROOT / source, code + "\n")
    assert found, code
    assert any(broken in line for line in violations(found)), violations(found)


def test_running_the_emulator_loads_no_reader_code():
    """The same rule at run time: a session with an emulated generation-3 card (select, read,
    both authentications, a protected file, PIN, bank) and the software PSAM (select, session
    key) loads only the allowed modules."""
    script = """
import sys
from sscard.crypto import authentication_data
from sscard.emulator import SocialSecurityCard
from sscard.emulator.psam_card import PsamCard

card = SocialSecurityCard.from_persona("gen3")
card.power_up()
answers = [card.execute(bytes.fromhex(apdu)).hex().upper() for apdu in (
    "00A404000F7378312E73682EC9E7BBE1B1A3D5CF", "00B2012D00", "0084000008",
    "0088000010" + "11" * 16 + "00", "0084000008", "0082000A10" + "22" * 16, "00B0870000",
    "0020000000", "00A4040008A00000033301010100", "80CA9F3600")]
assert answers[0].endswith("9000") and answers[5].startswith("63C"), answers
psam = PsamCard.from_file()
psam.power_up()
psam.execute(bytes.fromhex("00A4040006D15600000590"))
psam.execute(bytes.fromhex("BFDE670A28" + "00" * 40))
print(" ".join(sorted(m for m in sys.modules if m == "sscard" or m.startswith("sscard."))))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert "sscard.emulator.ssc_card" in loaded and "sscard.emulator.bank_applet" in loaded
    # the emulator's allow-list, the foundation its spec stands on, and the package itself
    allowed = EMULATOR_ALLOWED | {"inputs", "sscard"}
    outside = [m for m in loaded if (m.split(".") + ["sscard"])[1] not in allowed]
    assert outside == []
