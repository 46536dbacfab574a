"""playbooks/site.yml, verify.yml and their inventories (the example fleet
and the demo lab), checked without a hypervisor: every item is a valid set of
arguments for its module (validated against the argument spec the module
really builds, templated by Ansible itself), site.yml's task files hand every
module option through (none silently dropped), and the playbooks parse and
never prompt, so they run unchanged as AWX job templates."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from virtnet_testlib import module_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
PB = os.path.join(ROOT, "playbooks")
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"), ANSIBLE_NOCOLOR="1",
           PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
# inventory variable -> (module, tasks file of site.yml, loop variable)
COMPONENTS = {
    "virtnet_bridges": ("nm_bond_bridge", "tasks/bridges.yml", "bridge"),
    "virtnet_networks": ("virt_network", "tasks/networks.yml", "net"),
    "virtnet_sriov_vfs": ("sriov_vf", "tasks/sriov_vfs.yml", "vf"),
    "virtnet_pxe_networks": ("pxe_network", "tasks/pxe_networks.yml", "pxe"),
    "virtnet_vm_interfaces": ("virt_iface", "tasks/vm_interfaces.yml", "iface"),
}


INVENTORIES = ["example", "demo"]


def host_vars(inventory: str) -> dict:
    want = ", ".join(f"'{v}': {v} | default([])" for v in COMPONENTS)
    cp = subprocess.run([os.path.join(BIN, "ansible"), "all", "-i", os.path.join(PB, "inventory", inventory),
                         "-c", "local", "-m", "ansible.builtin.debug", "-a", "msg={{ {%s} | to_json }}" % want],
                        env=dict(ENV, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json"),
                        capture_output=True, text=True, check=True)
    res = json.loads(cp.stdout[cp.stdout.index("{"):])
    return {h: json.loads(r["msg"]) for h, r in res["plays"][0]["tasks"][0]["hosts"].items()}


@pytest.fixture(scope="module")
def specs():
    return {m: module_spec(m) for m, _t, _l in COMPONENTS.values()}


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_items_are_valid_module_arguments(inventory, specs):
    seen = {var: 0 for var in COMPONENTS}
    for host, comps in host_vars(inventory).items():
        for var, items in comps.items():
            spec, extra = specs[COMPONENTS[var][0]]
            validator = ArgumentSpecValidator(spec, **extra)
            for item in items:
                res = validator.validate(dict(item))
                assert not res.error_messages, f"{inventory}/{host} {var} {item}: {res.error_messages}"
                seen[var] += 1
    if inventory == "example":   # it documents every component, the NICs several times
        assert all(seen.values()) and seen["virtnet_vm_interfaces"] >= 5, seen
    else:
        assert seen["virtnet_networks"] >= 5 and seen["virtnet_pxe_networks"] >= 1, seen


def test_the_validation_is_not_vacuous(specs):
    spec, extra = specs["virt_network"]
    res = ArgumentSpecValidator(spec, **extra).validate({"name": "x", "forwrd": {"mode": "nat"}})
    assert "forwrd" in " ".join(res.error_messages)
    spec, extra = specs["virt_iface"]
    res = ArgumentSpecValidator(spec, **extra).validate({"domain": "web1", "type": "network", "soruce": "default"})
    assert "soruce" in " ".join(res.error_messages)
    res = ArgumentSpecValidator(spec, **extra).validate({"domain": "web1", "type": "network", "source": "default"})
    assert "mac, alias" in " ".join(res.error_messages)     # required_one_of: an item must name its NIC


@pytest.mark.parametrize("var", sorted(COMPONENTS))
def test_site_passes_every_module_option_through(var, specs):
    module, tasks, loop_var = COMPONENTS[var]
    found = [t for t in yaml.safe_load(open(os.path.join(PB, tasks))) if f"virtnet.networking.{module}" in t]
    assert len(found) == 1
    task = found[0]
    args = task[f"virtnet.networking.{module}"]
    assert set(args) == set(specs[module][0]), set(specs[module][0]) ^ set(args)
    for opt, expr in args.items():
        assert f"{loop_var}.{opt}" in expr, (opt, expr)
    assert task["loop"] == "{{ %s }}" % var
    assert task["loop_control"]["loop_var"] == loop_var and "label" in task["loop_control"]


@pytest.mark.parametrize("playbook", ["site.yml", "verify.yml"])
def test_runs_as_an_awx_job_template(playbook):
    """Parses against both inventories, prompts for nothing, never pauses."""
    for inv in INVENTORIES:
        cp = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i",
                             os.path.join(PB, "inventory", inv), os.path.join(PB, playbook)],
                            env=ENV, capture_output=True, text=True, check=False)
        assert cp.returncode == 0, cp.stdout + cp.stderr
    files = [playbook] + [t for _m, t, _l in COMPONENTS.values()]
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


@pytest.mark.parametrize("var", ["virtnet_sriov_vfs", "virtnet_vm_interfaces"])
def test_unknown_option_guard_knows_exactly_the_module_options(var, specs):
    """The task that refuses typos lists the module's options, no more, no less."""
    module, tasks, _loop_var = COMPONENTS[var]
    guard = [t for t in yaml.safe_load(open(os.path.join(PB, tasks))) if t["name"].startswith("Refuse unknown options")]
    assert len(guard) == 1 and guard[0]["loop"] == "{{ %s }}" % var
    assert sorted(guard[0]["vars"]["_known"]) == sorted(specs[module][0])
