"""A real headless Chromium for the tests that look at a page as a user's browser shows it: the
npm packages in tests/browser/ (`make test` installs them with `npm ci`), Chromium included, so
nothing is downloaded at run time."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

BROWSER = Path(__file__).parent / "browser"


def network_off() -> list[str]:
    """A command prefix that runs without any network, loopback included (a network namespace of
    its own), where the machine allows one."""
    done = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return ["unshare", "-n"] if done.returncode == 0 else []


def look(url: str, wait_for: str = "", offline: bool = False, timeout_s: float = 60) -> dict:
    """What the browser shows at ``url`` once it has loaded (and, given ``wait_for``, once that text
    shows or the time is up): ``title``, visible ``text``, ``charts`` (drawn SVGs), ``url`` and the
    page's script ``errors``; with ``offline``, without any network."""
    if not (BROWSER / "node_modules").is_dir():
        pytest.fail("the browser's npm packages are missing: run `make test` (it runs `npm ci`)")
    command = [*(network_off() if offline else []), "node", str(BROWSER / "look.mjs")]
    done = subprocess.run(
        [*command, url, wait_for, str(int(timeout_s * 1000))],
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
    )
    if done.returncode != 0:
        pytest.fail(f"the browser failed on {url}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])
