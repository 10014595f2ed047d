"""What `sscard.open` + read imports for the usual case, one card in one reader: not the
PSAM's check (asked only when several cards are present) and not the key-file parser (asked
only when there are keys) — each would add to the start time of every read."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import json, sys
import sscard
with sscard.open(sys.argv[1]) as card:
    identity = card.read_identity()
print(json.dumps({"complete": identity.complete, "modules": sorted(sys.modules)}))
"""


def test_one_card_read_imports_neither_psam_nor_key_parser(virtual_reader, monkeypatch):
    for name in ("SSCARD_KEYS", "SSCARD_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    virtual_reader.insert("gen2")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, virtual_reader.name],
        env=virtual_reader.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["complete"] is True
    assert "sscard.card" in result["modules"]  # the read really went through sscard
    assert "sscard.auth.psam" not in result["modules"]
    assert "sscard.crypto.key_file" not in result["modules"]
