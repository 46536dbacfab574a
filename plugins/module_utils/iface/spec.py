# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``virt_iface``, written once: the module takes them as its
argument spec and ``hypervisor`` as the suboptions of its ``vm_interfaces`` items."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec


def argument_spec() -> dict:
    return libvirt_argspec(
        domain={"type": "str", "required": True},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        mac={"type": "str"},
        alias={"type": "str"},
        type={"type": "str", "choices": ["network", "bridge", "direct", "user", "hostdev"]},
        source={"type": "str"},
        mode={"type": "str", "choices": ["vepa", "bridge", "private", "passthrough"]},
        model={"type": "str"},
        link={"type": "str", "choices": ["up", "down"]},
        boot_order={"type": "int"},
        port_forwards={"type": "list", "elements": "dict", "options": {
            "proto": {"type": "str", "required": True, "choices": ["tcp", "udp"]},
            "address": {"type": "str"},
            "dev": {"type": "str"},
            "ranges": {"type": "list", "elements": "dict", "required": True, "options": {
                "start": {"type": "int", "required": True},
                "end": {"type": "int"},
                "to": {"type": "int"},
                "exclude": {"type": "bool", "default": False},
            }},
        }},
        ips={"type": "list", "elements": "str"},
        vlan={"type": "int"},
        managed={"type": "bool"},
        restart={"type": "bool", "default": False},
        restart_timeout={"type": "int", "default": 60},
        renew={"type": "str", "default": "link_bounce", "choices": ["link_bounce", "restart", "none"]},
        renew_down_time={"type": "int", "default": 8},
    )


# what the argument spec cannot say option by option
CONSTRAINTS = {"required_one_of": [("mac", "alias")]}
