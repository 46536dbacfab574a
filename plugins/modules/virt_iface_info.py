#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_iface_info
short_description: Read the network interfaces of libvirt virtual machines, with their IP addresses
version_added: 0.1.0
description:
  - For every virtual machine (or the one named O(domain)), every network interface as the web console's
    Network Interfaces table shows it - type, source, model, MAC, IP addresses, state (link), plus the
    host-side device (C(vnetN), C(macvtapN)), alias, boot order and guest PCI address.
  - Interfaces are those of the running domain (when it runs) or of its config; NICs added to the config of a
    running domain and not active yet are in RV(domains[].config_only).
  - "IP addresses come from the DHCP leases of libvirt's networks, the guest agent when the guest runs one,
    and the host's ARP table (for bridged guests); each says where it came from."
options:
  domain:
    description: Only this domain. An unknown name returns an empty list.
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
- name: The interfaces of one VM
  virtnet.networking.virt_iface_info:
    domain: web1
  register: web1

- name: Its IPv4 addresses
  ansible.builtin.debug:
    msg: "{{ web1.domains[0].interfaces | map(attribute='addresses') | flatten
             | selectattr('family', 'equalto', 'ipv4') | map(attribute='address') | list }}"
"""

RETURN = r"""
domains:
  description: One entry per domain, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Domain name., type: str, returned: always}
    running: {description: Whether it runs., type: bool, returned: always}
    persistent: {description: Whether it has a config., type: bool, returned: always}
    interfaces:
      description:
        - "The domain's interfaces, in device order - C(type), C(source), C(model), C(mac), C(link) (V(up) or
          V(down)), C(alias) (the user alias or null), C(boot_order), C(pci_address) (guest side), by type
          C(mode), C(backend), C(port_forwards), C(ips), C(vlan), C(managed)."
        - "C(host_dev) is the host-side device (V(vnet3), V(macvtap0)), C(device_alias) libvirt's alias of the
          device, C(in_config) whether the config has it too."
        - "C(addresses): C(address), C(prefix), C(family), C(origin) (V(lease), V(agent) or V(arp))."
      type: list
      elements: dict
      returned: always
    config_only:
      description: Interfaces in the config of a running domain that the running domain does not have yet.
      type: list
      elements: dict
      returned: always
  sample:
    - name: web1
      running: true
      persistent: true
      interfaces:
        - {type: network, source: default, mac: "52:54:00:3f:a1:07", model: virtio, link: up, alias: ua-frontend,
           boot_order: null, pci_address: "0000:00:03.0", host_dev: vnet0, device_alias: ua-frontend, in_config: true,
           addresses: [{address: 192.168.122.45, prefix: 24, family: ipv4, origin: lease}]}
      config_only: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run_info
from ansible_collections.virtnet.networking.plugins.module_utils.iface.info import info
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt, require_libvirt


def argument_spec() -> dict:
    return libvirt_argspec(domain={"type": "str"})


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_libvirt(module)
    require_libs(module)
    with Libvirt(module.params["uri"]) as lv:
        run_info(module, lambda: info(lv, module.params["domain"]))


if __name__ == "__main__":
    main()
