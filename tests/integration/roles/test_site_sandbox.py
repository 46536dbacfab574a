"""playbooks/site.yml and verify.yml on a fresh sandbox hypervisor (instance
n8), the way a fleet job runs them: check mode first (must not fail, must not
touch the host), apply, apply again (nothing changes), verify passes; and
verify fails, naming the network, when the host drifts from the inventory."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import yaml

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


def test_the_lab_exported_and_given_back_to_site_changes_nothing(sb, tmp_path):
    """playbooks/export.yml writes the converged demo lab as host_vars; an
    inventory with only those variables converges to the same host: site.yml
    (one hypervisor task fed hypervisor_info's output) changes nothing."""
    out = tmp_path / "host_vars"
    cp = _play(sb, "export.yml", "-e", "virtnet_export_dir=%s" % out)
    assert _recap(cp)["failed"] == 0, cp.stdout[-3000:]
    exported = yaml.safe_load((out / "sandbox-hv" / "virtnet.yml").read_text())
    assert sorted(exported) == ["virtnet_bridges", "virtnet_networks", "virtnet_pxe_networks", "virtnet_sriov_vfs",
                                "virtnet_vm_interfaces"]
    assert {"lab-bridged", "lab-isolated", "lab-nat", "lab-open", "lab-routed"} <= \
        {n["name"] for n in exported["virtnet_networks"]}
    assert "br-lan" in {b["name"] for b in exported["virtnet_bridges"]}
    # a fresh inventory: the same host, only the exported variables
    inv = tmp_path / "inventory"
    (inv / "host_vars").mkdir(parents=True)
    shutil.copytree(out / "sandbox-hv", inv / "host_vars" / "sandbox-hv")
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"hypervisors": {"hosts": {"sandbox-hv": {
        "ansible_connection": "local",
        "ansible_python_interpreter": os.path.join(ROOT, "playbooks", "inventory", "demo", "hv-python")}}}}}}))
    before = host_state(sb)
    for extra in (["--check"], []):
        again = ansible_playbook(sb, os.path.join(ROOT, "playbooks", "site.yml"), *extra, inventory=str(inv))
        assert _recap(again) == dict(_recap(again), changed=0, failed=0), again.stdout[-3000:]
    assert host_state(sb) == before
