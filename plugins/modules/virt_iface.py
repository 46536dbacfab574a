#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_iface
short_description: Declare one network interface of a libvirt virtual machine
version_added: 0.1.0
description:
  - Declares one network interface (NIC) of a virtual machine (libvirt domain), as the web console's
    Network Interfaces section manages it, and brings the domain to it. Running it again changes nothing.
  - "Types: V(network) (a libvirt virtual network), V(bridge) (bridge to LAN: a host bridge), V(direct)
    (macvtap on a host device), V(user) (user-space connection with the passt backend, with port forwards)
    and V(hostdev) (an SR-IOV VF passed to the guest)."
  - "B(Identity.) The interface is found by O(alias) (a libvirt user alias, which always starts with C(ua-))
    when given, otherwise by O(mac). An interface created with O(alias) and without O(mac) gets a MAC in
    libvirt's C(52:54:00) range derived from the domain name and the alias, so every run picks the same
    one. If no interface has the alias but one has O(mac) and no alias of its own, the alias is added to
    it; an interface with another user alias is never taken. A MAC already used by another interface on
    the host is refused, so the module can never change the wrong NIC. To change a MAC, identify the
    interface by O(alias)."
  - "B(Running and shut-off domains.) On a running domain a change goes to the live domain and to its
    persistent config; on a shut-off domain to the config. Link state (the web console's Plug/Unplug), the
    source of a V(network) or V(bridge) interface (another network or bridge, also between the two
    types), hotplug of a new interface and hot-unplug (O(state=absent)) are applied live. After a live move the
    guest is made to renew its address on the new network, see O(renew)."
  - Other changes (model, MAC, type, alias, boot order, passt settings, a macvtap turned into a bridge)
    cannot be made to a running domain. They are written to the config and returned in RV(pending) with
    RV(restart_required=true); with O(restart=true) the module shuts the domain down (destroying it after
    O(restart_timeout) seconds if the guest ignores the request) and starts it again.
  - A MAC only changes while the domain is shut off; on a running domain it is refused unless
    O(restart=true).
  - Changing the type edits the same interface, so MAC, guest PCI address and boot order are kept (for example when
    a macvtap connection is replaced by a bridge).
options:
  domain:
    description: Name of the virtual machine (libvirt domain).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the interface; V(absent) hot-unplugs it from the running domain and
        removes it from the config.
    type: str
    choices: [present, absent]
    default: present
  mac:
    description:
      - MAC address of the interface, for example V(52:54:00:12:34:56). Multicast MACs are refused.
      - Identifies the interface when O(alias) is not given. At least one of O(mac) and O(alias) is required.
    type: str
  alias:
    description:
      - libvirt user alias of the interface; must start with V(ua-), for example V(ua-frontend).
      - Identifies the interface; lets a task create an interface without a fixed MAC.
    type: str
  type:
    description:
      - The kind of connection. Required to create an interface; unset keeps the current one.
    type: str
    choices: [network, bridge, direct, user, hostdev]
  source:
    description:
      - What the interface connects to, by O(type) - V(network) the libvirt network name, V(bridge) the host
        bridge, V(direct) the host device macvtap uses, V(user) the host interface passt copies addresses and
        routes from (optional), V(hostdev) the host PCI address of the VF (like V(0000:03:10.2)).
      - Required to create an interface of any type but V(user).
    type: str
  mode:
    description: macvtap mode of a V(direct) interface (libvirt's default is V(vepa)).
    type: str
    choices: [vepa, bridge, private, passthrough]
  model:
    description:
      - Emulated NIC model, like V(virtio), V(e1000e) or V(rtl8139). A new interface gets V(virtio).
      - Not for V(hostdev).
    type: str
  link:
    description: Link state, V(down) unplugs the virtual cable (the guest sees its link go down).
    type: str
    choices: [up, down]
  boot_order:
    description:
      - Boot order of the interface (PXE boot), V(1) boots from it first. An order another device of the domain already
        has is refused.
      - "libvirt does not allow a per-device boot order together with the boot list C(<os><boot dev=...>), and it
        writes C(<boot dev='hd'/>) into every domain defined without any boot element. On a domain that boots by that
        list, the module converts the domain to per-device boot orders in the same define - it removes the
        C(<os><boot>) elements, gives this interface O(boot_order), and gives the devices the old list named, in the
        old sequence, the lowest orders still free: V(hd) the disks (C(device='disk')), V(cdrom) the CD-ROMs,
        V(network) the other interfaces, V(fd) the floppies, each kind in the order of the domain XML; a kind without
        a device is skipped. So O(boot_order=1) on a VM with C(<boot dev='hd'/>) gives the interface order 1 and its
        disks 2, 3, ... The action summary and a warning say what the list was converted to, and RV(interface.boot)
        shows the domain's boot configuration before (diff) and after."
      - Like any boot order change this is a config change, it counts from the next start of the domain; on a running
        domain it is returned in RV(pending) (or applied with O(restart=true)). A transient domain has no config in
        which to convert its boot list, and is refused.
      - On a domain that boots a kernel directly (C(<os><kernel>)) the order is written, but QEMU starts that kernel
        before any boot device, so it only takes effect once the kernel is removed; the module warns about it on every
        run instead of refusing.
    type: int
  port_forwards:
    description:
      - Port forwards from the host into the guest (O(type=user) only, passt). When given, the complete list.
    type: list
    elements: dict
    suboptions:
      proto:
        description: Protocol.
        type: str
        required: true
        choices: [tcp, udp]
      address:
        description: Only forward traffic for this host address.
        type: str
      dev:
        description: Only forward traffic arriving on this host interface.
        type: str
      ranges:
        description: Port ranges; at least one that is not excluded.
        type: list
        elements: dict
        required: true
        suboptions:
          start:
            description: First host port.
            type: int
            required: true
          end:
            description: Last host port (default O(port_forwards[].ranges[].start)).
            type: int
          to:
            description: Guest port the first host port goes to (default the same port).
            type: int
          exclude:
            description: Do not forward this range; it must lie inside a forwarded range of the same entry.
            type: bool
            default: false
  ips:
    description:
      - Addresses passt gives the guest (O(type=user) only), at most one IPv4 and one IPv6, like V(192.0.2.1/24).
        When given, the complete list; unset copies the host's.
    type: list
    elements: str
  vlan:
    description: VLAN tag set on the VF (O(type=hostdev) only).
    type: int
  managed:
    description: Let libvirt bind the VF to vfio and back (O(type=hostdev) only; default V(true) for a new one).
    type: bool
  restart:
    description:
      - Allow shutting the domain down and starting it again when a change cannot be made to the running
        domain (and for a hotplug into a domain without ACPI).
      - "Refused, before any change and in check mode too, when the domain's config names an existing host interface
        as the C(<target dev>) of one of its NICs (a hand-edited config; the module never sets one): libvirt would
        fail to start the domain again, and a failed start removes the interface by that name."
    type: bool
    default: false
  restart_timeout:
    description: Seconds the guest gets to shut down before the domain is destroyed (with O(restart=true)).
    type: int
    default: 60
  renew:
    description:
      - "What makes the guest take an address on its new network after a running interface was moved live to another
        network or bridge (O(source), or O(type) between V(network) and V(bridge)). libvirt moves the host side of the
        NIC, but the guest notices nothing and keeps the address (and DHCP lease) of the old network, which is useless
        on the new one. Configuring virtual machine network connections, 15.9 makes the change on a shut-down VM,
        starts it and then has the guest take its address on the new network."
      - V(link_bounce) sets the link of the running interface down, waits O(renew_down_time) seconds and sets it up
        again (the web console's Unplug and Plug), so the guest's DHCP client sees its carrier come back and asks the
        new network for a lease. The domain keeps running.
      - V(restart) shuts the domain down and starts it again instead (with O(restart_timeout)); it needs
        O(restart=true).
      - V(none) only moves the interface; the guest keeps its old address until it renews by itself.
      - Nothing is done when the interface did not move, when the domain is shut off, or when the task sets
        O(link=down). RV(renewed) and RV(actions) say what was done (predicted in check mode).
    type: str
    choices: [link_bounce, restart, none]
    default: link_bounce
  renew_down_time:
    description:
      - Seconds the link stays down during a V(link_bounce) (1 to 300).
      - The default is longer than the few seconds NetworkManager in a guest ignores a lost carrier for, so a
        guest managed by NetworkManager really restarts DHCP; a guest whose DHCP client reacts to every carrier
        change (like busybox C(udhcpc) driven by link events) needs less.
    type: int
    default: 8
notes:
  - Hotplug on a C(pc) (i440fx) machine needs C(<features><acpi/></features>) in the domain; without it the module
    fails and says so (or, with O(restart=true), adds the interface to the config and restarts).
  - The guest PCI address is kept across every edit but is not returned in RV(interface), since libvirt picks it
    for a new interface; M(virtnet.networking.virt_iface_info) returns it.
  - For O(type=bridge) and O(type=direct), the host interface is only checked when O(uri) is local.
seealso:
  - module: virtnet.networking.virt_iface_info
    description: Read the interfaces of the VMs with their host devices and addresses (the C(virsh domiflist) check).
  - module: virtnet.networking.virt_network
    description: The libvirt network an interface of type V(network) connects to.
  - module: virtnet.networking.nm_bond_bridge
    description: The host bridge an interface of type V(bridge) connects to.
  - module: virtnet.networking.sriov_vf
    description: Create the SR-IOV VFs an interface of type V(hostdev) uses.
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
- name: Add a NIC on the default network to a VM (hot-plugged when it runs); the MAC is picked once
  virtnet.networking.virt_iface:
    domain: web1
    alias: ua-frontend
    type: network
    source: default

- name: Unplug it (the web console's Unplug); the guest sees its link go down
  virtnet.networking.virt_iface:
    domain: web1
    alias: ua-frontend
    link: down

- name: Make the VM visible on the LAN - move the NIC to the host bridge br0, live; its link is bounced so the guest
    takes a LAN address (renewed=link_bounce in the result)
  virtnet.networking.virt_iface:
    domain: web1
    alias: ua-frontend
    type: bridge
    source: br0
    link: up

- name: Move a NIC to another network and restart the VM instead of bouncing its link
  virtnet.networking.virt_iface:
    domain: web1
    alias: ua-frontend
    type: network
    source: lab
    renew: restart
    restart: true

- name: Replace a macvtap connection by the bridge br0; MAC, PCI address and boot order are kept
  virtnet.networking.virt_iface:
    domain: db1
    mac: "52:54:00:0a:0b:0c"
    type: bridge
    source: br0
    restart: true
    restart_timeout: 120

- name: Change a MAC (only while the VM is shut off)
  virtnet.networking.virt_iface:
    domain: db1
    alias: ua-backend
    mac: "52:54:00:0a:0b:0d"

- name: User-space connection with passt, host port 2022 to the guest's SSH
  virtnet.networking.virt_iface:
    domain: web1
    alias: ua-passt
    type: user
    port_forwards:
      - proto: tcp
        ranges: [{start: 2022, to: 22}]
      - proto: udp
        address: 198.51.100.4
        ranges:
          - {start: 5000, end: 5020, to: 6000}
          - {start: 5010, end: 5015, exclude: true}

- name: Boot from the network first (PXE)
  virtnet.networking.virt_iface:
    domain: pxe1
    mac: "52:54:00:00:02:10"
    type: network
    source: pxe
    boot_order: 1

# A VM created without any boot setting has <os><boot dev='hd'/>; the task
# converts it: the NIC gets boot order 1, the disks 2, 3, ... and the
# <os><boot> element goes (see the warning and pxe_first.interface.boot).
# The VM boots through PXE from its next start, here at once since restart
# is allowed.
- name: Boot a VM from the network first, converting its boot list
  virtnet.networking.virt_iface:
    domain: web1
    alias: ua-frontend
    boot_order: 1
    restart: true
  register: pxe_first

- name: Remove the NIC (hot-unplugged and gone from the config)
  virtnet.networking.virt_iface:
    domain: web1
    alias: ua-frontend
    state: absent
"""

RETURN = r"""
interface:
  description:
    - The interface after the run (predicted in check mode), normalized; empty when absent.
    - C(config) is the persistent definition, C(live) the running domain's (null when shut off).
  returned: always
  type: dict
  contains:
    domain: {description: Domain name., type: str, returned: success}
    running: {description: Whether the domain runs., type: bool, returned: success}
    persistent: {description: Whether the domain has a config., type: bool, returned: success}
    config:
      description: The interface in the persistent definition (null for a transient domain).
      type: dict
      returned: success
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
    live:
      description: The interface of the running domain (null when shut off).
      type: dict
      returned: success
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
    boot:
      description:
        - The boot configuration of the domain's config, C(os) its C(<os><boot dev>) list (like V([hd])), C(devices)
          the per-device boot orders by device (like V(interface 52:54:00:3f:a1:07), V(disk vda), V(cdrom sda)).
        - The two are never both set; see O(boot_order) for the conversion.
      type: dict
      returned: success
      contains:
        os: {description: "The C(<os><boot dev>) list.", type: list, elements: str, returned: always}
        devices:
          description: Device (like V(disk vda)) to its boot order (an integer).
          type: dict
          returned: always
      sample: {os: [], devices: {"interface 52:54:00:3f:a1:07": 1, "disk vda": 2}}
  sample:
    domain: web1
    running: true
    persistent: true
    config: {type: network, source: default, mac: "52:54:00:3f:a1:07", model: virtio, link: up, alias: ua-frontend,
             boot_order: null}
    live: {type: network, source: default, mac: "52:54:00:3f:a1:07", model: virtio, link: up, alias: ua-frontend,
           boot_order: null}
    boot: {os: [hd], devices: {}}
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
  description: The running domain runs an older definition of the interface; a restart (O(restart=true)) applies it.
  returned: always
  type: bool
pending:
  description: Fields that differ between the running interface and the config.
  returned: when RV(restart_required)
  type: list
  elements: str
restarted:
  description: How the domain was restarted (shut down by the guest, or destroyed after the timeout).
  returned: when the domain was restarted
  type: str
renewed:
  description:
    - How the guest is made to renew its address after its running interface was moved live (see O(renew)) -
      V(link_bounce) (link set down and up), V(restart) (the domain was restarted, for O(renew=restart) or because
      another change of the task needed it with O(restart=true)) or V(none) (nothing was done, the guest keeps its old
      address; also when O(link=down)).
    - Predicted in check mode.
  returned: when the running interface is moved to another network or bridge
  type: str
  sample: link_bounce
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.iface.spec import CONSTRAINTS, argument_spec
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run
from ansible_collections.virtnet.networking.plugins.module_utils.iface.engine import IfaceEngine
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import require_libvirt


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **CONSTRAINTS)
    require_libvirt(module)
    require_libs(module)
    run(module, IfaceEngine(module))


if __name__ == "__main__":
    main()
