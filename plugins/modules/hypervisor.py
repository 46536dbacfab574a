#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: hypervisor
short_description: The whole virtual networking of one KVM hypervisor in one declaration
version_added: 0.1.0
description:
  - Takes the bridges, SR-IOV virtual functions, libvirt networks, PXE settings and VM network
    interfaces of one host as one declaration and converges the host to it in one run (one process,
    one libvirt connection, one NetworkManager checkpoint).
  - "Each list's items take exactly the options of the single module for that object (except C(uri),
    which the task gives once): C(bridges) those of M(virtnet.networking.nm_bond_bridge), C(sriov_vfs)
    those of M(virtnet.networking.sriov_vf), C(networks) those of M(virtnet.networking.virt_network),
    C(pxe_networks) those of M(virtnet.networking.pxe_network), C(vm_interfaces) those of
    M(virtnet.networking.virt_iface). An unknown key, a wrong type or a bad choice in any item is
    refused before anything runs, naming the list, the index and the option."
  - The items are planned in dependency order (bridges, VFs, networks, PXE, VM interfaces) against the
    host as the earlier plans leave it, so check mode on a fresh host predicts the whole run (a network
    on a bridge the same task creates, an interface on a network the same task defines).
  - All or nothing. Everything is validated and planned before the first change. If a step fails, every
    step this run already applied is undone, newest first (NetworkManager through its checkpoint), and
    the failure names the item.
  - Feed it the output of M(virtnet.networking.hypervisor_info) and nothing changes; the playbook
    C(playbooks/export.yml) writes that output as host_vars to adopt an existing host.
options:
  state:
    description:
      - C(merged) converges what the lists declare and leaves everything else alone.
      - C(overridden) also removes what the lists named in O(managed.lists) do not declare (only names
        starting with O(managed.prefix) when it is set); check mode lists every removal first.
    type: str
    choices: [merged, overridden]
    default: merged
  managed:
    description: With O(state=overridden), what the task owns.
    type: dict
    suboptions:
      lists:
        description: The lists whose undeclared objects are removed. VFs are never removed by omission.
        type: list
        elements: str
        choices: [bridges, networks, pxe_networks, vm_interfaces]
      prefix:
        description:
          - Only objects whose name starts with this are removed (for VM interfaces, the domain's name).
        type: str
  force:
    description:
      - With O(state=overridden), remove a libvirt network even though running guests use it.
    type: bool
    default: false
  restart:
    description:
      - The default of the C(restart) option of the items that have one (networks, PXE networks, VM
        interfaces) and do not set it.
    type: bool
    default: false
  bridges:
    description: NetworkManager bridges (with their bond); each item is a dict of the options of M(virtnet.networking.nm_bond_bridge).
    type: list
    elements: raw
  sriov_vfs:
    description: SR-IOV virtual functions; each item is a dict of the options of M(virtnet.networking.sriov_vf).
    type: list
    elements: raw
  networks:
    description: libvirt networks; each item is a dict of the options of M(virtnet.networking.virt_network).
    type: list
    elements: raw
  pxe_networks:
    description: PXE boot settings of libvirt networks; each item is a dict of the options of M(virtnet.networking.pxe_network).
    type: list
    elements: raw
  vm_interfaces:
    description: VM network interfaces; each item is a dict of the options of M(virtnet.networking.virt_iface).
    type: list
    elements: raw
notes:
  - C(sriov_vfs) takes one item per physical function; its C(attach) gives one VF to one VM. Give other VMs
    VFs of the same function with C(vm_interfaces) items of C(type=hostdev) whose C(source) is the VF's PCI
    address.
  - Check mode and diff mode report every planned action (C(actions), each naming its item) and each
    changed item's state before and after.
  - The order and the checks follow the procedures of the Red Hat Enterprise Linux documents
    "Configuring virtual machine network connections" and "Understanding virtual networking".
seealso:
  - module: virtnet.networking.hypervisor_info
  - module: virtnet.networking.virt_network
  - module: virtnet.networking.virt_iface
  - module: virtnet.networking.nm_bond_bridge
  - module: virtnet.networking.sriov_vf
  - module: virtnet.networking.pxe_network
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking.
requirements:
  - netaddr
extends_documentation_fragment:
  - virtnet.networking.libvirt
  - virtnet.networking.attributes
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: A NAT network and an isolated one, a guest on each, in one run
  virtnet.networking.hypervisor:
    networks:
      - name: lab-nat
        forward: {mode: nat}
        ips:
          - address: 192.0.2.1/24
            dhcp: {ranges: [{start: 192.0.2.100, end: 192.0.2.200}]}
        autostart: true
      - name: lab-iso
        forward: {mode: isolated}
        ips: [{address: 198.51.100.1/24}]
    vm_interfaces:
      - {domain: web1, alias: ua-lan, type: network, source: lab-nat, model: virtio}
      - {domain: db1, alias: ua-back, type: network, source: lab-iso, model: virtio}

- name: The host bridge and a bridged network on it (RHEL 14.2), checkable before it exists
  virtnet.networking.hypervisor:
    bridges:
      - name: br0
        ports: [enp1s0]
        move_ip_from: enp1s0
    networks:
      - name: host-bridge
        forward: {mode: bridge}
        bridge: {name: br0}
  check_mode: true

- name: VFs of one NIC for two VMs (Configuring virtual machine network connections, 15.7)
  virtnet.networking.hypervisor:
    sriov_vfs:
      # one item per physical function: its attach gives one VF to one VM
      - pf: enp3s0
        num_vfs: 4
        attach: {vm: web1}
    vm_interfaces:
      # another VF of the same NIC, named by its PCI address (sriov_vf returns them as vfs)
      - {domain: db1, type: hostdev, source: "0000:03:10.2", mac: "52:54:00:6d:90:02"}

- name: Own every lab- network and VM NIC; remove the ones not listed
  virtnet.networking.hypervisor:
    state: overridden
    managed: {lists: [networks, vm_interfaces], prefix: lab-}
    networks: "{{ lab_networks }}"
    vm_interfaces: "{{ lab_interfaces }}"
"""

RETURN = r"""
actions:
  description: Every planned (check mode) or applied step, in order, each with the item it belongs to.
  returned: always
  type: list
  elements: dict
  contains:
    item:
      description: The item, like C(networks[1]).
      type: str
    name:
      description: The object the item names.
      type: str
    kind:
      description: What the step does (define, update, restart, nmcli, attach...).
      type: str
    summary:
      description: The step in words.
      type: str
    disruption:
      description: Who notices (none, config, restart, reboot).
      type: str
states:
  description:
    - Each item's resulting (in check mode, predicted) state, keyed by the item (like C(networks[0])),
      as its single module returns it (virt_network's C(network), virt_iface's C(interface)...).
  returned: always
  type: dict
reports:
  description:
    - Keyed by the item, what the applied items' single modules report besides their state
      (reconnected guests, renewal, NetworkManager verification).
  returned: when a real run applied something
  type: dict
restart_required:
  description: Whether a change waits for a restart the task did not allow.
  returned: always
  type: bool
pending:
  description: The changes that wait for that restart.
  returned: when restart_required
  type: list
  elements: str
checkpoint:
  description: What happened to the NetworkManager checkpoint of the run.
  returned: when a bridge changed
  type: list
  elements: str
rolled_back:
  description: What a failed run undid.
  returned: on failure after a change
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor.engine import run
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor.spec import CONSTRAINTS, module_spec
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import require_libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs


def argument_spec() -> dict:
    return module_spec()


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **CONSTRAINTS)
    require_libvirt(module)
    require_libs(module)
    run(module)


if __name__ == "__main__":
    main()
