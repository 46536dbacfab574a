"""sriov_vf / sriov_vf_info: the documented options are exactly the argument
spec, every EXAMPLES task passes the spec and the module's own validation,
and ansible-doc renders both modules."""

import os
import subprocess
import sys

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.virtnet.networking.plugins.module_utils import sriov_model as sm
from ansible_collections.virtnet.networking.plugins.modules import sriov_vf, sriov_vf_info

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


@pytest.mark.parametrize("module", [sriov_vf, sriov_vf_info])
def test_documentation_matches_argument_spec(module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["version_added"] == "0.1.0"
    assert "virtnet.networking.libvirt" in doc["extends_documentation_fragment"]
    compare(dict(doc["options"], **URI_DOC), module.argument_spec())
    assert isinstance(yaml.safe_load(module.RETURN), dict)


@pytest.mark.parametrize("module", [sriov_vf, sriov_vf_info])
def test_examples_are_valid_input(module):
    validator = ArgumentSpecValidator(module.argument_spec())
    tasks = [t for t in yaml.safe_load(module.EXAMPLES) if "virtnet.networking." + module.__name__.rsplit(".", 1)[1] in t]
    assert tasks
    for task in tasks:
        args = task["virtnet.networking." + module.__name__.rsplit(".", 1)[1]] or {}
        result = validator.validate(args)
        assert not result.error_messages, (task["name"], result.error_messages)
        if module is sriov_vf:
            sm.desired_from_params(result.validated_parameters)


def test_ansible_doc_renders_both_modules():
    build = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".build")
    for name in ("sriov_vf", "sriov_vf_info"):
        cp = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"),
                             "virtnet.networking." + name], capture_output=True, text=True, check=False,
                            env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.abspath(build)))
        assert cp.returncode == 0 and "ERROR" not in cp.stderr, cp.stderr
        assert "sysfs_root" in cp.stdout and "For testing only" in cp.stdout
