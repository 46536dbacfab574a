"""The fresh sandbox hypervisor with NetworkManager (instance n8) that the
roles and playbook tests share."""
from __future__ import annotations

import time

import pytest


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    box = sandbox_factory.get("n8", with_nm=True)
    # A fresh namespace's IPv6 link-local addresses finish duplicate address
    # detection a moment later (tentative -> not, routes added): let that
    # settle so the snapshots compare what the playbook might touch.
    deadline = time.monotonic() + 15
    while "tentative" in box.run_hv(["ip", "-o", "addr"]).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    return box
