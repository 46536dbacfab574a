#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hypervisor_info
short_description: Read the whole virtual networking of a hypervisor, as the single modules' options
version_added: 0.1.0
description:
  - Returns the host bridges, SR-IOV VFs, libvirt networks, their PXE settings and the interfaces of every
    persistent guest of one hypervisor in RV(hypervisor), as five lists whose items are the options of
    M(virtnet.networking.nm_bond_bridge), M(virtnet.networking.sriov_vf), M(virtnet.networking.virt_network),
    M(virtnet.networking.pxe_network) and M(virtnet.networking.virt_iface).
  - Giving each item back to its module changes nothing, so a host built by hand (with C(virsh), C(nmcli) and
    C(echo > sriov_numvfs), as the RHEL procedures do) can be written down as variables and managed from then on.
  - Only options that describe the host are returned. Options about how a task runs
    (O(virtnet.networking.virt_network#module:restart), O(virtnet.networking.pxe_network#module:verify), timeouts)
    and options at their module's default are left out, and so is O(uri), since the items are for the same host.
  - What cannot be given back without a change (see RV(notes)) is left out of the item or of the list, and
    RV(notes) says what and why.
options:
  include:
    description: Read only these lists; the others are returned empty. Default is all five.
    type: list
    elements: str
    choices: [bridges, sriov_vfs, networks, pxe_networks, vm_interfaces]
  sysfs_root:
    description:
      - For testing only. A directory used instead of C(/) for C(/sys), C(/proc) and C(/etc/udev/rules.d) when
        reading the SR-IOV VFs. It must contain a file named C(.virtnet-fake-sysfs).
    type: path
    default: /
notes:
  - RV(hypervisor.bridges) is read only when C(nmcli) is installed and NetworkManager runs; otherwise it is empty and
    RV(notes) says why. RV(hypervisor.sriov_vfs) is read only for a local O(uri), since the VFs are those of the host
    the module runs on.
  - "The PXE elements of a network (C(<tftp>), C(<dhcp><bootp>)) are in RV(hypervisor.pxe_networks) only:
    M(virtnet.networking.virt_network) leaves them as they are, so its item does not carry them."
  - A network or guest without a persistent definition (created with C(virsh net-create) or C(virsh create)) is left
    out, since the single modules would define it.
  - On a host with SELinux enabled, a TFTP root with another label than the one
    M(virtnet.networking.pxe_network) sets makes its item relabel the root.
seealso:
  - module: virtnet.networking.hypervisor
    description: Converge the whole host from the same five lists.
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking, and which shows its Verification step.
  - module: virtnet.networking.virt_network_info
    description: The networks with their leases, guests and ports.
  - module: virtnet.networking.virt_iface_info
    description: The guests' interfaces with their addresses.
  - module: virtnet.networking.pxe_network_info
    description: The PXE settings with the boot file fetched over TFTP.
  - module: virtnet.networking.sriov_vf_info
    description: The physical functions, their VFs and the IOMMU.
  - module: virtnet.networking.nm_bond_bridge_info
    description: The bridges with the kernel's view of their ports and bond.
requirements:
  - netaddr
extends_documentation_fragment:
  - virtnet.networking.libvirt
  - virtnet.networking.attributes.INFO
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: Read the hypervisor's virtual networking
  virtnet.networking.hypervisor_info:
  register: hv

- name: Write it down as host variables, to manage the host from now on
  ansible.builtin.copy:
    content: "{{ hv.hypervisor | to_nice_yaml }}"
    dest: "host_vars/{{ inventory_hostname }}/networking.yml"
    mode: "0644"
  delegate_to: localhost

- name: Only the libvirt networks and the guests' interfaces
  virtnet.networking.hypervisor_info:
    include: [networks, vm_interfaces]
  register: lab

- name: Say what could not be exported
  ansible.builtin.debug:
    var: lab.notes
"""

RETURN = r"""
hypervisor:
  description: The host, as five lists of the single modules' options.
  returned: always
  type: dict
  contains:
    bridges:
      description: One item per NetworkManager bridge, with the options of M(virtnet.networking.nm_bond_bridge).
      type: list
      elements: dict
      returned: always
      contains:
        name: {description: Bridge interface name., type: str, returned: always}
        stp: {description: Spanning tree on the bridge., type: bool, returned: always}
        autoconnect_ports: {description: Whether the ports come up with the bridge., type: bool, returned: always}
        ports: {description: Ethernet interfaces directly on the bridge., type: list, elements: str, returned: always}
        bond:
          description: The bond under the bridge.
          type: dict
          returned: when the bridge has one
          contains:
            name: {description: Bond interface name., type: str, returned: always}
            mode: {description: "Bonding mode, like V(active-backup).", type: str, returned: always}
            miimon: {description: MII monitoring interval in milliseconds., type: int, returned: always}
            options: {description: Other bond options (name to value)., type: dict, returned: always, contains: {}}
            ports: {description: Ethernet interfaces of the bond., type: list, elements: str, returned: always}
            allow_unsafe_mode: {description: "V(true) when the mode is one that M(virtnet.networking.nm_bond_bridge)
              otherwise refuses under a VM bridge.", type: bool, returned: "for modes 0, 3, 5 and 6"}
        ipv4:
          description: IPv4 settings of the bridge.
          type: dict
          returned: always
          contains: &ipcfg
            method: {description: "NetworkManager method, like V(manual), V(auto) or V(disabled).", type: str, returned: always}
            addresses: {description: Addresses with prefix., type: list, elements: str, returned: when set}
            gateway: {description: Default gateway., type: str, returned: when set}
            dns: {description: DNS servers in resolver order., type: list, elements: str, returned: when set}
            dns_search: {description: DNS search domains., type: list, elements: str, returned: when set}
        ipv6:
          description: IPv6 settings of the bridge.
          type: dict
          returned: always
          contains: *ipcfg
    sriov_vfs:
      description:
        - One item per network interface that can have VFs (C(sriov_totalvfs) above 0), with the options of
          M(virtnet.networking.sriov_vf). VFs given to guests are in RV(hypervisor.vm_interfaces).
      type: list
      elements: dict
      returned: always
      contains:
        pf: {description: The physical function's interface name., type: str, returned: always}
        num_vfs: {description: Its current number of VFs., type: int, returned: always}
        persistent: {description: V(false) when no udev rule sets the count at boot., type: bool, returned: when false}
    networks:
      description:
        - One item per persistent libvirt network, with the options of M(virtnet.networking.virt_network) as its
          definition has them (without the PXE elements, which are in RV(hypervisor.pxe_networks)).
      type: list
      elements: dict
      returned: always
      contains:
        name: {description: Network name., type: str, returned: always}
        state: {description: "V(running) when the network runs, else V(present).", type: str, returned: always}
        autostart: {description: Whether it starts with libvirt., type: bool, returned: always}
        forward:
          description: How the network reaches the outside.
          type: dict
          returned: always
          contains:
            mode: {description: "V(nat), V(route), V(bridge), V(open) or V(isolated).", type: str, returned: always}
            dev: {description: The host interface forwarding is restricted to., type: str, returned: when set}
            nat:
              description: The masquerading range, with C(address) and C(port), each with C(start) and C(end).
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
          returned: when known
          contains:
            name: {description: Bridge interface name., type: str, returned: when known}
            stp: {description: Spanning tree on the bridge., type: bool, returned: when known}
            delay: {description: Forward delay in seconds., type: int, returned: when known}
        mtu: {description: MTU of the bridge., type: int, returned: when set}
        domain:
          description: The DNS domain.
          type: dict
          returned: when set
          contains:
            name: {description: Domain name., type: str, returned: always}
            local_only: {description: Whether queries for the domain stay local., type: bool, returned: when set}
        ips:
          description: The addresses of the network, each with its DHCP.
          type: list
          elements: dict
          returned: when the network has addresses
          contains:
            address: {description: "Address with prefix, like V(192.0.2.1/24).", type: str, returned: always}
            dhcp:
              description: DHCP on this address, C(ranges) (C(start), C(end)) and C(hosts) (C(mac), C(ip), C(name)).
              type: dict
              returned: when DHCP is on
              contains:
                ranges: {description: The dynamic ranges (C(start) and C(end))., type: list, elements: dict, returned: always,
                         contains: {start: {description: First address., type: str, returned: always},
                                    end: {description: Last address., type: str, returned: always}}}
                hosts: {description: The static hosts (each key only when set)., type: list, elements: dict, returned: always,
                        contains: {mac: {description: MAC address., type: str, returned: when set}, ip: {description: Address., type: str, returned: always},
                                   name: {description: Host name., type: str, returned: when set}}}
        dns:
          description: The DNS server of the network (only what is set).
          type: dict
          returned: when set
          contains:
            enable: {description: Whether libvirt's DNS server runs., type: bool, returned: when set}
            forwarders: {description: "Upstream servers (C(addr), C(domain)).", type: list, elements: dict, returned: when set,
                         contains: {addr: {description: Server address., type: str, returned: when set},
                                    domain: {description: Only for this domain., type: str, returned: when set}}}
            hosts: {description: "Host records (C(ip), C(hostnames)).", type: list, elements: dict, returned: when set,
                    contains: {ip: {description: Address., type: str, returned: always},
                               hostnames: {description: Names., type: list, elements: str, returned: always}}}
            srv: {description: "SRV records, as O(virtnet.networking.virt_network#module:dns.srv).", type: list, elements: dict, returned: when set,
                  contains: {service: {description: Service name., type: str, returned: always},
                             protocol: {description: V(tcp) or V(udp)., type: str, returned: always},
                             domain: {description: Domain., type: str, returned: when set}, target: {description: Target host., type: str, returned: when set},
                             port: {description: Port., type: int, returned: when set}, priority: {description: Priority., type: int, returned: when set},
                             weight: {description: Weight., type: int, returned: when set}}}
            txt: {description: "TXT records (C(name), C(value)).", type: list, elements: dict, returned: when set,
                  contains: {name: {description: Record name., type: str, returned: always}, value: {description: Record value., type: str, returned: always}}}
        dnsmasq_options: {description: Extra dnsmasq options., type: list, elements: str, returned: when set}
    pxe_networks:
      description:
        - One item per IPv4 address of a network that has a C(<tftp>) or a C(<bootp>), with the options of
          M(virtnet.networking.pxe_network).
      type: list
      elements: dict
      returned: always
      contains:
        name: {description: Network name., type: str, returned: always}
        address: {description: The IPv4 address (with prefix) that offers PXE., type: str, returned: always}
        tftp_root: {description: The TFTP root., type: str, returned: "when set, and the root is as M(virtnet.networking.pxe_network) leaves it"}
        owner: {description: Owner of the TFTP root., type: str, returned: "with RV(hypervisor.pxe_networks[].tftp_root)"}
        group: {description: Group of the TFTP root., type: str, returned: "with RV(hypervisor.pxe_networks[].tftp_root)"}
        boot_files:
          description: The boot file, to be checked in the root (name only).
          type: list
          elements: dict
          returned: when the network serves its own boot file
          contains:
            name: {description: File name below the root., type: str, returned: always}
        bootp_file: {description: The boot file the DHCP server hands out., type: str, returned: when set}
        bootp_server: {description: Another TFTP server to boot from., type: str, returned: when set}
        dhcp_range:
          description: The DHCP range M(virtnet.networking.pxe_network) owns on this address.
          type: dict
          returned: when it owns one
          contains:
            start: {description: First address., type: str, returned: always}
            end: {description: Last address., type: str, returned: always}
    vm_interfaces:
      description:
        - One item per interface of every persistent guest, as its definition has it, with the options of
          M(virtnet.networking.virt_iface).
      type: list
      elements: dict
      returned: always
      contains:
        domain: {description: Guest name., type: str, returned: always}
        mac: {description: MAC address., type: str, returned: always}
        alias: {description: "User alias (C(ua-...)).", type: str, returned: when set}
        type: {description: "V(network), V(bridge), V(direct), V(user) or V(hostdev).", type: str, returned: always}
        source: {description: "Network, bridge, host device or VF PCI address.", type: str, returned: always}
        mode: {description: Macvtap mode., type: str, returned: for V(direct)}
        model: {description: NIC model., type: str, returned: when set}
        link: {description: V(up) or V(down)., type: str, returned: always}
        boot_order: {description: Boot order., type: int, returned: when set}
        port_forwards:
          description: Port forwards of a passt interface, as O(virtnet.networking.virt_iface#module:port_forwards).
          type: list
          elements: dict
          returned: for V(user)
          contains:
            proto: {description: V(tcp) or V(udp)., type: str, returned: always}
            address: {description: Host address., type: str, returned: when set}
            dev: {description: Host interface., type: str, returned: when set}
            ranges:
              description: Port ranges.
              type: list
              elements: dict
              returned: always
              contains:
                start: {description: First port., type: int, returned: always}
                end: {description: Last port., type: int, returned: when set}
                to: {description: Guest port of the first one., type: int, returned: when set}
                exclude: {description: An excluded range., type: bool, returned: when set}
        ips: {description: Addresses of a passt interface., type: list, elements: str, returned: for V(user)}
        vlan: {description: VLAN tag of a VF., type: int, returned: for V(hostdev) when set}
        managed: {description: Whether libvirt detaches the VF from the host., type: bool, returned: for V(hostdev)}
  sample:
    bridges: []
    sriov_vfs: []
    networks:
      - {name: default, state: running, autostart: true, forward: {mode: nat},
         bridge: {name: virbr0, stp: true, delay: 0},
         ips: [{address: 192.168.122.1/24, dhcp: {ranges: [{start: 192.168.122.2, end: 192.168.122.254}], hosts: []}}]}
    pxe_networks: []
    vm_interfaces:
      - {domain: web1, mac: "52:54:00:12:34:56", type: network, source: default, model: virtio, link: up}
notes:
  description: What could not be read or exported, and why (one sentence each).
  returned: always
  type: list
  elements: str
  sample: ["bridges: not read, nmcli is not installed (NetworkManager manages no bridge here)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run_info
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor.info import LISTS, read_host
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt, require_libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.engine import open_root
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs


def argument_spec() -> dict:
    return libvirt_argspec(include={"type": "list", "elements": "str", "choices": list(LISTS)},
                           sysfs_root={"type": "path", "default": "/"})


def _read(module: AnsibleModule, lv: Libvirt) -> dict:
    notes: list = []
    host = read_host(module, lv, fs=open_root(module.params["sysfs_root"]), include=module.params["include"],
                     notes=notes)
    return {"hypervisor": host, "notes": notes}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_libvirt(module)
    require_libs(module)
    with Libvirt(module.params["uri"]) as lv:
        run_info(module, lambda: _read(module, lv))


if __name__ == "__main__":
    main()
