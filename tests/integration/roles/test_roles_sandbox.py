"""The roles as a fleet job runs them, on a fresh sandbox (instance n8) with
NetworkManager: check mode never fails and never touches the host, and bad
variables are refused before anything runs, naming the variable and value."""
from __future__ import annotations

import re
import subprocess

import pytest

from playbook_helpers import ansible_playbook, host_state


def _role(sb, tmp_path, role: str, variables: dict, *extra: str) -> subprocess.CompletedProcess:
    import json
    play = tmp_path / f"{role}.yml"
    play.write_text(json.dumps([{"hosts": "sandbox-hv", "gather_facts": False,
                                 "roles": [dict({"role": f"virtnet.networking.{role}"}, **variables)]}]))
    return ansible_playbook(sb, str(play), *extra)


@pytest.mark.parametrize("how", ["--check", "include_role apply check_mode"])
def test_externally_visible_vm_check_mode_on_a_fresh_host(sb, tmp_path, how):
    # The role refuses a VM libvirt does not know (before any change, check
    # mode too), so the fresh host gets one: defined, shut off, on macvtap.
    # Check mode given to the role's tasks only (ansible_check_mode stays
    # false) must not verify a bridge that was only planned either.
    sb.define_guest("web1", nics=[{"type": "direct", "source": "lan1", "mac": "52:54:00:e7:00:11"}])
    variables = {"externally_visible_vm_name": "web1", "externally_visible_vm_host_interface": "lan2",
                 "externally_visible_vm_bridge": "br-ext"}
    try:
        before = host_state(sb)
        if how == "--check":
            cp = _role(sb, tmp_path, "externally_visible_vm", variables, "--check", "--diff")
        else:
            import json
            play = tmp_path / "apply-check.yml"
            play.write_text(json.dumps([{"hosts": "sandbox-hv", "gather_facts": False, "tasks": [
                {"ansible.builtin.include_role": {"name": "virtnet.networking.externally_visible_vm",
                                                  "apply": {"check_mode": True}}, "vars": variables}]}]))
            cp = ansible_playbook(sb, str(play), "--diff")
        assert re.search(r"failed=0", cp.stdout), cp.stdout[-3000:]
        # one hypervisor call plans the switch against the bridge it creates
        assert "vm_interfaces[0] web1 52:54:00:e7:00:11 " in cp.stdout, cp.stdout[-3000:]
        assert re.search(r'\+\s+"ports": \[\n\+\s+"lan2"\n\+\s+\]', cp.stdout), "the diff shows the planned port"
        assert ("switch interface 52:54:00:e7:00:11 of web1 from direct lan1 to the bridge br-ext, keeping its MAC and "
                "PCI address") in cp.stdout, cp.stdout[-3000:]
        assert host_state(sb) == before
    finally:
        sb.virsh("undefine", "web1", check=False)


@pytest.mark.parametrize("role,variables,named", [
    ("externally_visible_vm", {"externally_visible_vm_host_interface": "lan2"}, "externally_visible_vm_name"),
    ("externally_visible_vm", {"externally_visible_vm_name": "web1", "externally_visible_vm_host_interface": "lan2",
                               "externally_visible_vm_restart": "sometimes"}, "externally_visible_vm_restart"),
    ("externally_visible_vm", {"externally_visible_vm_name": "web1", "externally_visible_vm_host_interface": "lan2",
                               "externally_visible_vm_verify_port": "ssh"}, "externally_visible_vm_verify_port"),
    ("bonded_bridge", {"bonded_bridge_ports": ["lan1"], "bonded_bridge_mode": "balance-rr"}, "bonded_bridge_mode"),
    ("bonded_bridge", {"bonded_bridge_ports": ["lan1"], "bonded_bridge_mode": "0"}, "bonded_bridge_mode"),
    ("bonded_bridge", {"bonded_bridge_ports": ["lan1"], "bonded_bridge_mode": "broadcast"}, "bonded_bridge_mode"),
    ("bonded_bridge", {"bonded_bridge_ports": "lan1,lan2", "bonded_bridge_vms": [{"mac": "52:54:00:00:00:01"}]},
     "missing required arguments: name found in bonded_bridge_vms"),
    ("bonded_bridge", {"bonded_bridge_ports": []}, "bonded_bridge_ports"),
])
def test_bad_variables_are_refused_before_anything_runs(sb, tmp_path, role, variables, named):
    before = host_state(sb)
    cp = _role(sb, tmp_path, role, variables)
    assert cp.returncode != 0
    assert "changed=0" in cp.stdout, cp.stdout[-3000:]
    assert named in cp.stdout, cp.stdout[-3000:]
    bad = [v for k, v in variables.items() if k == named and isinstance(v, str)]
    for value in bad:
        assert value in cp.stdout, (value, cp.stdout[-3000:])
    assert host_state(sb) == before
