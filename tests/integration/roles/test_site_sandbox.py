"""playbooks/site.yml and verify.yml on a fresh sandbox hypervisor (instance
n8), the way a fleet job runs them: check mode first (must not fail, must not
touch the host), apply, apply again (nothing changes), verify passes; and
verify fails, naming the network, when the host drifts from the inventory."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
INV = os.path.join(ROOT, "playbooks", "inventory", "demo", "hosts.yml")


def _play(sb, playbook: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, VIRTNET_SANDBOX_NAME=sb.name, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"),
               ANSIBLE_NOCOLOR="1")
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", INV,
                           os.path.join(ROOT, "playbooks", playbook), *extra],
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def _recap(cp) -> dict:
    m = re.search(r"sandbox-hv\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", cp.stdout)
    assert m, cp.stdout[-3000:] + cp.stderr[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups())))


def _host(sb) -> dict:
    snap = sb.snapshot()
    snap["nm"] = sb.nmcli("-t", "-f", "NAME,UUID,TYPE,AUTOCONNECT", "connection", "show").stdout
    return snap


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


def test_check_apply_again_verify(sb):
    before = _host(sb)
    check = _play(sb, "site.yml", "--check", "--diff")
    assert _recap(check)["failed"] == 0, check.stdout[-3000:]
    assert _recap(check)["changed"] > 0
    assert "lab-bridged use a bridge the bridges step would create" in check.stdout
    assert _host(sb) == before, "check mode changed the host"

    applied = _play(sb, "site.yml")
    assert _recap(applied)["failed"] == 0, applied.stdout[-3000:]
    assert _recap(applied)["changed"] > 0
    nets = sb.virsh("net-list", "--all", "--name").stdout.split()
    assert sorted(nets) == ["lab-bridged", "lab-isolated", "lab-nat", "lab-open", "lab-routed"]

    again = _play(sb, "site.yml")
    assert _recap(again)["changed"] == 0, again.stdout[-3000:]
    assert _recap(_play(sb, "site.yml", "--check"))["changed"] == 0

    verify = _play(sb, "verify.yml")
    assert _recap(verify)["failed"] == 0, verify.stdout[-3000:]
    assert re.search(r"lab-nat +active +autostart=yes persistent=yes", verify.stdout)
    assert re.search(r'"br-lan": \{\s*"bond": null,\s*"ports": \[\s*"lan1"\s*\],\s*"state": "up"', verify.stdout), \
        verify.stdout


def test_verify_fails_on_drift_and_names_it(sb):
    sb.virsh("net-destroy", "lab-isolated")
    try:
        cp = _play(sb, "verify.yml")
        assert _recap(cp)["failed"] == 1
        assert "network lab-isolated: active=False autostart=True, inventory wants state=running" in cp.stdout
    finally:
        sb.virsh("net-start", "lab-isolated")
    assert _recap(_play(sb, "verify.yml"))["failed"] == 0
