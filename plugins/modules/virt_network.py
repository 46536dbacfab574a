#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_network
short_description: Declare one libvirt virtual network and converge it in place
version_added: 0.1.0
description:
  - Declares one libvirt network (NAT, routed, bridged on an existing host bridge, open or isolated)
    with its addresses, DHCP and DNS, and brings the hypervisor to it. Running it again changes nothing.
  - An existing network is changed with the least disruptive libvirt call. DHCP hosts and ranges,
    DNS hosts, TXT and SRV records are updated live (C(virNetworkUpdate) on the running network and
    its persistent definition), so running guests notice nothing.
  - Any other change redefines the network. An active network only picks the new definition up when it
    restarts; the module restarts it only with O(restart=true), and otherwise returns
    RV(restart_required=true) and the pending fields in RV(pending).
  - When it restarts a network, the module reconnects the running guests' interfaces to the recreated
    bridge (libvirt does not) and returns them in RV(reconnected).
  - Options left unset are not managed; the network keeps what it has (or libvirt's default when it is
    created). Elements the module does not manage, such as C(<tftp>), C(<bootp>) or portgroups, are kept
    across a redefine.
  - Before touching anything the module validates addresses, DHCP ranges and static hosts, names, and
    options that do not fit the forward mode, and refuses a subnet that overlaps another libvirt network or
    (when O(uri) is local) a route of the host.
