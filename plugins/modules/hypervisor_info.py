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
  - Only options that describe the host are returned. Options about how a task runs (O(virtnet.networking.virt_network#module:restart),
    O(virtnet.networking.pxe_network#module:verify), timeouts) and options at their module's default are left out, and
    so is O(uri): the items are for the same host.
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
    out: the single modules would define it.
  - On a host with SELinux enabled, a TFTP root with another label than the one
    M(virtnet.networking.pxe_network) sets makes its item relabel the root.
seealso:
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
      description:
        - One item per NetworkManager bridge, with the options of M(virtnet.networking.nm_bond_bridge)
          (C(name), C(stp), C(autoconnect_ports), C(ports), C(bond), C(ipv4), C(ipv6)).
      type: list
      elements: dict
      returned: always
    sriov_vfs:
      description:
        - One item per network interface that can have VFs (C(sriov_totalvfs) above 0), with the options of
          M(virtnet.networking.sriov_vf) (C(pf), C(num_vfs), and C(persistent=false) when no udev rule keeps the
          count at boot). VFs given to guests are in RV(hypervisor.vm_interfaces).
      type: list
      elements: dict
      returned: always
    networks:
      description:
        - One item per persistent libvirt network, with the options of M(virtnet.networking.virt_network)
          (C(name), C(state) V(running) or V(present), C(autostart), C(forward), C(bridge), C(mtu), C(domain),
          C(ips), C(dns), C(dnsmasq_options)).
      type: list
      elements: dict
      returned: always
    pxe_networks:
      description:
        - One item per IPv4 address of a network that has a C(<tftp>) or a C(<bootp>), with the options of
          M(virtnet.networking.pxe_network) (C(name), C(address), C(tftp_root), C(owner), C(group), C(boot_files),
          C(bootp_file), C(bootp_server), C(dhcp_range)).
      type: list
      elements: dict
      returned: always
    vm_interfaces:
      description:
        - One item per interface of every persistent guest, as its definition has it, with the options of
          M(virtnet.networking.virt_iface) (C(domain), C(mac), C(alias) when it has a user alias, C(type),
          C(source), C(mode), C(model), C(link), C(boot_order), C(port_forwards), C(ips), C(vlan), C(managed)).
      type: list
      elements: dict
      returned: always
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
