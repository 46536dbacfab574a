"""virt_iface / virt_iface_info: the documented options are exactly the
argument spec, and every EXAMPLES task passes the spec and the validator."""

import pytest
import yaml

from ansible_collections.virtnet.networking.plugins.modules import virt_iface, virt_iface_info
from ansible_collections.virtnet.networking.plugins.module_utils import iface_validate as ival
from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec

URI_DOC = {"uri": {"type": "str", "default": "qemu:///system"}}


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


@pytest.mark.parametrize("module,spec", [
    (virt_iface, virt_iface.argument_spec()),
    (virt_iface_info, libvirt_argspec(domain={"type": "str"})),
])
def test_documentation_matches_argument_spec(module, spec):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["version_added"] == "0.1.0"
    assert "virtnet.networking.libvirt" in doc["extends_documentation_fragment"]
    compare(dict(doc["options"], **URI_DOC), spec)
    yaml.safe_load(module.RETURN)
    yaml.safe_load(module.EXAMPLES)


def test_examples_are_valid_input():
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    validator = ArgumentSpecValidator(virt_iface.argument_spec())
    tasks = yaml.safe_load(virt_iface.EXAMPLES)
    for task in tasks:
        args = task["virtnet.networking.virt_iface"]
        result = validator.validate(args)
        assert not result.error_messages, (task["name"], result.error_messages)
        ival.desired_from_params(result.validated_parameters)
    # The macvtap -> bridge replacement is documented (seed 15.9.3).
    assert any("macvtap" in t["name"] and t["virtnet.networking.virt_iface"].get("type") == "bridge" for t in tasks)
