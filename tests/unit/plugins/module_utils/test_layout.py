"""The shape of module_utils (issue 13, HOUSE_STYLE): one package per
component with the same layers, so "where is pxe's plan" is a path; no
component imports another's engine; a plan reads nothing from the host."""

import ast
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
MU = os.path.normpath(os.path.join(HERE, "../../../../plugins/module_utils"))
PREFIX = "ansible_collections.virtnet.networking.plugins.module_utils."
COMPONENTS = ("network", "iface", "nm", "pxe", "sriov")
LAYERS = ("spec", "model", "validate", "plan", "engine", "info")
HOST_ACCESS = ("libvirt.conn", "libvirt.restart", "libvirt.host", "runner", "fsroot")


def imports(path):
    """Dotted module_utils names a file imports (``from X import y`` counts
    as X.y when y is a module, so both spellings are seen)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PREFIX[:-1]):
            base = node.module[len(PREFIX):] if node.module != PREFIX[:-1] else ""
            out.add(base)
            out.update((base + "." if base else "") + a.name for a in node.names)
    return {m for m in out if m}


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_component_has_the_same_layers(component):
    missing = [layer for layer in LAYERS if not os.path.exists(os.path.join(MU, component, layer + ".py"))]
    assert missing == []


@pytest.mark.parametrize("component", COMPONENTS + ("libvirt",))
def test_no_component_imports_another_components_engine(component):
    pkg = os.path.join(MU, component)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py"):
            bad = {m for m in imports(os.path.join(pkg, name))
                   if m.endswith(".engine") and m.split(".")[0] != component}
            assert bad == set(), (component, name, bad)


@pytest.mark.parametrize("component", COMPONENTS)
def test_plan_is_pure(component):
    """plan.py takes states and returns a Plan: it opens no connection, runs
    no command and reads no file."""
    used = imports(os.path.join(MU, component, "plan.py"))
    assert {m for m in used if m.startswith(HOST_ACCESS) or m.endswith(".engine")} == set()


def test_the_flat_prefixed_files_are_gone():
    flat = [n for n in os.listdir(MU) if n.endswith(".py") and n.split("_")[0] in COMPONENTS + ("libvirt",)]
    assert flat == []


ADAPTERS = ("nm.nmcli", "nm.checkpoint", "sriov.sysfs", "pxe.tftp", "pxe.files") + HOST_ACCESS


@pytest.mark.parametrize("component", COMPONENTS)
def test_model_knows_no_tool_adapter(component):
    # The model holds the wanted and the host state types; reading the host
    # (nmcli, sysfs, TFTP, files, libvirt) is the engine's. nm's model once
    # imported a helper from the nmcli adapter.
    used = imports(os.path.join(MU, component, "model.py"))
    assert sorted(m for m in used if m in ADAPTERS or m.split(".")[-1] == "engine") == []


def test_hypervisor_composes_the_component_engines_and_plans_nothing_itself():
    """hypervisor is the one package that uses other components' engines,
    and only in its engine.py: its plan.py stays pure, and it has no planner
    of a component of its own (the component planners do all planning)."""
    pkg = os.path.join(MU, "hypervisor")
    for name in ("model.py", "validate.py", "plan.py", "spec.py"):
        used = imports(os.path.join(pkg, name))
        assert {m for m in used if m.endswith(".engine") or m.startswith(HOST_ACCESS)} == set(), name
        assert {m for m in used if m.split(".")[0] in COMPONENTS and m.split(".")[1:2] == ["plan"]} == set(), name
    engines = {m for m in imports(os.path.join(pkg, "engine.py")) if m.endswith(".engine") and "." in m}
    assert {m.split(".")[0] for m in engines} >= set(COMPONENTS)
