"""playbooks/site.yml, verify.yml and their inventories, checked without a
hypervisor: every option an inventory gives a module is one the module
accepts (validated against the module's documented argument spec), site.yml
passes every module option through (none silently dropped), and the
playbooks parse. Runs unchanged under AWX means: no vars_prompt, no pause."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"), ANSIBLE_NOCOLOR="1",
           PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
PB = os.path.join(ROOT, "playbooks")
INVENTORIES = ["example", "demo"]
# inventory variable -> (module, tasks file of site.yml, loop variable)
COMPONENTS = {
    "virtnet_bridges": ("nm_bond_bridge", "tasks/bridges.yml", "bridge"),
    "virtnet_networks": ("virt_network", "tasks/networks.yml", "net"),
}


class _Captured(Exception):
    pass


def _module_spec(module: str) -> dict:
    """The argument spec the module really hands AnsibleModule (its main()
    is run with AnsibleModule replaced by a recorder)."""
    import importlib
    from ansible.module_utils import basic
    mod = importlib.import_module(f"ansible_collections.virtnet.networking.plugins.modules.{module}")
    seen = {}

    def record(*args, **kwargs):
        seen.update(kwargs.get("argument_spec") or args[0])
        raise _Captured()

    orig = mod.AnsibleModule if hasattr(mod, "AnsibleModule") else basic.AnsibleModule
    mod.AnsibleModule = record
    try:
        mod.main()
    except _Captured:
        pass
    finally:
        mod.AnsibleModule = orig
    assert seen, f"{module}.main() built no AnsibleModule"
    return seen


def _host_vars(inventory: str) -> dict:
    """Each host's component variables, templated by Ansible itself."""
    want = ", ".join(f"'{v}': {v} | default([])" for v in COMPONENTS)
    cp = subprocess.run([os.path.join(BIN, "ansible"), "all", "-i", os.path.join(PB, "inventory", inventory),
                         "-c", "local", "-m", "ansible.builtin.debug", "-a", "msg={{ {%s} | to_json }}" % want],
                        env=dict(ENV, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json"),
                        capture_output=True, text=True, check=True)
    res = json.loads(cp.stdout[cp.stdout.index("{"):])
    hosts = res["plays"][0]["tasks"][0]["hosts"]
    return {h: json.loads(r["msg"]) for h, r in hosts.items()}


@pytest.fixture(scope="module")
def specs():
    return {m: _module_spec(m) for m, _tasks, _loop_var in COMPONENTS.values()}


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_items_are_valid_module_arguments(inventory, specs):
    hosts = _host_vars(inventory)
    assert hosts, f"no hosts in inventory {inventory}"
    checked = 0
    for host, comps in hosts.items():
        for var, items in comps.items():
            module = COMPONENTS[var][0]
            validator = ArgumentSpecValidator(specs[module])
            for item in items:
                res = validator.validate(dict(item))
                assert not res.error_messages, f"{inventory}/{host} {var} {item.get('name')}: {res.error_messages}"
                checked += 1
    assert checked >= 3


@pytest.mark.parametrize("var", sorted(COMPONENTS))
def test_site_passes_every_module_option_through(var, specs):
    module, tasks, loop_var = COMPONENTS[var]
    tasks_ = [t for t in yaml.safe_load(open(os.path.join(PB, tasks))) if f"virtnet.networking.{module}" in t]
    assert len(tasks_) == 1
    task = tasks_[0]
    args = task[f"virtnet.networking.{module}"]
    assert set(args) == set(specs[module]), (set(specs[module]) ^ set(args))
    for opt, expr in args.items():
        assert f"{loop_var}.{opt}" in expr, (opt, expr)
    assert task["loop"] == "{{ %s }}" % var


def test_one_bad_option_is_named():
    """The validation above is not vacuous: a typo in an inventory item fails it."""
    res = ArgumentSpecValidator(_module_spec("virt_network")).validate({"name": "x", "forwrd": {"mode": "nat"}})
    assert "forwrd" in " ".join(res.error_messages)


@pytest.mark.parametrize("playbook", ["site.yml", "verify.yml"])
def test_playbooks_parse_and_never_prompt(playbook):
    for inv in INVENTORIES:
        cp = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i",
                             os.path.join(PB, "inventory", inv), os.path.join(PB, playbook)],
                            env=ENV, capture_output=True, text=True, check=False)
        assert cp.returncode == 0, cp.stdout + cp.stderr
    text = open(os.path.join(PB, playbook)).read()
    assert "vars_prompt" not in text and "ansible.builtin.pause" not in text
