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
seealso:
  - module: virtnet.networking.virt_iface
    description: Add, change, move or remove an interface.
  - module: virtnet.networking.virt_network_info
    description: The networks the interfaces connect to, with their DHCP leases.
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking, and which shows its Verification step.
notes:
  - "It shows what the Verification steps of I(Configuring virtual machine network connections), 15.9 and 15.10.4
    check with C(virsh domiflist) and C(ip link show master) (RV(domains[].interfaces[].host_dev) is the host-side
    device on the bridge)."
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
      description: The interfaces of the running domain (of the config when shut off), in device order.
      type: list
      elements: dict
      returned: always
      contains:
        type: {description: "V(network), V(bridge), V(direct) (macvtap), V(user) (passt) or V(hostdev) (an SR-IOV VF).", type: str, returned: always}
        source: {description: "The network, bridge, host interface or VF PCI address it is connected to.", type: str, returned: always}
        mac: {description: MAC address., type: str, returned: always}
        model: {description: "Device model, like V(virtio).", type: str, returned: always}
        link: {description: V(up) or V(down)., type: str, returned: always}
        alias: {description: "The user alias (C(ua-...)) or null.", type: str, returned: always}
        boot_order: {description: Per-device boot order or null., type: int, returned: always}
        mode: {description: "macvtap mode (V(bridge), V(vepa), V(private), V(passthrough)).", type: str, returned: "for type direct"}
        backend: {description: V(passt)., type: str, returned: "for type user"}
        port_forwards:
          description: Ports forwarded from the host (passt).
          type: list
          elements: dict
          returned: for type user
          contains:
            proto: {description: V(tcp) or V(udp)., type: str, returned: always}
            address: {description: Host address it listens on., type: str, returned: when set}
            dev: {description: Host interface it listens on., type: str, returned: when set}
            ranges:
              description: Port ranges.
              type: list
              elements: dict
              returned: always
              contains:
                start: {description: First host port., type: int, returned: always}
                end: {description: Last host port., type: int, returned: when set}
                to: {description: First guest port., type: int, returned: when set}
                exclude: {description: The range is excluded., type: bool, returned: when set}
        ips: {description: "Addresses of the passt interface, like V(192.0.2.1/24).", type: list, elements: str, returned: "for type user"}
        vlan: {description: VLAN tag of the VF (null when none)., type: int, returned: "for type hostdev"}
        managed: {description: Whether libvirt detaches the VF from its host driver., type: bool, returned: "for type hostdev"}
        pci_address: {description: "Guest-side PCI address, like V(0000:00:03.0).", type: str, returned: always}
        host_dev: {description: "The host-side device (V(vnet3), V(macvtap0)); null when shut off.", type: str, returned: always}
        device_alias: {description: libvirt's alias of the device., type: str, returned: always}
        in_config: {description: Whether the config has it too., type: bool, returned: always}
        addresses:
          description: Its addresses from DHCP leases, the guest agent and the host's ARP table.
          type: list
          elements: dict
          returned: always
          contains:
            address: {description: Address., type: str, returned: always}
            prefix: {description: Prefix length., type: int, returned: always}
            family: {description: V(ipv4) or V(ipv6)., type: str, returned: always}
            origin: {description: "Where it was found: V(lease), V(agent) or V(arp).", type: str, returned: always}
    config_only:
      description: Interfaces in the config of a running domain that the running domain does not have yet.
      type: list
      elements: dict
      returned: always
      contains:
        type: {description: "V(network), V(bridge), V(direct) (macvtap), V(user) (passt) or V(hostdev) (an SR-IOV VF).", type: str, returned: always}
        source: {description: "The network, bridge, host interface or VF PCI address it is connected to.", type: str, returned: always}
        mac: {description: MAC address., type: str, returned: always}
        model: {description: "Device model, like V(virtio).", type: str, returned: always}
        link: {description: V(up) or V(down)., type: str, returned: always}
        alias: {description: "The user alias (C(ua-...)) or null.", type: str, returned: always}
        boot_order: {description: Per-device boot order or null., type: int, returned: always}
        mode: {description: "macvtap mode (V(bridge), V(vepa), V(private), V(passthrough)).", type: str, returned: "for type direct"}
        backend: {description: V(passt)., type: str, returned: "for type user"}
        port_forwards:
          description: Ports forwarded from the host (passt).
          type: list
          elements: dict
          returned: for type user
          contains:
            proto: {description: V(tcp) or V(udp)., type: str, returned: always}
            address: {description: Host address it listens on., type: str, returned: when set}
            dev: {description: Host interface it listens on., type: str, returned: when set}
            ranges:
              description: Port ranges.
              type: list
              elements: dict
              returned: always
              contains:
                start: {description: First host port., type: int, returned: always}
                end: {description: Last host port., type: int, returned: when set}
                to: {description: First guest port., type: int, returned: when set}
                exclude: {description: The range is excluded., type: bool, returned: when set}
        ips: {description: "Addresses of the passt interface, like V(192.0.2.1/24).", type: list, elements: str, returned: "for type user"}
        vlan: {description: VLAN tag of the VF (null when none)., type: int, returned: "for type hostdev"}
        managed: {description: Whether libvirt detaches the VF from its host driver., type: bool, returned: "for type hostdev"}
        pci_address: {description: "Guest-side PCI address, like V(0000:00:03.0).", type: str, returned: always}
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
