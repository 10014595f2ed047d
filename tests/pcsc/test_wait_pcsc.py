"""`--wait` through the real PC/SC stack: started before pcscd runs, a read waits for the
service, the reader and the card, then reads (pcscd + vpcd + the emulator)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from pcsc_stack import READERS, PrivatePcscd, require_stack, wait_readers_in_child

from sscard.emulator import SocialSecurityCard
from sscard.emulator.vpcd import VpcdLink


def test_read_wait_outlives_a_missing_pcscd_and_card():
    require_stack()
    daemon = PrivatePcscd()  # its socket path is known; nothing listens on it yet
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sscard.cli.main",
            "read",
            "--wait",
            "60",
            "-r",
            READERS[0],
            "--json",
        ],
        env=daemon.client_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    link = None
    try:
        time.sleep(2.0)
        assert proc.poll() is None, proc.communicate()  # still waiting: no pcscd is no error
        daemon.start()
        wait_readers_in_child(daemon)  # pcscd lists its readers (asked from another process)
        assert proc.poll() is None  # pcscd and its readers, but no card yet
        link = VpcdLink(SocialSecurityCard.from_persona("gen2"), port=daemon.port)
        link.insert(timeout=30)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        doc = json.loads(out)
        assert doc["source"]["name"] == READERS[0] and doc["complete"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if link is not None:
            link.remove()
        if daemon.proc is not None:
            assert daemon.stop() == 0
        daemon.cleanup()


def test_without_wait_a_missing_pcscd_is_an_error_at_once():
    require_stack()
    daemon = PrivatePcscd()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sscard.cli.main", "read"],
            env=daemon.client_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 3 and "sudo pcscd" in done.stderr
    finally:
        daemon.cleanup()
