"""The docs site guide (docs/docsite/rst/rhel_procedures.rst) maps every
procedure of the RHEL chapters "Understanding virtual networking" (14) and
"Configuring virtual machine network connections" (15) to tasks. A user copies
those tasks: each must pass the module's own argument validation (option
names, types, choices, required suboptions, exclusive options) as the module
really builds it, and every section with a procedure must be there."""
from __future__ import annotations

import os
import re

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from virtnet_testlib import module_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUIDE = os.path.join(ROOT, "docs", "docsite", "rst", "rhel_procedures.rst")
PREFIX = "virtnet.networking."

# Sections of the two chapters: the modes of chapter 14 and every section
# of chapter 15 that has a procedure (15.6 has three, in the web console).
SECTIONS = ["14.1", "14.2", "14.3", "14.4", "14.5", "14.6", "14.7", "15.6", "15.7.2", "15.8.1", "15.8.2",
            "15.8.3", "15.9.1", "15.9.2", "15.9.3", "15.10.1", "15.10.2", "15.10.3", "15.10.4", "15.11"]


def _guide() -> str:
    with open(GUIDE, encoding="utf-8") as f:
        return f.read()


def _blocks(text: str) -> list:
    """The YAML code blocks, each as (line number, parsed YAML)."""
    out = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)\.\. code-block:: yaml\s*$", line)
        if not m:
            continue
        body, j = [], i + 1
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > len(m.group(1))):
            body.append(lines[j])
            j += 1
        out.append((i + 1, yaml.safe_load("\n".join(body))))
    return out


def _tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key.startswith(PREFIX):
                yield key[len(PREFIX):], value or {}
            elif key in ("tasks", "block"):
                yield from _tasks(value)


TASKS = [(line, module, args) for line, block in _blocks(_guide()) for module, args in _tasks(block)]


def test_the_guide_has_tasks_for_every_module():
    modules = {m[:-3] for m in os.listdir(os.path.join(ROOT, "plugins", "modules")) if m.endswith(".py")}
    used = {module for _line, module, _args in TASKS}
    # Every module, in a task or at least by name.
    text = _guide()
    assert not {m for m in modules - used if PREFIX + m not in text}, "modules the guide never names"
    assert len(TASKS) >= 15


@pytest.mark.parametrize("line,module,args", TASKS, ids=["line%d-%s" % (t[0], t[1]) for t in TASKS])
def test_each_task_passes_the_module_argument_validation(line, module, args):
    spec, rules = module_spec(module)
    result = ArgumentSpecValidator(spec, **rules).validate(dict(args))
    assert not result.error_messages, "guide line %d, %s: %s" % (line, module, result.error_messages)


def test_every_section_with_a_procedure_is_mapped():
    text = _guide()
    missing = [s for s in SECTIONS if not re.search(r"(?<![\d.])%s(?![\d])" % re.escape(s), text)]
    assert not missing


def test_cites_the_documents_by_title_not_as_seed():
    text = _guide()
    assert "Understanding virtual networking" in text
    assert "Configuring virtual machine network connections" in text
    assert not re.search(r"\bseed\b", text, re.I)


# -- the role READMEs' examples (their docs pages point at them) ------------

def _role_examples() -> list:
    """(role, where, variables) for each use of a role in its README's YAML
    blocks and in the examples of its argument specs (which the docs site
    shows on the role's page)."""
    out = []
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        with open(os.path.join(ROOT, "roles", role, "README.md"), encoding="utf-8") as f:
            blocks = [("README-%d" % n, b) for n, b in enumerate(re.findall(r"```yaml\n(.*?)```", f.read(), re.S))]
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as f:
            blocks.append(("argument_specs", yaml.safe_load(f)["argument_specs"]["main"].get("examples", "")))
        for where, block in blocks:
            for n, play in enumerate(yaml.safe_load(block) or []):
                for entry in play.get("roles", []):
                    if entry["role"] == PREFIX + role:
                        out.append((role, "%s-%d" % (where, n), {k: v for k, v in entry.items() if k != "role"}))
    return out