options:
  name:
    description: Name of the network.
    type: str
    required: true
  state:
    description:
      - V(running) defines the network and starts it; V(present) defines it and leaves it started or not;
        V(stopped) defines it and stops it; V(absent) stops and undefines it.
    type: str
    choices: [running, present, stopped, absent]
    default: running
  forward:
    description: How the network reaches the outside.
    type: dict
    suboptions:
      mode:
        description:
          - V(nat) (masquerade behind the host), V(route) (plain routing), V(bridge) (guests on an existing
            host bridge), V(open) (routing, no firewall rules), V(isolated) (no forwarding at all).
          - Defaults to V(nat) when the network is created.
        type: str
        choices: [nat, route, bridge, open, isolated]
      dev:
        description: Restrict forwarding to this host interface (V(nat) and V(route) only).
        type: str
      nat:
        description: Masquerading range (V(nat) only).
        type: dict
        suboptions:
          address:
            description: Public IPv4 addresses used for masquerading.
            type: dict
            suboptions:
              start: {description: First address., type: str, required: true}
              end: {description: Last address (default O(forward.nat.address.start))., type: str}
          port:
            description: Source port range used for masquerading.
            type: dict
            suboptions:
              start: {description: First port., type: int, required: true}
              end: {description: Last port., type: int, required: true}
  bridge:
    description: The bridge; for V(bridge) mode the existing host bridge, otherwise the one libvirt creates.
    type: dict
    suboptions:
      name:
        description:
          - Bridge interface name. Required with O(forward.mode=bridge).
          - When unset for a new network, the first free C(virbrN) is used.
        type: str
      stp:
        description: Spanning tree on the bridge libvirt creates (libvirt's default is on).
        type: bool
      delay:
        description: Forward delay in seconds.
        type: int
  mtu:
    description: MTU of the bridge.
    type: int
  domain:
    description: DNS domain of the network.
    type: dict
    suboptions:
      name: {description: Domain name., type: str, required: true}
      local_only: {description: Answer queries for the domain locally only., type: bool}
  ips:
    description:
      - The network's own addresses (IPv4 and IPv6 in one list), each with optional DHCP.
      - When given, this is the complete list; an IP given without O(ips[].dhcp) has no DHCP.
    type: list
    elements: dict
    suboptions:
      address:
        description: Host address with prefix, like V(192.0.2.1/24) or V(2001:db8:1::1/64).
        type: str
        required: true
      dhcp:
        description: DHCP on this address (one IPv4 and one IPv6 address at most).
        type: dict
        suboptions:
          ranges:
            description: Dynamic ranges.
            type: list
            elements: dict
            default: []
            suboptions:
              start: {description: First address., type: str, required: true}
              end: {description: Last address., type: str, required: true}
          hosts:
            description: Static hosts (IPv4 by MAC, IPv6 by name).
            type: list
            elements: dict
            default: []
            suboptions:
              mac: {description: Guest MAC address (IPv4 only)., type: str}
              ip: {description: Fixed address., type: str, required: true}
              name: {description: Host name., type: str}
  dns:
    description: The DNS server of the network. Each list, when given, is complete.
    type: dict
    suboptions:
      enable: {description: Run the DNS server at all., type: bool}
      forwarders:
        description: Upstream servers, optionally per domain.
        type: list
        elements: dict
        suboptions:
          addr: {description: Server address., type: str}
          domain: {description: Only for this domain., type: str}
      hosts:
        description: Extra host entries.
        type: list
        elements: dict
        suboptions:
          ip: {description: Address., type: str, required: true}
          hostnames: {description: Names., type: list, elements: str, required: true}
      srv:
        description: SRV records.
        type: list
        elements: dict
        suboptions:
          service: {description: Service name., type: str, required: true}
          protocol: {description: Protocol., type: str, required: true, choices: [tcp, udp]}
          domain: {description: Domain., type: str}
          target: {description: Target host., type: str}
          port: {description: Port., type: int}
          priority: {description: Priority., type: int}
          weight: {description: Weight., type: int}
      txt:
        description: TXT records.
        type: list
        elements: dict
        suboptions:
          name: {description: Record name., type: str, required: true}
          value: {description: Record text., type: str, required: true}
  dnsmasq_options:
    description: Extra dnsmasq options (C(<dnsmasq:options>)), for example V(no-ping).
    type: list
    elements: str
  autostart:
    description: Start the network with libvirt. Unset keeps the current setting (off for a new network).
    type: bool
  restart:
    description:
      - Allow restarting an active network when a change needs it. Running guests are reconnected.
    type: bool
    default: false
notes:
  - To reconnect a running guest after a restart, its interface is moved live to a transient, address-less network
    (named C(vn-hold-...)) and straight back; libvirt then plugs the tap into the recreated bridge itself. The guest
    is not restarted and keeps its MAC, model and PCI address.
  - If a step fails after the network was defined or updated, the module rolls back (undefines a network it created,
    restores the previous definition, reverts live updates) and says so in C(rolled_back).
  - For O(forward.mode=bridge), and for O(forward.dev), the host's interfaces are only checked when O(uri) is local.
  - "Sharing a network with M(virtnet.networking.pxe_network): this module owns each C(<ip>) (address, prefix), its
    C(<dhcp><host>) entries and its C(<dhcp><range>) entries; M(virtnet.networking.pxe_network) owns C(<tftp>),
    C(<dhcp><bootp>) and, while its task gives O(virtnet.networking.pxe_network#module:dhcp_range), the DHCP range of
    that address (it records this in the network's C(<metadata>)). While it does, an O(ips) entry without
    O(ips[].dhcp.ranges) leaves that range as it is instead of removing it, the same range in both tasks is fine, and
    a different one is refused before any change (the two tasks would undo each other and restart the network on
    every run). C(<tftp>) and C(<bootp>) survive every change this module makes."
  - On a host running firewalld (common on RHEL 9), libvirt puts the bridge of a network it creates in firewalld's
    C(libvirt) zone, which lets guests reach only DHCP, DNS, SSH and TFTP on the host itself (traffic the network
    forwards is not affected). A service the host offers its guests on another port, such as a package mirror or
    an HTTP boot server, needs that port opened in the zone, for example with
    C(firewall-cmd --zone=libvirt --add-port=8080/tcp).
seealso:
  - module: virtnet.networking.virt_network_info
    description: Read networks, their DHCP leases and attached guests (the C(virsh net-list) and C(virsh net-dhcp-leases) checks).
  - module: virtnet.networking.pxe_network
    description: Serve PXE boot files (TFTP root and boot file) on a network this module manages.
  - module: virtnet.networking.virt_iface
    description: Connect a VM's interface to the network.
  - module: virtnet.networking.nm_bond_bridge
    description: The host bridge (over a bond) a network in V(bridge) mode uses.
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking, and which shows its Verification step.
requirements:
  - netaddr
extends_documentation_fragment:
  - virtnet.networking.libvirt
  - virtnet.networking.attributes
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: The default NAT network as libvirt ships it
  virtnet.networking.virt_network:
    name: default
    forward: {mode: nat}
    bridge: {name: virbr0, stp: true, delay: 0}
    ips:
      - address: 192.168.122.1/24
        dhcp:
          ranges: [{start: 192.168.122.2, end: 192.168.122.254}]
    autostart: true

- name: A routed lab network with a fixed address for one guest
  virtnet.networking.virt_network:
    name: lab
    forward: {mode: route, dev: eth0}
    bridge: {name: virbr10, stp: false}
    domain: {name: lab.example, local_only: true}
    ips:
      - address: 192.0.2.1/24
        dhcp:
          ranges: [{start: 192.0.2.100, end: 192.0.2.199}]
          hosts: [{mac: "52:54:00:00:02:10", ip: 192.0.2.10, name: web}]
      - address: 2001:db8:2::1/64
    dns:
      hosts: [{ip: 192.0.2.10, hostnames: [www]}]

- name: Guests directly on the host bridge br0
  virtnet.networking.virt_network:
    name: lan
    forward: {mode: bridge}
    bridge: {name: br0}

- name: Change the MTU and allow the restart it needs
  virtnet.networking.virt_network:
    name: lab
    mtu: 1400
    restart: true

- name: Remove a network
  virtnet.networking.virt_network:
    name: old
    state: absent
"""

RETURN = r"""
network:
  description:
    - The network after the run (predicted in check mode), normalized, in the shape of
      RV(virtnet.networking.virt_network_info#module:networks); empty when absent.
  returned: always
  type: dict
  sample: {name: lab, forward: {mode: nat}, bridge: {name: virbr1, stp: true, delay: 0}, active: true}
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
    active: {description: Whether the network runs., type: bool, returned: when the network exists}
    autostart: {description: Whether it starts with libvirt., type: bool, returned: when the network exists}
    persistent: {description: Whether it has a persistent definition., type: bool, returned: when the network exists}
actions:
  description: What was (or would be) done, in order.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: "Machine-readable step, such as V(define), V(update), V(restart).", type: str, returned: always}
    summary: {description: The step in words., type: str, returned: always}
    disruption:
      description:
        - Who notices. V(none) (invisible to running guests, a live update), V(config) (the persistent
          configuration only; takes effect at the next start), V(restart) (a network or device restarts;
          guests see a blip), V(reboot) (a guest or the host must restart).
      type: str
      returned: always
      choices: [none, config, restart, reboot]
restart_required:
  description: The active network runs an older definition; a restart (O(restart=true)) would apply it.
  returned: always
  type: bool
pending:
  description: Fields that differ between the running network and its definition.
  returned: when RV(restart_required)
  type: list
  elements: str
reconnected:
  description: Guests whose interfaces were reconnected after a restart.
  returned: when the network was restarted
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.network.spec import CONSTRAINTS, argument_spec
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import require_libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs
from ansible_collections.virtnet.networking.plugins.module_utils.network.engine import NetworkEngine


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **CONSTRAINTS)
    require_libvirt(module)
    require_libs(module)
    run(module, NetworkEngine(module))


if __name__ == "__main__":
    main()
