# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``hypervisor``: one list per component whose items are
that component's own module options (the same spec objects, minus ``uri``:
one host, one connection), so an unknown key in any item is refused by
Ansible's argument validation, naming the list, the index and the key,
before anything runs."""

from __future__ import annotations

import copy

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec
from ansible_collections.virtnet.networking.plugins.module_utils.iface import spec as iface_spec
from ansible_collections.virtnet.networking.plugins.module_utils.network import spec as network_spec
from ansible_collections.virtnet.networking.plugins.module_utils.nm import spec as nm_spec
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import spec as pxe_spec
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import spec as sriov_spec

# The lists in dependency order: a bridge exists before the networks on it,
# VFs before the interfaces that use them, a network before its PXE settings
# and the VM interfaces on it.
LISTS = ("bridges", "sriov_vfs", "networks", "pxe_networks", "vm_interfaces")
SOURCES = {
    "bridges": (nm_spec, "nm_bond_bridge"),
    "sriov_vfs": (sriov_spec, "sriov_vf"),
    "networks": (network_spec, "virt_network"),
    "pxe_networks": (pxe_spec, "pxe_network"),
    "vm_interfaces": (iface_spec, "virt_iface"),
}
# What identifies an item of each list (two items with the same key are one
# object declared twice).
KEYS = {"bridges": ("name",), "sriov_vfs": ("pf",), "networks": ("name",), "pxe_networks": ("name",),
        "vm_interfaces": ("domain", "alias", "mac")}
# Item options whose default is the task's own option of the same name.
INHERITED = ("restart",)
# The lists ``state: overridden`` can prune (VFs are never removed by
# omission: an item with num_vfs: 0 says so explicitly).
PRUNABLE = ("bridges", "networks", "pxe_networks", "vm_interfaces")


def item_spec(name: str) -> dict:
    spec_module = SOURCES[name][0]
    spec = copy.deepcopy(spec_module.argument_spec())
    spec.pop("uri", None)
    for option in INHERITED:
        if option in spec:
            spec[option].pop("default", None)
    return spec


def argument_spec() -> dict:
    spec = libvirt_argspec(
        state={"type": "str", "default": "merged", "choices": ["merged", "overridden"]},
        restart={"type": "bool", "default": False},
        force={"type": "bool", "default": False},
        managed={"type": "dict", "options": {
            "lists": {"type": "list", "elements": "str", "choices": list(PRUNABLE)},
            "prefix": {"type": "str"},
        }},
    )
    for name in LISTS:
        spec_module = SOURCES[name][0]
        spec[name] = dict({"type": "list", "elements": "dict", "options": item_spec(name)},
                          **copy.deepcopy(spec_module.CONSTRAINTS))
    return spec


CONSTRAINTS: dict = {}


def module_spec() -> dict:
    """What ``AnsibleModule`` checks: the lists as lists of dicts.  Each
    item is checked against :func:`item_spec` by the engine, so a bad key is
    named with its list and index (``networks[2].forwrd``), which Ansible's
    own suboption check does not say."""
    spec = argument_spec()
    for name in LISTS:
        # raw, not dict: Ansible's own element check would refuse a non-dict
        # item without its index; the engine names it networks[2]
        spec[name] = {"type": "list", "elements": "raw"}
    return spec
