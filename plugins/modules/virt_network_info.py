#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_network_info
short_description: Read libvirt networks, their DHCP leases and the guests attached
version_added: 0.1.0
description:
  - Returns every libvirt network, or the one named O(name), in the same normalized shape
    M(virtnet.networking.virt_network) takes, plus state, current DHCP leases, attached guests and ports.
options:
  name:
    description: Only this network. An unknown name returns an empty list.
    type: str
requirements:
  - netaddr
extends_documentation_fragment:
  - virtnet.networking.libvirt
  - virtnet.networking.attributes.INFO
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: All networks
  virtnet.networking.virt_network_info:
  register: nets

- name: The leases of the default network
  virtnet.networking.virt_network_info:
    name: default
  register: default_net

- name: Show them
  ansible.builtin.debug:
    msg: "{{ default_net.networks[0].leases | map(attribute='ip') | list }}"
"""

RETURN = r"""
networks:
  description: One entry per network, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Network name., type: str, returned: always}
    forward: {description: "Forward mode (C(mode)), C(dev) and C(nat) range.", type: dict, returned: always}
    bridge: {description: "Bridge C(name), C(stp), C(delay).", type: dict, returned: always}
    ips:
      description: Addresses with their DHCP ranges and static hosts.
      type: list
      elements: dict
      returned: always
    dns: {description: "DNS C(enable), C(forwarders), C(hosts), C(srv), C(txt).", type: dict, returned: always}
    active: {description: Whether the network runs., type: bool, returned: always}
    autostart: {description: Whether it starts with libvirt., type: bool, returned: always}
    persistent: {description: Whether it has a persistent definition., type: bool, returned: always}
    restart_pending: {description: The running network differs from its definition., type: bool, returned: always}
    live: {description: The running configuration (null when inactive)., type: dict, returned: always}
    leases:
      description: "Current DHCP leases: C(mac), C(ip), C(prefix), C(hostname), C(expiry), C(family)."
      type: list
      elements: dict
      returned: always
    guests:
      description: "Guest interfaces on the network: C(guest), C(mac), C(tap), C(active)."
      type: list
      elements: dict
      returned: always
    ports:
      description: "libvirt network ports: C(uuid), C(owner), C(mac)."
      type: list
      elements: dict
      returned: always
  sample:
    - {name: default, forward: {mode: nat}, bridge: {name: virbr0, stp: true, delay: 0}, active: true,
       autostart: true, persistent: true, leases: [{mac: "52:54:00:12:34:56", ip: 192.168.122.10}]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run_info
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt, require_libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs
from ansible_collections.virtnet.networking.plugins.module_utils.network.info import info


def argument_spec() -> dict:
    return libvirt_argspec(name={"type": "str"})


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_libvirt(module)
    require_libs(module)
    with Libvirt(module.params["uri"]) as lv:
        run_info(module, lambda: info(lv, module.params["name"]))


if __name__ == "__main__":
    main()
