# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``nm_bond_bridge``, written once: the module takes them as
its argument spec and ``hypervisor`` as the suboptions of its ``bridges`` items."""

from __future__ import annotations

import copy

IP_OPTIONS = dict(type="dict", options=dict(
    method=dict(type="str"), addresses=dict(type="list", elements="str"), gateway=dict(type="str"),
    dns=dict(type="list", elements="str"), dns_search=dict(type="list", elements="str")))

ARGSPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    stp=dict(type="bool", default=False),
    autoconnect_ports=dict(type="bool", default=True),
    ports=dict(type="list", elements="str", default=[]),
    bond=dict(type="dict", options=dict(
        name=dict(type="str", required=True), mode=dict(type="str", default="active-backup"),
        miimon=dict(type="raw", default=100), options=dict(type="dict", default={}),
        ports=dict(type="list", elements="str", default=[]),
        allow_unsafe_mode=dict(type="bool", default=False))),
    ipv4=IP_OPTIONS, ipv6=copy.deepcopy(IP_OPTIONS),
    move_ip_from=dict(type="str"),
    zone=dict(type="str"),
    release_ports=dict(type="bool", default=False),
    rollback_timeout=dict(type="int", default=60),
    verify_target=dict(type="str"),
    verify_timeout=dict(type="int", default=30),
)


def argument_spec() -> dict:
    return copy.deepcopy(ARGSPEC)


# what the argument spec cannot say option by option
CONSTRAINTS = {"mutually_exclusive": [("move_ip_from", "ipv4"), ("move_ip_from", "ipv6")]}
