"""The collection README's (docs/README.md) "Use it from a playbook" example,
read from the README and run as a user runs it:
ansible-playbook, FQCN tasks, ``module_defaults`` for the collection's action
group setting ``uri``, and a NetworkManager task (nm_bond_bridge_info) in the
same play. Before meta/runtime.yml held only modules sharing ``uri``, the
README's ``group/virtnet.networking.virtnet`` reached nm_bond_bridge_info
too, which failed "Unsupported parameters ... uri". Both group names are
tested: ``libvirt`` (documented now) and ``virtnet`` (the name the README
gave before, kept for those playbooks).

A second play proves the group's default really reaches the libvirt modules
(a ``uri`` naming a socket that does not exist makes them fail naming it),
while the NetworkManager module, in no group, is not touched by it."""
from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml
from virtnet_testlib import ANSIBLE_BIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = ANSIBLE_BIN
HV_PYTHON = os.path.join(ROOT, "playbooks", "inventory", "demo", "hv-python")
HOST = "hv1"
NET = "lab"
NOSOCK = "/run/virtnet-no-such-dir/libvirt-sock"

README = os.path.join(ROOT, "docs", "README.md")   # the collection's README, as shipped


def readme_play(group: str) -> str:
    """The README's "Use it from a playbook" example exactly as written (only
    the group name varied), plus read-back tasks that prove what it did."""
    text = open(README, encoding="utf-8").read()
    block = re.search(r"## Use it from a playbook\n+```yaml\n(.*?)```", text, re.S)
    assert block, "docs/README.md has no yaml example under 'Use it from a playbook'"
    play = yaml.safe_load(block.group(1).replace("group/virtnet.networking.libvirt",
                                                  "group/virtnet.networking." + group))
    tasks = play[0]["tasks"]
    assert [next(k for k in t if k.startswith("virtnet.")) for t in tasks] == \
        ["virtnet.networking.virt_network", "virtnet.networking.nm_bond_bridge_info"], tasks
    tasks[1]["register"] = "bridges"
    tasks += [
        {"name": "The network as libvirt has it", "register": "lab",
         "virtnet.networking.virt_network_info": {"name": "lab"}},
        {"name": "Both answered", "ansible.builtin.assert": {"that": [
            "bridges.bridges is mapping",
            'lab.networks | map(attribute="name") | list == ["lab"]',
            "lab.networks[0].active"]}},
    ]
    return yaml.safe_dump(play, sort_keys=False)


BOGUS_PLAY = """
- hosts: hypervisors
  gather_facts: false
  module_defaults:
    group/virtnet.networking.{group}:
      uri: "qemu:///system?socket={nosock}"
  tasks:
    - name: A libvirt module gets the group's uri
      virtnet.networking.virt_network_info:
        name: lab
      register: lab
      ignore_errors: true

    - name: The NetworkManager module does not
      virtnet.networking.nm_bond_bridge_info:
      register: bridges

    - name: The libvirt module failed on the group's socket
      ansible.builtin.assert:
        that:
          - lab is failed
          - "'{nosock}' in lab.msg"
"""


def _play(sb, tmp_path, text: str) -> subprocess.CompletedProcess:
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"children": {"hypervisors": {"hosts": {HOST: {
        "ansible_connection": "local", "ansible_python_interpreter": HV_PYTHON}}}}}}))
    pb = tmp_path / "play.yml"
    pb.write_text(text)
    env = dict(os.environ, VIRTNET_SANDBOX_NAME=sb.name, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inv), str(pb)],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def _recap(cp: subprocess.CompletedProcess) -> dict:
    m = re.search(HOST + r"\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", cp.stdout)
    assert m, cp.stdout[-4000:] + cp.stderr[-2000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups())))


def _drop_lab(sb) -> None:
    sb.virsh("net-destroy", NET, check=False)
    sb.virsh("net-undefine", NET, check=False)


@pytest.fixture
def hv(sandbox_nm):
    _drop_lab(sandbox_nm)
    yield sandbox_nm
    _drop_lab(sandbox_nm)


@pytest.mark.parametrize("group", ["libvirt", "virtnet"])
def test_readme_example_with_nm_task_in_the_play(hv, tmp_path, group):
    cp = _play(hv, tmp_path, readme_play(group))
    assert "Unsupported parameters" not in cp.stdout, cp.stdout[-4000:]
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr[-2000:]
    assert _recap(cp) == {"ok": 5, "changed": 1, "unreachable": 0, "failed": 0}   # facts + 4 tasks
    assert "203.0.113.10" in hv.virsh("net-dumpxml", NET).stdout
    # The user's second run changes nothing.
    again = _play(hv, tmp_path, readme_play(group))
    assert _recap(again)["changed"] == 0, again.stdout[-4000:]


@pytest.mark.parametrize("group", ["libvirt", "virtnet"])
def test_group_default_reaches_libvirt_modules_only(hv, tmp_path, group):
    cp = _play(hv, tmp_path, BOGUS_PLAY.format(group=group, nosock=NOSOCK))
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr[-2000:]
    assert _recap(cp)["failed"] == 0
