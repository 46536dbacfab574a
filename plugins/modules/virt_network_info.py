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
seealso:
  - module: virtnet.networking.virt_network
    description: Declare and converge a network.
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking, and which shows its Verification step.
notes:
  - "It shows what the Verification steps of I(Configuring virtual machine network connections), 15.8.1 and 15.10.3
    check with C(virsh net-list) (RV(networks[].active), RV(networks[].autostart), RV(networks[].persistent));
    RV(networks[].leases) is C(virsh net-dhcp-leases)."
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
    forward:
      description: How the network reaches the outside.
      type: dict
      returned: always
      contains:
        mode: {description: "V(nat), V(route), V(bridge), V(open) or V(isolated).", type: str, returned: always}
        dev: {description: The host interface forwarding is restricted to., type: str, returned: when set}
        nat:
          description: The masquerading range.
          type: dict
          returned: when set
          contains:
            address: {description: "Public IPv4 addresses, C(start) and C(end).", type: dict, returned: when set,
                      contains: {start: {description: First., type: str, returned: always}, end: {description: Last., type: str, returned: always}}}
            port: {description: "Source ports, C(start) and C(end).", type: dict, returned: when set,
                   contains: {start: {description: First., type: int, returned: always}, end: {description: Last., type: int, returned: always}}}
    bridge:
      description: The bridge.
      type: dict
      returned: always
      contains:
        name: {description: Bridge interface name., type: str, returned: when known}
        stp: {description: Spanning tree on the bridge., type: bool, returned: when known}
        delay: {description: Forward delay in seconds., type: int, returned: when known}
    mtu: {description: MTU of the bridge (null when libvirt's default)., type: int, returned: always}
    domain:
      description: The DNS domain, or null.
      type: dict
      returned: always
      contains:
        name: {description: Domain name., type: str, returned: always}
        local_only: {description: Whether queries for the domain stay local., type: bool, returned: always}
    ips:
      description: The addresses of the network.
      type: list
      elements: dict
      returned: always
      contains:
        address: {description: "Address with prefix, like V(192.0.2.1/24).", type: str, returned: always}
        family: {description: V(ipv4) or V(ipv6)., type: str, returned: always}
        dhcp:
          description: DHCP on this address.
          type: dict
          returned: when DHCP is on
          contains:
            ranges:
              description: The dynamic ranges.
              type: list
              elements: dict
              returned: always
              contains: {start: {description: First address., type: str, returned: always}, end: {description: Last address., type: str, returned: always}}
            hosts:
              description: The static hosts (each key only when set).
              type: list
              elements: dict
              returned: always
              contains:
                mac: {description: MAC address., type: str, returned: when set}
                ip: {description: Address., type: str, returned: always}
                name: {description: Host name., type: str, returned: when set}
    dns:
      description: The DNS server of the network.
      type: dict
      returned: always
      contains:
        enable: {description: Whether libvirt's DNS server runs (null when libvirt's default)., type: bool, returned: always}
        forwarders:
          description: Upstream servers.
          type: list
          elements: dict
          returned: always
          contains:
            addr: {description: Server address., type: str, returned: when set}
            domain: {description: Only for this domain., type: str, returned: when set}
        hosts:
          description: Host records.
          type: list
          elements: dict
          returned: always
          contains:
            ip: {description: Address., type: str, returned: always}
            hostnames: {description: Names., type: list, elements: str, returned: always}
        srv:
          description: SRV records (each key only when set).
          type: list
          elements: dict
          returned: always
          contains:
            service: {description: Service name., type: str, returned: always}
            protocol: {description: V(tcp) or V(udp)., type: str, returned: always}
            domain: {description: Domain., type: str, returned: when set}
            target: {description: Target host., type: str, returned: when set}
            port: {description: Port., type: int, returned: when set}
            priority: {description: Priority., type: int, returned: when set}
            weight: {description: Weight., type: int, returned: when set}
        txt:
          description: TXT records.
          type: list
          elements: dict
          returned: always
          contains:
            name: {description: Record name., type: str, returned: always}
            value: {description: Record value., type: str, returned: always}
    dnsmasq_options: {description: Extra dnsmasq options., type: list, elements: str, returned: always}
    active: {description: Whether the network runs., type: bool, returned: always}
    autostart: {description: Whether it starts with libvirt., type: bool, returned: always}
    persistent: {description: Whether it has a persistent definition., type: bool, returned: always}
    restart_pending: {description: The running network differs from its definition., type: bool, returned: always}
    live:
      description:
        - The running configuration (null when inactive), with the keys C(name), C(forward), C(bridge), C(mtu),
          C(domain), C(ips), C(dns) and C(dnsmasq_options) as above (the definition's).
      type: dict
      returned: always
      contains:
        name: {description: Network name., type: str, returned: always}
        forward:
          description: How the network reaches the outside.
          type: dict
          returned: always
          contains:
            mode: {description: "V(nat), V(route), V(bridge), V(open) or V(isolated).", type: str, returned: always}
            dev: {description: The host interface forwarding is restricted to., type: str, returned: when set}
            nat:
              description: The masquerading range.
              type: dict
              returned: when set
              contains:
                address: {description: "Public IPv4 addresses, C(start) and C(end).", type: dict, returned: when set,
                          contains: {start: {description: First., type: str, returned: always}, end: {description: Last., type: str, returned: always}}}
                port: {description: "Source ports, C(start) and C(end).", type: dict, returned: when set,
                       contains: {start: {description: First., type: int, returned: always}, end: {description: Last., type: int, returned: always}}}
        bridge:
          description: The bridge.
          type: dict
          returned: always
          contains:
            name: {description: Bridge interface name., type: str, returned: when known}
            stp: {description: Spanning tree on the bridge., type: bool, returned: when known}
            delay: {description: Forward delay in seconds., type: int, returned: when known}
        mtu: {description: MTU of the bridge (null when libvirt's default)., type: int, returned: always}
        domain:
          description: The DNS domain, or null.
          type: dict
          returned: always
          contains:
            name: {description: Domain name., type: str, returned: always}
            local_only: {description: Whether queries for the domain stay local., type: bool, returned: always}
        ips:
          description: The addresses of the network.
          type: list
          elements: dict
          returned: always
          contains:
            address: {description: "Address with prefix, like V(192.0.2.1/24).", type: str, returned: always}
            family: {description: V(ipv4) or V(ipv6)., type: str, returned: always}
            dhcp:
              description: DHCP on this address.
              type: dict
              returned: when DHCP is on
              contains:
                ranges:
                  description: The dynamic ranges.
                  type: list
                  elements: dict
                  returned: always
                  contains: {start: {description: First address., type: str, returned: always}, end: {description: Last address., type: str, returned: always}}
                hosts:
                  description: The static hosts (each key only when set).
                  type: list
                  elements: dict
                  returned: always
                  contains:
                    mac: {description: MAC address., type: str, returned: when set}
                    ip: {description: Address., type: str, returned: always}
                    name: {description: Host name., type: str, returned: when set}
        dns:
          description: The DNS server of the network.
          type: dict
          returned: always
          contains:
            enable: {description: Whether libvirt's DNS server runs (null when libvirt's default)., type: bool, returned: always}
            forwarders:
              description: Upstream servers.
              type: list
              elements: dict
              returned: always
              contains:
                addr: {description: Server address., type: str, returned: when set}
                domain: {description: Only for this domain., type: str, returned: when set}
            hosts:
              description: Host records.
              type: list
              elements: dict
              returned: always
              contains:
                ip: {description: Address., type: str, returned: always}
                hostnames: {description: Names., type: list, elements: str, returned: always}
            srv:
              description: SRV records (each key only when set).
              type: list
              elements: dict
              returned: always
              contains:
                service: {description: Service name., type: str, returned: always}
                protocol: {description: V(tcp) or V(udp)., type: str, returned: always}
                domain: {description: Domain., type: str, returned: when set}
                target: {description: Target host., type: str, returned: when set}
                port: {description: Port., type: int, returned: when set}
                priority: {description: Priority., type: int, returned: when set}
                weight: {description: Weight., type: int, returned: when set}
            txt:
              description: TXT records.
              type: list
              elements: dict
              returned: always
              contains:
                name: {description: Record name., type: str, returned: always}
                value: {description: Record value., type: str, returned: always}
        dnsmasq_options: {description: Extra dnsmasq options., type: list, elements: str, returned: always}
    leases:
      description: Current DHCP leases (empty when inactive).
      type: list
      elements: dict
      returned: always
      contains:
        mac: {description: MAC address of the guest interface., type: str, returned: always}
        ip: {description: Leased address., type: str, returned: always}
        prefix: {description: Prefix length., type: int, returned: always}
        hostname: {description: Host name the guest sent (null when none)., type: str, returned: always}
        expiry: {description: Expiry time (seconds since the epoch)., type: int, returned: always}
        family: {description: V(ipv4) or V(ipv6)., type: str, returned: always}
    guests:
      description: Guest interfaces on the network, from every domain's XML.
      type: list
      elements: dict
      returned: always
      contains:
        guest: {description: Domain name., type: str, returned: always}
        mac: {description: MAC address of the interface., type: str, returned: always}
        tap: {description: Host tap device (null when the domain is not running)., type: str, returned: always}
        active: {description: Whether the domain runs., type: bool, returned: always}
    ports:
      description: libvirt network ports (empty when inactive).
      type: list
      elements: dict
      returned: always
      contains:
        uuid: {description: Port UUID., type: str, returned: always}
        owner: {description: Name of the domain owning the port., type: str, returned: always}
        mac: {description: MAC address., type: str, returned: always}
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
