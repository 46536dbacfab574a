"""playbooks/site.yml, verify.yml and their inventories (the example fleet
and the demo lab), checked without a hypervisor: every inventory item is
accepted by the validation virtnet.networking.hypervisor itself runs (each
list's items against their module's options, templated by Ansible itself),
site.yml hands each inventory list to that one task whole (so a misspelled key
reaches the module and is refused, not dropped), and the playbooks parse and
never prompt, so they run unchanged as AWX job templates."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import spec as hs
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor.validate import items_from_params
from virtnet_testlib import ANSIBLE_BIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = ANSIBLE_BIN
PB = os.path.join(ROOT, "playbooks")
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"), ANSIBLE_NOCOLOR="1",
           PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
# inventory variable -> list of virtnet.networking.hypervisor
COMPONENTS = {"virtnet_" + name: name for name in hs.LISTS}


def _params(lists: dict) -> dict:
    """The hypervisor task's parameters as AnsibleModule leaves them."""
    return dict({name: lists.get(name) or [] for name in hs.LISTS}, uri="qemu:///system", state="merged",
                restart=False, force=False, managed=None)


INVENTORIES = ["example", "demo"]


def host_vars(inventory: str) -> dict:
    want = ", ".join(f"'{v}': {v} | default([])" for v in COMPONENTS)
    cp = subprocess.run([os.path.join(BIN, "ansible"), "all", "-i", os.path.join(PB, "inventory", inventory),
                         "-c", "local", "-m", "ansible.builtin.debug", "-a", "msg={{ {%s} | to_json }}" % want],
                        env=dict(ENV, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json"),
                        capture_output=True, text=True, check=True)
    res = json.loads(cp.stdout[cp.stdout.index("{"):])
    return {h: json.loads(r["msg"]) for h, r in res["plays"][0]["tasks"][0]["hosts"].items()}


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_items_are_valid_module_arguments(inventory):
    seen = {var: 0 for var in COMPONENTS}
    for host, comps in host_vars(inventory).items():
        items = items_from_params(_params({COMPONENTS[var]: value for var, value in comps.items()}))
        for var, name in COMPONENTS.items():
            seen[var] += sum(1 for i in items if i.list == name)
        assert len(items) == sum(len(v) for v in comps.values()), (inventory, host)
    if inventory == "example":   # it documents every component, the NICs several times
        assert all(seen.values()) and seen["virtnet_vm_interfaces"] >= 5, seen
    else:
        assert seen["virtnet_networks"] >= 5 and seen["virtnet_pxe_networks"] >= 1, seen


@pytest.mark.parametrize("lists, where", [
    ({"networks": [{"name": "x", "forward": {"mode": "nat"}}, {"name": "y", "forwrd": {"mode": "nat"}}]},
     "networks[1].forwrd"),
    ({"vm_interfaces": [{"domain": "web1", "type": "network", "soruce": "default", "alias": "ua-a"}]},
     "vm_interfaces[0].soruce"),
    ({"networks": [{"name": "x", "uri": "qemu:///session"}]}, "networks[0].uri"),   # the host's URI, once
])
def test_the_validation_is_not_vacuous(lists, where):
    with pytest.raises(ValidationError) as err:
        items_from_params(_params(lists))
    assert err.value.option == where, err.value.msg


def _site_vars(host: dict) -> dict:
    """What site.yml's one task receives for a host with these variables,
    templated by Ansible from the playbook's own vars."""
    play = yaml.safe_load(open(os.path.join(PB, "site.yml")))[0]
    task = [t for t in play["tasks"] if "virtnet.networking.hypervisor" in t]
    assert len(task) == 1, "site.yml: one hypervisor task per host"
    args = task[0]["virtnet.networking.hypervisor"]
    assert set(args) == {"uri", *hs.LISTS}, args
    want = ", ".join("'%s': %s" % (k, v.strip("{} ")) for k, v in args.items() if k != "uri")
    cp = subprocess.run([os.path.join(BIN, "ansible"), "localhost", "-c", "local", "-m", "ansible.builtin.debug",
                         "-a", "msg={{ {%s} | to_json }}" % want,
                         "-e", json.dumps(play["vars"]), "-e", json.dumps(host)],
                        env=dict(ENV, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json",
                                 ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0"),
                        capture_output=True, text=True, check=True)
    res = json.loads(cp.stdout[cp.stdout.index("{"):])
    return json.loads(res["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"])


def test_site_hands_every_item_through_whole():
    """Every key of every item reaches the module as written (a typo too:
    the module refuses it by name); virtnet_site_skip leaves a list empty."""
    net = {"name": "n1", "forwrd": {"mode": "nat"}, "autostart": True}
    nic = {"domain": "web1", "alias": "ua-a", "type": "network", "source": "n1", "modle": "e1000e"}
    host = {"virtnet_networks": [net], "virtnet_vm_interfaces": [nic],
            "virtnet_bridges": [{"name": "br0", "ports": ["eth1"]}]}
    got = _site_vars(host)
    assert got == {"bridges": host["virtnet_bridges"], "sriov_vfs": [], "networks": [net], "pxe_networks": [],
                   "vm_interfaces": [nic]}, got
    skipped = _site_vars(dict(host, virtnet_site_skip=["bridges", "vm_interfaces"]))
    assert skipped == dict(got, bridges=[], vm_interfaces=[]), skipped


@pytest.mark.parametrize("playbook", ["site.yml", "verify.yml"])
def test_runs_as_an_awx_job_template(playbook):
    """Parses against both inventories, prompts for nothing, never pauses."""
    for inv in INVENTORIES:
        cp = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i",
                             os.path.join(PB, "inventory", inv), os.path.join(PB, playbook)],
                            env=ENV, capture_output=True, text=True, check=False)
        assert cp.returncode == 0, cp.stdout + cp.stderr
    files = [playbook]
    interactive = {"vars_prompt", "pause", "ansible.builtin.pause", "ansible.legacy.pause", "prompt"}
    for name in files:
        keys = set(_keys(yaml.safe_load(open(os.path.join(PB, name)))))
        assert len(keys) > 5 and not keys & interactive, (name, keys & interactive)


def _keys(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _keys(v)
    elif isinstance(node, list):
        for v in node:
            yield from _keys(v)
