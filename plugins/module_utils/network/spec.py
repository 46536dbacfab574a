# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``virt_network``, written once: the module takes them as its
argument spec and ``hypervisor`` as the suboptions of its ``networks`` items."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec


_RANGE = {"start": {"type": "str", "required": True}, "end": {"type": "str", "required": True}}


def argument_spec() -> dict:
    return libvirt_argspec(
        name={"type": "str", "required": True},
        state={"type": "str", "default": "running", "choices": ["running", "present", "stopped", "absent"]},
        forward={"type": "dict", "options": {
            "mode": {"type": "str", "choices": ["nat", "route", "bridge", "open", "isolated"]},
            "dev": {"type": "str"},
            "nat": {"type": "dict", "options": {
                "address": {"type": "dict", "options": {"start": {"type": "str", "required": True},
                                                        "end": {"type": "str"}}},
                "port": {"type": "dict", "options": {"start": {"type": "int", "required": True},
                                                     "end": {"type": "int", "required": True}}},
            }},
        }},
        bridge={"type": "dict", "options": {"name": {"type": "str"}, "stp": {"type": "bool"},
                                            "delay": {"type": "int"}}},
        mtu={"type": "int"},
        domain={"type": "dict", "options": {"name": {"type": "str", "required": True},
                                            "local_only": {"type": "bool"}}},
        ips={"type": "list", "elements": "dict", "options": {
            "address": {"type": "str", "required": True},
            "dhcp": {"type": "dict", "options": {
                "ranges": {"type": "list", "elements": "dict", "default": [], "options": _RANGE},
                "hosts": {"type": "list", "elements": "dict", "default": [], "options": {
                    "mac": {"type": "str"}, "ip": {"type": "str", "required": True}, "name": {"type": "str"}}},
            }},
        }},
        dns={"type": "dict", "options": {
            "enable": {"type": "bool"},
            "forwarders": {"type": "list", "elements": "dict", "options": {
                "addr": {"type": "str"}, "domain": {"type": "str"}}},
            "hosts": {"type": "list", "elements": "dict", "options": {
                "ip": {"type": "str", "required": True},
                "hostnames": {"type": "list", "elements": "str", "required": True}}},
            "srv": {"type": "list", "elements": "dict", "options": {
                "service": {"type": "str", "required": True},
                "protocol": {"type": "str", "required": True, "choices": ["tcp", "udp"]},
                "domain": {"type": "str"}, "target": {"type": "str"}, "port": {"type": "int"},
                "priority": {"type": "int"}, "weight": {"type": "int"}}},
            "txt": {"type": "list", "elements": "dict", "options": {
                "name": {"type": "str", "required": True}, "value": {"type": "str", "required": True}}},
        }},
        dnsmasq_options={"type": "list", "elements": "str"},
        autostart={"type": "bool"},
        restart={"type": "bool", "default": False},
    )


# what the argument spec cannot say option by option
CONSTRAINTS = {}
