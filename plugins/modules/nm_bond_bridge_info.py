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
    (RV(bridges.<bridge>.status))."
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
  description: Bridge name to its view, in the shape of RV(virtnet.networking.nm_bond_bridge#module:bridge), plus C(profiles) and C(status).
  returned: always
  type: dict
  contains:
    "<bridge>":
      description: One bridge.
      type: dict
      returned: always
      contains:
        present: {description: Whether the bridge profile exists (the only key when it does not)., type: bool, returned: always}
        name: {description: Bridge interface name., type: str, returned: when present}
        stp: {description: Spanning tree on the bridge., type: bool, returned: when present}
        autoconnect_ports: {description: Whether NetworkManager activates the ports with the bridge., type: bool, returned: when present}
        ports:
          description: Ethernet ports directly on the bridge.
          type: list
          elements: str
          returned: when present
        bond:
          description: The bond under the bridge, or null.
          type: dict
          returned: when present
          contains:
            name: {description: Bond interface name., type: str, returned: always}
            mode: {description: "Bonding mode, like V(active-backup).", type: str, returned: always}
            miimon: {description: MII link monitoring interval in milliseconds., type: int, returned: always}
            options:
              description: Other bond options (name to value).
              type: dict
              returned: always
              contains:
                "<option>": {description: Its value., type: str, returned: always}
            ports: {description: Ethernet ports of the bond., type: list, elements: str, returned: always}
        ipv4:
          description: IPv4 settings of the bridge.
          type: dict
          returned: when present
          contains: &ipcfg
            method: {description: "NetworkManager method, like V(manual), V(auto) or V(disabled).", type: str, returned: always}
            addresses: {description: "Addresses with prefix, sorted.", type: list, elements: str, returned: always}
            gateway: {description: Default gateway (null when none)., type: str, returned: always}
            dns: {description: DNS servers in resolver order., type: list, elements: str, returned: always}
            dns_search: {description: DNS search domains., type: list, elements: str, returned: always}
        ipv6:
          description: IPv6 settings of the bridge.
          type: dict
          returned: when present
          contains: *ipcfg
        active:
          description: Interface name (the bridge, the bond, each port) to whether its profile is activated.
          type: dict
          returned: when present
          contains:
            "<interface>": {description: Whether its profile is activated., type: bool, returned: always}
        standalone_profiles:
          description: Other profiles of the ports (which the task deactivates), by profile name.
          type: dict
          returned: when present
          contains:
            "<profile>":
              description: One profile.
              type: dict
              returned: always
              contains:
                ifname: {description: Its interface., type: str, returned: always}
                autoconnect: {description: Whether it connects by itself., type: bool, returned: always}
                active: {description: Whether it is active., type: bool, returned: always}
        profiles:
          description: The NetworkManager profile names.
          type: dict
          returned: always
          contains:
            bridge: {description: Profile of the bridge., type: str, returned: always}
            bond: {description: Profile of the bond (null when none)., type: str, returned: always}
            ports: {description: Interface name to the profile that makes it a port., type: dict, returned: always,
                    contains: {"<interface>": {description: Profile name., type: str, returned: always}}}
        status:
          description: Kernel state, as the Verification steps of I(Configuring virtual machine network connections), 15.10 read it.
          type: dict
          returned: always
          contains:
            bridge:
              description: The bridge in sysfs (null when the kernel has no such bridge).
              type: dict
              returned: always
              contains:
                operstate: {description: "Operational state, like V(up).", type: str, returned: always}
                stp: {description: Whether spanning tree is on., type: bool, returned: always}
                ports:
                  description: Port name to its state.
                  type: dict
                  returned: always
                  contains:
                    "<port>":
                      description: One port.
                      type: dict
                      returned: always
                      contains:
                        state: {description: "STP state, like V(forwarding).", type: str, returned: always}
                        operstate: {description: Operational state., type: str, returned: always}
            bond:
              description: The bond as C(/proc/net/bonding) shows it (null without a bond).
              type: dict
              returned: always
              contains:
                mode: {description: "Bonding mode, like V(active-backup).", type: str, returned: always}
                mii_status: {description: V(up) or V(down)., type: str, returned: always}
                active_port: {description: The active port (null when none)., type: str, returned: always}
                miimon: {description: MII polling interval in milliseconds., type: int, returned: always}
                ports:
                  description: Port name to its state.
                  type: dict
                  returned: always
                  contains:
                    "<port>":
                      description: One port.
                      type: dict
                      returned: always
                      contains:
                        mii_status: {description: V(up) or V(down)., type: str, returned: always}
                        link_failure_count: {description: Link failures counted by the driver., type: int, returned: always}
                        hw_addr: {description: Permanent MAC address., type: str, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.engine import run_info
from ansible_collections.virtnet.networking.plugins.module_utils.nm_engine import read_info


def argument_spec() -> dict:
    return dict(name=dict(type="str"))


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_info(module, lambda: read_info(module))


if __name__ == "__main__":
    main()
