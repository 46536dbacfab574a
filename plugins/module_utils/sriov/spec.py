# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``sriov_vf``, written once: the module takes them as its
argument spec and ``hypervisor`` as the suboptions of its ``sriov_vfs`` items."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec


def argument_spec() -> dict:
    return libvirt_argspec(
        pf={"type": "str", "required": True},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        num_vfs={"type": "int"},
        persistent={"type": "bool", "default": True},
        detach_assigned={"type": "bool", "default": False},
        enable_iommu={"type": "bool", "default": False},
        wait_timeout={"type": "int", "default": 30},
        attach={"type": "dict", "options": {
            "vm": {"type": "str", "required": True},
            "vf": {"type": "str"},
            "mac": {"type": "str"},
            "live": {"type": "bool", "default": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        }},
        sysfs_root={"type": "path", "default": "/"},
    )


# what the argument spec cannot say option by option
CONSTRAINTS = {}
