"""Every module: the documented options are exactly its argument spec
(names, types, required, defaults, choices, elements, suboptions), every
EXAMPLES task passes that spec and the module's own validation (the docs
cannot promise what the module refuses), and ansible-doc renders them all."""

import os
import subprocess
import sys

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.virtnet.networking.plugins.module_utils.iface import validate as ival
from ansible_collections.virtnet.networking.plugins.module_utils.network import validate as nv
from ansible_collections.virtnet.networking.plugins.module_utils.nm import validate as nm_validate
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import validate as pval
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import validate as sval
from ansible_collections.virtnet.networking.plugins.modules import (
    hypervisor, hypervisor_info, nm_bond_bridge, nm_bond_bridge_info, pxe_network, pxe_network_info, sriov_vf, sriov_vf_info, virt_iface,
    virt_iface_info, virt_network, virt_network_info,
)

URI_DOC = {"uri": {"type": "str", "default": "qemu:///system"}}
# module -> the module's own validation of validated parameters (None: the spec is all)
MODULES = {
    virt_network: nv.network_from_params,
    virt_network_info: None,
    virt_iface: ival.desired_from_params,
    virt_iface_info: None,
    nm_bond_bridge: nm_validate.want_from_params,
    nm_bond_bridge_info: None,
    pxe_network: pval.want_from_params,
    pxe_network_info: None,
    sriov_vf: sval.desired_from_params,
    sriov_vf_info: None,
    hypervisor_info: None,
}
IDS = [m.__name__.rsplit(".", 1)[1] for m in MODULES]
BUILD = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".build"))


def short(module):
    return module.__name__.rsplit(".", 1)[1]


def compare(doc, spec, path=""):
    assert set(doc) == set(spec), (path, sorted(set(doc) ^ set(spec)))
    for name, d in doc.items():
        s = spec[name]
        where = path + name
        assert d.get("type", "str") == s.get("type", "str"), where
        assert bool(d.get("required")) == bool(s.get("required")), where
        assert d.get("default") == s.get("default"), where
        assert d.get("choices") == s.get("choices"), where
        assert d.get("elements") == s.get("elements"), where
        if "options" in s or "suboptions" in d:
            compare(d.get("suboptions", {}), s.get("options", {}), where + ".")


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_documentation_matches_argument_spec(module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == short(module) and doc["version_added"] == "0.1.0"
    fragments = doc.get("extends_documentation_fragment", [])
    info = short(module).endswith("_info")
    assert ("virtnet.networking.attributes.INFO" if info else "virtnet.networking.attributes") in fragments
    documented = dict(doc["options"])
    if "virtnet.networking.libvirt" in fragments:
        documented.update(URI_DOC)
    compare(documented, module.argument_spec())
    assert isinstance(yaml.safe_load(module.RETURN), dict)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_examples_are_valid_input(module):
    validator = ArgumentSpecValidator(module.argument_spec())
    key = "virtnet.networking." + short(module)
    tasks = [t for t in yaml.safe_load(module.EXAMPLES) if key in t]
    assert tasks, "no example calls %s" % key
    for task in tasks:
        result = validator.validate(task[key] or {})
        assert not result.error_messages, (task["name"], result.error_messages)
        if MODULES[module] is not None:
            MODULES[module](result.validated_parameters)


def test_hypervisor_examples_items_are_valid_items():
    """The items of hypervisor's examples pass the same per-item check a run
    makes (the top-level spec only knows they are lists)."""
    from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import validate as hval
    top = {"uri": "qemu:///system", "state": "merged", "restart": False, "force": False, "managed": None}
    checked = 0
    for task in yaml.safe_load(hypervisor.EXAMPLES):
        args = task["virtnet.networking.hypervisor"]
        if any(isinstance(v, str) and "{{" in v for v in args.values()):
            continue    # lists from variables
        items = hval.items_from_params(dict(top, **{k: v for k, v in args.items() if k not in ("state", "managed")}))
        checked += len(items)
    assert checked >= 8


def test_documented_examples_users_look_for():
    names = [t["name"] for t in yaml.safe_load(virt_iface.EXAMPLES)]
    tasks = {t["name"]: t["virtnet.networking.virt_iface"] for t in yaml.safe_load(virt_iface.EXAMPLES)}
    # Replacing macvtap with a bridge (seed 15.9.3) is an edit of the same NIC.
    assert any("macvtap" in n and tasks[n].get("type") == "bridge" for n in names)
    assert any(t.get("boot_order") == 1 for t in tasks.values())
    assert len(yaml.safe_load(pxe_network.EXAMPLES)) >= 3


def test_src_and_content_together_are_refused_by_the_spec():
    res = ArgumentSpecValidator(pxe_network.argument_spec()).validate(
        {"name": "default", "tftp_root": "/srv/tftp", "boot_files": [{"name": "a", "src": "/a", "content": "x"}]})
    assert any("mutually exclusive: src|content" in m for m in res.error_messages), res.error_messages


def test_ansible_doc_renders_every_module():
    cp = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc")]
                        + ["virtnet.networking." + n for n in IDS], capture_output=True, text=True, check=False,
                        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=BUILD))
    assert cp.returncode == 0 and "ERROR" not in cp.stderr, cp.stderr
    for name in IDS:
        assert "virtnet.networking.%s" % name in cp.stdout, name
    # The testing-only option says so where users read it.
    assert "sysfs_root" in cp.stdout and "For testing only" in cp.stdout
