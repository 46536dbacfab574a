"""The fresh sandbox hypervisor with NetworkManager that the roles and
playbook tests of one test file share (instance n8, or VIRTNET_SANDBOX_NAME,
or a per-process name when ROLES_SANDBOX_PER_PROCESS=1 so that parallel
sessions never share it)."""
from __future__ import annotations

import os
import time

import pytest


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    name = os.environ.get("VIRTNET_SANDBOX_NAME") or "n8"
    if os.environ.get("ROLES_SANDBOX_PER_PROCESS") == "1":
        name = "r%d" % os.getpid()
    box = sandbox_factory.get(name, with_nm=True)
    # A fresh namespace's IPv6 link-local addresses finish duplicate address
    # detection a moment later (tentative -> not, routes added): let that
    # settle so the snapshots compare what the playbook might touch.
    deadline = time.monotonic() + 15
    while "tentative" in box.run_hv(["ip", "-o", "addr"]).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    return box
