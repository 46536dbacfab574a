#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nm_bond_bridge
short_description: A host bridge for bridged VM networking (optionally over a bond), through NetworkManager
version_added: 0.1.0
description:
  - Declares the host side of bridged virtual machine networking with NetworkManager profiles, using
    C(nmcli) argument lists only. It manages a bridge with its own IPv4/IPv6 settings (or none), its ports
    (plain ethernet interfaces or one bond) and the bond with its ethernet ports.
  - Can move an interface's current IP configuration to the bridge (O(move_ip_from)), as the host's
    address must live on the bridge once the physical interface becomes a port.
  - Enforces the rules for bonds under a VM bridge. Only bonding modes 1 (V(active-backup)),
    2 (V(balance-xor)) and 4 (V(802.3ad)) are accepted unless O(bond.allow_unsafe_mode=true);
    MII monitoring is required; ARP monitoring is refused.
  - Every change runs under a NetworkManager checkpoint (D-Bus, through C(busctl)) with a rollback
    timeout. The checkpoint is destroyed only after the new state is verified (ports attached, bridge
    up, bond MII up, gateway or O(verify_target) reachable). Otherwise NetworkManager rolls back and
    the task fails saying why. If the module loses the host, NetworkManager rolls back by itself after
    O(rollback_timeout) seconds.
  - Profiles the module creates are named V(<bridge>), V(<bond>) and V(<master>-port-<interface>).
    Existing standalone profiles of the ports are kept but stop autoconnecting.
