"""sriov_vf through real ansible-playbook (AnsiballZ packs the module and its
module_utils, virt_iface's XML code included): --check, apply, apply again
against the sandbox's libvirt and the fake kernel tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from fakesysfs import FakeKernel
from virtnet_testlib import ANSIBLE_BIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VM = "sriovpb"


@pytest.fixture
def kernel(tmp_path):
    k = FakeKernel(tmp_path / "root")
    k.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    k.delay = 0.2
    k.watch()
    yield k
    k.stop()


@pytest.fixture
def guest(sandbox, tmp_path):
    path = tmp_path / "guest.xml"
    path.write_text(sandbox.guest_xml(VM, []))
    sandbox.virsh("define", str(path))
    yield VM
    sandbox.virsh("undefine", VM, check=False)


def playbook(tmp_path, uri, root):
    tasks = [
        {"name": "VFs and one for the VM", "virtnet.networking.sriov_vf": {
            "pf": "eth1", "num_vfs": 2, "uri": uri, "sysfs_root": root,
            "attach": {"vm": VM, "mac": "52:54:00:00:0b:01"}}, "register": "vf"},
        {"name": "Read back", "virtnet.networking.sriov_vf_info": {"pf": "eth1", "uri": uri, "sysfs_root": root},
         "register": "info"},
        {"name": "The VM holds VF 0", "ansible.builtin.assert": {"that": [
            "info.pfs[0].vfs[0].vms | map(attribute='vm') | list == ['%s']" % VM]}, "when": "not ansible_check_mode"},
    ]
    path = tmp_path / "sriov.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    return str(path)


def run(pb, *extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_NOCOLOR="1")
    cp = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-playbook"), "-i", "localhost,", "-c",
                         "local", "-e", "ansible_python_interpreter=%s" % sys.executable, pb, *extra],
                        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    out = json.loads(cp.stdout[cp.stdout.index("{"):])
    return {t["task"]["name"]: t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]}


def test_playbook_check_apply_again(sandbox, kernel, guest, tmp_path):
    pb = playbook(tmp_path, sandbox.uri, kernel.root)
    before = kernel.listing()
    check = run(pb, "--check", "--diff")
    assert kernel.listing() == before                   # check mode wrote nothing
    applied = run(pb, "--diff")
    again = run(pb)
    c, a, g = (r["VFs and one for the VM"] for r in (check, applied, again))
    assert c["changed"] and a["changed"] and not g["changed"]
    assert c["actions"] == a["actions"] and c["diff"]["after"] == a["diff"]["after"]
    assert a["attached"]["pci"] == "0000:00:13.0" and a["sriov"]["numvfs"] == 2
