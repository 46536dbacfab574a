#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nm_bond_bridge_info
short_description: Read NetworkManager bridges, their bonds and ports, with the kernel's view of them
version_added: 0.1.0
description:
  - Returns every NetworkManager bridge (or the one in O(name)) in the model of
    M(virtnet.networking.nm_bond_bridge), plus what the Verification steps of RHEL 10
    I(Configuring virtual machine network connections), 15.9 and 15.10, read, the bridge's ports
    and their STP states (C(/sys/class/net/<bridge>/brif)), and for a bond the mode, MII status,
    active port and each port's link (C(/proc/net/bonding/<bond>)).
options:
  name:
    description: Only this bridge.
    type: str
extends_documentation_fragment:
  - virtnet.networking.attributes.INFO
  - virtnet.networking.attributes.ACTION_GROUP_NONE
seealso:
  - module: virtnet.networking.nm_bond_bridge
    description: Create or change a bridge over a bond or Ethernet ports.
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking, and which shows its Verification step.
notes:
  - "It shows what the Verification steps of I(Configuring virtual machine network connections), 15.10 check with
    C(cat /proc/net/bonding/bond0), C(ip link show master br0) and C(bridge link show)
    (C(status) of each bridge in RV(bridges))."
requirements:
  - NetworkManager with C(nmcli)
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: Check the bond under br0
  virtnet.networking.nm_bond_bridge_info:
    name: br0
  register: br

- name: Fail if the bond has no active port
  ansible.builtin.assert:
    that: br.bridges.br0.status.bond.active_port is not none
"""

RETURN = r"""
bridges:
  description:
    - Bridge name to its view, a dict with the keys of RV(virtnet.networking.nm_bond_bridge#module:bridge) plus
      C(profiles) and C(status).
    - C(profiles) has the NetworkManager profile names - C(bridge), C(bond) (null when none) and C(ports) (interface
      name to the profile that makes it a port).
    - C(status) is the kernel state, as RV(virtnet.networking.nm_bond_bridge#module:verification) - C(bridge)
      (C(operstate), C(stp), C(ports) with their STP state) and C(bond) (C(mode), C(mii_status), C(active_port),
      C(miimon), C(ports)), as the Verification steps of I(Configuring virtual machine network connections), 15.10
      read them.
  returned: always
  type: dict
  sample:
    br0:
      present: true
      name: br0
      stp: false
      zone: ""
      autoconnect_ports: true
      ports: []
      bond: {name: bond0, mode: active-backup, miimon: 100, options: {}, ports: [enp7s0, enp8s0]}
      ipv4: {method: disabled, addresses: [], gateway: null, dns: [], dns_search: []}
      ipv6: {method: disabled, addresses: [], gateway: null, dns: [], dns_search: []}
      active: {br0: true, bond0: true, enp7s0: true, enp8s0: true}
      standalone_profiles: {}
      profiles: {bridge: br0, bond: bond0, ports: {enp7s0: bond0-port-enp7s0, enp8s0: bond0-port-enp8s0}}
      status:
        bridge: {operstate: up, stp: false, ports: {bond0: {state: forwarding, operstate: up}}}
        bond: {mode: active-backup, mii_status: up, active_port: enp7s0, miimon: 100,
               ports: {enp7s0: {mii_status: up, link_failure_count: 0, hw_addr: "52:54:00:38:a9:4d"}}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.engine import run_info
from ansible_collections.virtnet.networking.plugins.module_utils.nm.info import read_info


def argument_spec() -> dict:
    return dict(name=dict(type="str"))


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_info(module, lambda: read_info(module))


if __name__ == "__main__":
    main()