options:
  name:
    description: Bridge interface name, also the name of its profile.
    type: str
    required: true
  state:
    description:
      - V(absent) deletes the bridge, its bond and the port profiles.
    type: str
    choices: [present, absent]
    default: present
  stp:
    description: Spanning tree on the bridge. Off by default because STP delays a new port by the forward delay.
    type: bool
    default: false
  autoconnect_ports:
    description: Bring the ports up whenever the bridge (or bond) comes up (C(connection.autoconnect-ports)).
    type: bool
    default: true
  ports:
    description: Ethernet interfaces that become ports of the bridge.
    type: list
    elements: str
    default: []
  bond:
    description: A bond that becomes a port of the bridge.
    type: dict
    suboptions:
      name:
        description: Bond interface name.
        type: str
        required: true
      mode:
        description: Bonding mode, by name or number (V(1) = V(active-backup)).
        type: str
        default: active-backup
      miimon:
        description: MII monitoring interval in milliseconds; must be positive.
        type: raw
        default: 100
      options:
        description: Other bond options (for example V(primary), V(xmit_hash_policy)). ARP options are refused.
        type: dict
        default: {}
      ports:
        description: Ethernet interfaces enslaved to the bond.
        type: list
        elements: str
        default: []
      allow_unsafe_mode:
        description: Accept modes 0, 3, 5 and 6 under a VM bridge (a warning is emitted).
        type: bool
        default: false
  ipv4:
    description: IPv4 settings of the bridge. Omitted means V(disabled).
    type: dict
    suboptions:
      method:
        description: V(disabled), V(auto) (DHCP) or V(manual). Defaults to V(manual) when O(ipv4.addresses) is given.
        type: str
      addresses:
        description: Addresses with prefix length, like V(192.0.2.1/24).
        type: list
        elements: str
      gateway:
        description: Default gateway; must be inside one of the addresses' subnets.
        type: str
      dns:
        description: DNS servers, in order.
        type: list
        elements: str
      dns_search:
        description: DNS search domains, in order.
        type: list
        elements: str
  ipv6:
    description: IPv6 settings of the bridge, as O(ipv4); O(ipv6.method) may also be V(auto) (SLAAC), V(dhcp) or V(ignore).
    type: dict
    suboptions:
      method:
        description: Address method.
        type: str
      addresses:
        description: Addresses with prefix length.
        type: list
        elements: str
      gateway:
        description: Default gateway.
        type: str
      dns:
        description: DNS servers.
        type: list
        elements: str
      dns_search:
        description: DNS search domains.
        type: list
        elements: str
  move_ip_from:
    description:
      - A port whose current NetworkManager IP settings move to the bridge. Cannot be combined with O(ipv4)/O(ipv6).
      - The port profile's firewalld zone (C(connection.zone)) moves with them unless O(zone) is given, so on a
        host running firewalld (RHEL 9 and 10) the address stays in the zone it was in.
    type: str
  zone:
    description:
      - The firewalld zone of the bridge (NetworkManager's C(connection.zone)); V("") is firewalld's default zone.
      - Left out, the bridge keeps the zone it has (a new bridge gets the default zone, or the zone of
        O(move_ip_from)'s profile).
      - A zone given with C(firewall-cmd) at runtime only (without C(--permanent)) does not survive the
        bridge's next activation by NetworkManager, this module's or any other; set it here instead.
    type: str
  release_ports:
    description: With O(state=absent), give the former ports their standalone profiles back (re-enabled), or new DHCP ones.
    type: bool
    default: false
  rollback_timeout:
    description:
      - Seconds after which NetworkManager undoes the change by itself if the module cannot confirm it
        (for example because the module lost the host). Must be at least O(verify_timeout) + 20.
    type: int
    default: 60
  verify_target:
    description: An address that must answer ping after the change. Defaults to the bridge's gateway.
    type: str
  verify_timeout:
    description:
      - Seconds the change has, in total, to bring the ports and bond up and pass the verification
        (kernel state, O(verify_target) or gateway reachable, and when run over SSH the controller's
        address still on the host and the controller answering).
      - The time counts from the first profile the change adds. On a slow host (an emulated or heavily
        loaded one) raise it, together with O(rollback_timeout); a change that misses it is rolled back.
    type: int
    default: 30
extends_documentation_fragment:
  - virtnet.networking.attributes
  - virtnet.networking.attributes.ACTION_GROUP_NONE
seealso:
  - module: virtnet.networking.nm_bond_bridge_info
    description: Read the bridges with their bond, ports, profiles and kernel state.
  - module: virtnet.networking.virt_network
    description: A libvirt network in V(bridge) mode over this bridge.
  - module: virtnet.networking.virt_iface
    description: Move a VM's interface onto this bridge.
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking, and which shows its Verification step.
requirements:
  - netaddr (Python)
  - NetworkManager with C(nmcli)
  - C(busctl) (systemd) for NetworkManager checkpoints
  - C(ping)
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: Host bridge for externally visible VMs, host address moved from eth1 to it (Configuring virtual machine network connections, 15.9)
  virtnet.networking.nm_bond_bridge:
    name: bridge0
    ports: [eth1]
    move_ip_from: eth1

- name: Active-backup bond under a VM bridge with no address of its own (Configuring virtual machine network connections, 15.10)
  virtnet.networking.nm_bond_bridge:
    name: br0
    bond:
      name: bond0
      mode: active-backup
      miimon: 100
      ports: [enp7s0, enp8s0]

- name: Static addressing on the bridge
  virtnet.networking.nm_bond_bridge:
    name: br0
    ports: [enp7s0]
    ipv4:
      addresses: [192.0.2.1/24]
      gateway: 192.0.2.254
      dns: [192.0.2.253]
      dns_search: [example.com]
    ipv6:
      addresses: ["2001:db8:1::1/64"]
      gateway: "2001:db8:1::fffe"

- name: Remove the bridge and give the ports their own profiles back
  virtnet.networking.nm_bond_bridge:
    name: br0
    state: absent
    release_ports: true
"""

RETURN = r"""
bridge:
  description: The bridge as NetworkManager holds it after the task (predicted in check mode).
  returned: always
  type: dict
  contains:
    present: {description: Whether the bridge profile exists (the only key when it does not)., type: bool, returned: always}
    name: {description: Bridge interface name., type: str, returned: when present}
    stp: {description: Spanning tree on the bridge., type: bool, returned: when present}
    zone: {description: "The firewalld zone of the bridge's profile (V(\"\") the default zone).", type: str, returned: when present}
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
        options: {description: Other bond options (name to value)., type: dict, returned: always}
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
      description: Interface name (the bridge, the bond, each port) to whether its profile is activated (a bool).
      type: dict
      returned: when present
    standalone_profiles:
      description:
        - Other profiles of the ports (which the task deactivates), by profile name, each with C(ifname) (its
          interface), C(autoconnect) and C(active).
      type: dict
      returned: when present
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
verification:
  description: Kernel state after the change, as the Verification steps of I(Configuring virtual machine network connections), 15.10 read it.
  returned: when changed and not in check mode
  type: dict
  contains:
    bridge:
      description: The bridge in sysfs (null when the kernel has no such bridge).
      type: dict
      returned: always
      contains:
        operstate: {description: "Operational state, like V(up).", type: str, returned: always}
        stp: {description: Whether spanning tree is on., type: bool, returned: always}
        ports: {description: "Port name to its C(state) (STP state, like V(forwarding)) and C(operstate).", type: dict, returned: always}
    bond:
      description: The bond as C(/proc/net/bonding) shows it (null without a bond).
      type: dict
      returned: always
      contains:
        mode: {description: "Bonding mode, like V(active-backup).", type: str, returned: always}
        mii_status: {description: V(up) or V(down)., type: str, returned: always}
        active_port: {description: The active port (null when none)., type: str, returned: always}
        miimon: {description: MII polling interval in milliseconds., type: int, returned: always}
        ports: {description: "Port name to its C(mii_status), C(link_failure_count) and C(hw_addr) (permanent MAC).", type: dict, returned: always}
checkpoint:
  description: What happened to the NetworkManager checkpoint.
  returned: when changed and not in check mode
  type: list
  elements: str
reachable:
  description: The address that answered after the change.
  returned: when checked
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.virtnet.networking.plugins.module_utils.engine import run
from ansible_collections.virtnet.networking.plugins.module_utils.nm.engine import NmBondBridge
from ansible_collections.virtnet.networking.plugins.module_utils.nm.spec import CONSTRAINTS, argument_spec
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **CONSTRAINTS)
    if netaddr is None:
        module.fail_json(msg=missing_required_lib("netaddr"))
    run(module, NmBondBridge(module))


if __name__ == "__main__":
    main()
