"""pxe_network / pxe_network_info: the documented options are exactly the
argument spec, and every EXAMPLES task passes the spec and the validator
(the docs cannot promise an option the module refuses)."""

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.virtnet.networking.plugins.modules import pxe_network, pxe_network_info
from ansible_collections.virtnet.networking.plugins.module_utils import pxe_model as pm
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
    (pxe_network, pxe_network.argument_spec()),
    (pxe_network_info, libvirt_argspec(name={"type": "str"}, fetch={"type": "bool", "default": False})),
])
def test_documentation_matches_argument_spec(module, spec):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["version_added"] == "0.1.0"
    assert "virtnet.networking.libvirt" in doc["extends_documentation_fragment"]
    compare(dict(doc["options"], **URI_DOC), spec)
    yaml.safe_load(module.RETURN)


def test_examples_are_valid_input():
    validator = ArgumentSpecValidator(pxe_network.argument_spec())
    tasks = yaml.safe_load(pxe_network.EXAMPLES)
    assert len(tasks) == 3
    for task in tasks:
        result = validator.validate(task["virtnet.networking.pxe_network"])
        assert not result.error_messages, (task["name"], result.error_messages)
        pm.want_from_params(result.validated_parameters)


def test_src_and_content_together_are_refused_by_the_spec():
    validator = ArgumentSpecValidator(pxe_network.argument_spec())
    res = validator.validate({"name": "default", "tftp_root": "/srv/tftp",
                              "boot_files": [{"name": "a", "src": "/a", "content": "x"}]})
    assert any("mutually exclusive: src|content" in m for m in res.error_messages), res.error_messages
