"""The module's documented options are exactly its argument spec (names,
types, defaults, choices), so ansible-doc tells users the truth."""

import yaml

from ansible_collections.virtnet.networking.plugins.module_utils.nm_engine import ARGSPEC
from ansible_collections.virtnet.networking.plugins.modules import nm_bond_bridge, nm_bond_bridge_info


def compare(doc_opts, spec, path=""):
    assert set(doc_opts) == set(spec), path
    for name, spec_opt in spec.items():
        d = doc_opts[name]
        where = path + name
        assert d["type"] == spec_opt.get("type", "str"), where
        assert d.get("default") == spec_opt.get("default"), where
        assert d.get("choices") == spec_opt.get("choices"), where
        assert bool(d.get("required")) == bool(spec_opt.get("required")), where
        assert d.get("elements") == spec_opt.get("elements"), where
        if spec_opt.get("options"):
            compare(d["suboptions"], spec_opt["options"], where + ".")


def test_documentation_matches_argspec():
    doc = yaml.safe_load(nm_bond_bridge.DOCUMENTATION)
    assert doc["version_added"] == "0.1.0"
    compare(doc["options"], ARGSPEC)


def test_examples_use_only_documented_options():
    doc = yaml.safe_load(nm_bond_bridge.DOCUMENTATION)
    for task in yaml.safe_load(nm_bond_bridge.EXAMPLES):
        args = task["virtnet.networking.nm_bond_bridge"]
        assert set(args) <= set(doc["options"]), task["name"]
        if "bond" in args:
            assert set(args["bond"]) <= set(doc["options"]["bond"]["suboptions"])


def test_info_module_documents_its_option():
    doc = yaml.safe_load(nm_bond_bridge_info.DOCUMENTATION)
    assert set(doc["options"]) == {"name"} and doc["version_added"] == "0.1.0"
    assert "virtnet.networking.attributes.INFO" in doc["extends_documentation_fragment"]


def test_return_and_examples_are_yaml():
    for m in (nm_bond_bridge, nm_bond_bridge_info):
        assert isinstance(yaml.safe_load(m.RETURN), dict)
        assert isinstance(yaml.safe_load(m.EXAMPLES), list)


def test_ansible_doc_renders_both_modules():
    import os
    import subprocess
    import sys
    build = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".build")
    for name in ("nm_bond_bridge", "nm_bond_bridge_info"):
        cp = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"),
                             "virtnet.networking." + name], capture_output=True, text=True, check=False,
                            env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.abspath(build)))
        assert cp.returncode == 0 and "ERROR" not in cp.stderr, cp.stderr
        assert "MODULE" in cp.stdout
