# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``pxe_network``, written once: the module takes them as its
argument spec and ``hypervisor`` as the suboptions of its ``pxe_networks`` items."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec


def argument_spec() -> dict:
    return libvirt_argspec(
        name={"type": "str", "required": True},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        address={"type": "str"},
        tftp_root={"type": "path"},
        owner={"type": "str", "default": "nobody"},
        group={"type": "str"},
        boot_files={"type": "list", "elements": "dict", "default": [], "options": {
            "name": {"type": "str", "required": True},
            "src": {"type": "path"},
            "content": {"type": "str"},
        }, "mutually_exclusive": [["src", "content"]]},
        bootp_file={"type": "str"},
        bootp_server={"type": "str"},
        dhcp_range={"type": "dict", "options": {"start": {"type": "str", "required": True},
                                                "end": {"type": "str", "required": True}}},
        restart={"type": "bool", "default": False},
        verify={"type": "bool", "default": False},
        selinux_reference={"type": "path"},
    )


# what the argument spec cannot say option by option
CONSTRAINTS = {}