ROLE_EXAMPLES = _role_examples()


def test_each_role_page_and_readme_have_examples():
    for role in os.listdir(os.path.join(ROOT, "roles")):
        where = [w.split("-")[0] for r, w, _v in ROLE_EXAMPLES if r == role]
        assert where.count("argument_specs") >= 2 and where.count("README") >= 2, role


@pytest.mark.parametrize("role,where,variables", ROLE_EXAMPLES, ids=["%s-%s" % (r, w) for r, w, _v in ROLE_EXAMPLES])
def test_each_role_example_passes_the_role_argument_spec(role, where, variables):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as f:
        spec = yaml.safe_load(f)["argument_specs"]["main"]["options"]

    def strip(options):
        return {k: {kk: (strip(vv) if kk == "options" else vv) for kk, vv in o.items()
                    if kk in ("type", "elements", "choices", "required", "default", "options")}
                for k, o in options.items()}

    result = ArgumentSpecValidator(strip(spec)).validate(dict(variables))
    assert not result.error_messages


# -- what the module pages show ---------------------------------------------

def _module_docs(module: str) -> tuple:
    path = os.path.join(ROOT, "plugins", "modules", module + ".py")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = {}
    for name in ("DOCUMENTATION", "RETURN"):
        m = re.search(r'^%s = r"""\n(.*?)^"""' % name, text, re.S | re.M)
        found[name] = yaml.safe_load(m.group(1))
    return found["DOCUMENTATION"], found["RETURN"]


MODULES = sorted(m[:-3] for m in os.listdir(os.path.join(ROOT, "plugins", "modules")) if m.endswith(".py"))


# Dicts keyed by names (interfaces, profiles, devices): their keys cannot be
# listed, and a placeholder key like "<port>" is refused by ansible-test's
# validate-modules from ansible-core 2.21 on (bad-return-value-key). Their
# description says what each value holds.
KEYED_BY_NAME = {
    "virt_iface": {"interface.boot.devices"},
    "nm_bond_bridge": {"bridge.active", "bridge.bond.options", "bridge.standalone_profiles",
                       "verification.bridge.ports", "verification.bond.ports"},
    "nm_bond_bridge_info": {"bridges"},
    # keyed by item (networks[0]...): each value is that single module's own result
    "hypervisor": {"states", "reports"},
}


@pytest.mark.parametrize("module", MODULES)
def test_every_dict_return_value_documents_its_keys(module):
    """A dict (or list of dicts) return value without ``contains`` leaves
    the user guessing its keys on the docs page and in ansible-doc."""
    allowed = {"description", "returned", "type", "elements", "contains", "sample", "choices", "version_added"}
    missing, bad = [], []

    def walk(values: dict, path: str) -> None:
        for key, spec in values.items():
            where = path + key
            # An unquoted ", " inside a flow mapping silently makes a new key.
            bad.extend("%s: %s" % (where, k) for k in set(spec) - allowed)
            if key.startswith("<"):
                bad.append("%s: a placeholder key" % where)
            if (spec.get("type") == "dict" or spec.get("elements") == "dict") and "contains" not in spec \
                    and where not in KEYED_BY_NAME.get(module, ()):
                missing.append(where)
            walk(spec.get("contains") or {}, where + ".")

    walk(_module_docs(module)[1] or {}, "")
    assert not missing and not bad, (missing, bad)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_links_its_pair_and_the_guide(module):
    doc = _module_docs(module)[0]
    pair = module[:-5] if module.endswith("_info") else module + "_info"
    targets = [s.get("module") or s.get("ref") for s in doc.get("seealso") or []]
    assert PREFIX + pair in targets
    assert "ansible_collections.virtnet.networking.docsite.rhel_procedures" in targets
