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
  description: Bridge name to its view (as RV(virtnet.networking.nm_bond_bridge#module:bridge)), plus C(profiles) and C(status).
  returned: always
  type: dict
  contains:
    status:
      description: C(bridge) (operstate, stp, ports with STP state) and C(bond) (mode, mii_status, active_port, miimon, ports).
      type: dict
    profiles:
      description: The profile names of the bridge, the bond and each port.
      type: dict
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
