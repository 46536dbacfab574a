"""virt_network / virt_network_info: the documented options are exactly the
argument spec (names, types, required, defaults, choices, elements), and the
EXAMPLES validate against that spec."""

import yaml
import pytest

from ansible_collections.virtnet.networking.plugins.modules import virt_network, virt_network_info
from ansible_collections.virtnet.networking.plugins.module_utils import network_validate as nv
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
    (virt_network, virt_network.argument_spec()),
    (virt_network_info, libvirt_argspec(name={"type": "str"})),
])
def test_documentation_matches_argument_spec(module, spec):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["version_added"] == "0.1.0"
    assert "virtnet.networking.libvirt" in doc["extends_documentation_fragment"]
    compare(dict(doc["options"], **URI_DOC), spec)
    yaml.safe_load(module.RETURN)


def test_examples_are_valid_input():
    """Every example task passes the argument spec and the validator."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    validator = ArgumentSpecValidator(virt_network.argument_spec())
    for task in yaml.safe_load(virt_network.EXAMPLES):
        args = task["virtnet.networking.virt_network"]
        result = validator.validate(args)
        assert not result.error_messages, (task["name"], result.error_messages)
        nv.network_from_params(result.validated_parameters)
