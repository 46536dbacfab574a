"""playbooks/site.yml and verify.yml on a fresh sandbox hypervisor (instance
n8), the way a fleet job runs them: check mode first (must not fail, must not
touch the host), apply, apply again (nothing changes), verify passes; and
verify fails, naming the network, when the host drifts from the inventory."""
from __future__ import annotations

import os
import re
import subprocess

from playbook_helpers import ROOT, ansible_playbook, host_state


def _play(sb, playbook: str, *extra: str) -> subprocess.CompletedProcess:
    return ansible_playbook(sb, os.path.join(ROOT, "playbooks", playbook), *extra)


def _recap(cp) -> dict:
    m = re.search(r"sandbox-hv\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", cp.stdout)
    assert m, cp.stdout[-3000:] + cp.stderr[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups())))


def test_check_apply_again_verify(sb):
    before = host_state(sb)
    check = _play(sb, "site.yml", "--check", "--diff")
    assert _recap(check)["failed"] == 0, check.stdout[-3000:]
    assert _recap(check)["changed"] > 0
    # a fresh host: check mode plans the bridged network on the bridge the same run creates
    assert re.search(r'"bridges\[\d+\] br-lan ', check.stdout), check.stdout[-3000:]
    assert re.search(r'"networks\[\d+\] lab-bridged ', check.stdout), check.stdout[-3000:]
    assert host_state(sb) == before, "check mode changed the host"

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
