#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sriov_vf
short_description: SR-IOV virtual functions of a NIC, made persistent and attached to VMs
version_added: 0.1.0
description:
  - Sets the number of virtual functions (VFs) of an SR-IOV capable physical function (PF), named by its network
    interface, writes the udev rule that recreates them at boot, and attaches a VF to a VM as
    C(<interface type='hostdev' managed='yes'>) with a MAC address (RHEL's "Managing SR-IOV networking devices").
  - The kernel changes a non-zero VF count only through 0, so a change goes from the current count to 0 and then to
    O(num_vfs), and waits until the new VFs appear. All VFs of the PF are removed on the way, so the module refuses
    when any VF is assigned to a VM and names the VMs, unless O(detach_assigned=true) detaches them first.
  - Before anything is written it checks that the PF exists and supports SR-IOV, that O(num_vfs) is not above its
    C(sriov_totalvfs), and, when VFs are created or attached, that the IOMMU is on (IOMMU groups exist). When the IOMMU
    is off the error gives the fix (C(grubby --args="intel_iommu=on iommu=pt" --update-kernel=ALL) on Intel,
    C(iommu=pt) on AMD and ARM, then a reboot); O(enable_iommu=true) runs it and returns RV(reboot_required=true).
  - The persistence rule is the one of RHEL 10 I(Configuring virtual machine network connections), 15.7.2,
    C(ACTION=="add", SUBSYSTEM=="net", ENV{ID_NET_DRIVER}=="<driver>",
    ATTR{device/sriov_numvfs}="<N>") in C(/etc/udev/rules.d/<pf>.rules) (mode 0644, written atomically; the module owns
    that file). It matches the driver, so it applies to every PF with that driver; the module warns when there are
    others, and repeats its warning for Broadcom BCM57810 (C(bnx2x)) adapters.
options:
  pf:
    description: Network interface name of the physical function, for example V(eth1).
    type: str
    required: true
  state:
    description:
      - V(present) sets O(num_vfs) (when given) and handles O(attach).
      - V(absent) removes every VF (count 0) and the udev rule.
    type: str
    choices: [present, absent]
    default: present
  num_vfs:
    description:
      - Number of VFs, 0 to the PF's C(sriov_totalvfs). Unset leaves the count (and the udev rule) as they are.
    type: int
  persistent:
    description:
      - Write the udev rule so the VFs come back at boot. V(false) removes the rule. Only used with O(num_vfs)
        or O(state=absent).
    type: bool
    default: true
  detach_assigned:
    description:
      - When the count changes and VFs of the PF are assigned to VMs, detach them (persistent config and running
        VM) first instead of refusing.
    type: bool
    default: false
  enable_iommu:
    description:
      - When the IOMMU is off, add the kernel arguments of Configuring virtual machine network connections, 15.7.2, to every boot entry with
        C(grubby --update-kernel=ALL --args=...) and return RV(reboot_required=true). Nothing else changes in that
        run; run the task again after the reboot.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the kernel to create or remove the VFs.
    type: int
    default: 30
  attach:
    description: Give one VF of this PF to a VM (or take it away with O(attach.state=absent)).
    type: dict
    suboptions:
      vm:
        description: Name of the libvirt domain.
        type: str
        required: true
      vf:
        description:
          - The VF, by index on the PF (V(0), V(1), ...) or by PCI address (V(0000:82:10.0)).
          - Unset picks the VF this VM already has from this PF, or else the first VF no VM uses.
        type: str
      mac:
        description:
          - MAC address of the VM's interface. Unset keeps the current one, or for a new attachment uses a MAC in
            libvirt's 52:54:00 range derived from the VM, PF and VF (the same on every run).
        type: str
      live:
        description:
          - Also attach to the running VM (hot plug). This needs real SR-IOV hardware with VFIO; a shut-off VM only
            gets the persistent definition.
        type: bool
        default: true
      state:
        description: V(present) attaches the VF, V(absent) detaches the VM's VF(s) of this PF (the named one only, when given).
        type: str
        choices: [present, absent]
        default: present
  sysfs_root:
    description:
      - For testing only. A directory used instead of C(/) for C(/sys), C(/proc) and C(/etc/udev/rules.d). It must
        contain a file named C(.virtnet-fake-sysfs), so a real host's files can never be mixed with another tree.
    type: path
    default: /
notes:
  - The module runs on the hypervisor whose PF it manages; O(uri) must reach the libvirt daemon of that same host.
  - Live attach (hot plug) and starting a VM with a VF need the IOMMU and VFIO on real hardware. Without
    C(/dev/vfio/vfio), or when the PF (or the named VF) is in no IOMMU group (no C(iommu_group) link in sysfs), the
    module refuses a hot plug into a running VM before changing anything, in check mode too, also when the same task
    changes O(num_vfs) (libvirt would refuse it with "host doesn't support passthrough of host PCI devices");
    O(attach.live=false) changes only the definition. A transient VM (running, not defined) has no definition to
    change, so it is refused too. A VF can be attached to a shut-off VM's definition on any host; libvirt checks the
    device only when the VM starts.
  - If a step fails after something was changed (libvirt refusing the attach for a reason that cannot be known in
    advance, VFs that do not appear within O(wait_timeout), a failed verification), the module undoes this run's
    changes, newest first (the attach, the udev rule, restored byte for byte with its mode, or removed when the run
    created it, the VF count, set back through 0 as the kernel requires, and VFs it detached from VMs, attached
    again). The failure says what was undone in C(rolled_back), as M(virtnet.networking.virt_network) does.
  - A change of the count removes and recreates all VFs, so their MAC settings on the host side are lost; VMs keep
    their MAC in the C(<interface type='hostdev'>) definition (which is why
    I(Configuring virtual machine network connections), 15.7.2, uses it rather than C(<hostdev>)).
seealso:
  - module: virtnet.networking.sriov_vf_info
    description: Read the SR-IOV devices, their VFs, the VMs using each, and the IOMMU state.
  - module: virtnet.networking.virt_iface
    description: Change or remove a VM interface, including one of type V(hostdev).
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
- name: Two VFs on eth1, also at boot
  virtnet.networking.sriov_vf:
    pf: eth1
    num_vfs: 2

- name: Give a free VF of eth1 to the VM web with a fixed MAC (live and persistent)
  virtnet.networking.sriov_vf:
    pf: eth1
    attach:
      vm: web
      mac: "52:54:00:00:01:01"

- name: Four VFs instead, detaching the VMs that use the current ones first
  virtnet.networking.sriov_vf:
    pf: eth1
    num_vfs: 4
    detach_assigned: true

- name: Turn the IOMMU on (reboot afterwards)
  virtnet.networking.sriov_vf:
    pf: eth1
    num_vfs: 2
    enable_iommu: true
  register: sriov

- name: Remove every VF of eth1 and the udev rule
  virtnet.networking.sriov_vf:
    pf: eth1
    state: absent
"""

RETURN = r"""
sriov:
  description:
    - The PF after the run (predicted in check mode), normalized.
  returned: always
  type: dict
  contains:
    pf: {description: Interface name of the PF., type: str, returned: always}
    pci: {description: PCI address of the PF., type: str, returned: always}
    driver: {description: Kernel driver of the PF., type: str, returned: always}
    totalvfs: {description: The most VFs the device supports (C(sriov_totalvfs))., type: int, returned: always}
    numvfs: {description: Number of VFs (C(sriov_numvfs))., type: int, returned: always}
    udev_rule: {description: "Content of the udev rule that recreates the VFs at boot (null when none).", type: str, returned: always}
    assigned:
      description: The VM interfaces that use its VFs, by VF index.
      type: list
      elements: dict
      returned: always
      contains:
        vf: {description: VF index., type: int, returned: always}
        vm: {description: Domain name., type: str, returned: always}
        mac: {description: MAC address of the VM interface., type: str, returned: always}
        config: {description: Whether the domain's config has it., type: bool, returned: always}
        live: {description: Whether the running domain has it., type: bool, returned: always}
    iommu:
      description: The IOMMU of the host.
      type: dict
      returned: always
      contains:
        groups: {description: Whether the IOMMU is on (IOMMU groups exist)., type: bool, returned: always}
        boot_args:
          description:
            - Whether every boot entry has the kernel arguments of I(Configuring virtual machine network
              connections), 15.7.2 (null when not read).
          type: bool
          returned: always
  sample:
    pf: eth1
    pci: "0000:82:00.0"
    driver: ixgbe
    totalvfs: 7
    numvfs: 2
    udev_rule: "# Managed by virtnet.networking.sriov_vf: 2 VFs on eth1 at boot (Configuring virtual machine network connections, 15.7.2).\nACTION==\"add\",
      SUBSYSTEM==\"net\", ENV{ID_NET_DRIVER}==\"ixgbe\", ATTR{device/sriov_numvfs}=\"2\"\n"
    assigned: [{vf: 0, vm: web, mac: "52:54:00:00:01:01", config: true, live: false}]
    iommu: {groups: true, boot_args: null}
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
  description: Something is pending until a reboot (see RV(pending)).
  returned: always
  type: bool
pending:
  description: What takes effect only after a reboot.
  returned: when RV(restart_required)
  type: list
  elements: str
reboot_required:
  description:
    - The IOMMU is off and the boot entries have (or, in check mode, would have) the kernel arguments that turn it on;
      reboot the host, then run the task again.
  returned: always
  type: bool
vfs:
  description:
    - The VFs of the PF as sysfs shows them at the end of the run (in check mode, before it), by index.
      M(virtnet.networking.sriov_vf_info) also returns the VMs using each.
  returned: always
  type: list
  elements: dict
  contains:
    index: {description: VF index., type: int, returned: always}
    pci: {description: PCI address of the VF., type: str, returned: always}
    netdev: {description: "Host interface name of the VF (null when it has none, as when given to a VM).", type: str, returned: always}
    mac: {description: MAC address of the VF., type: str, returned: always}
  sample: [{index: 0, pci: "0000:82:10.0", netdev: eth1v0, mac: "aa:bb:cc:00:00:01"}]
attached:
  description: The VF attached by this run, with its host PCI address.
  returned: when a VF was attached
  type: dict
  contains:
    vm: {description: Domain name., type: str, returned: always}
    vf: {description: VF index., type: int, returned: always}
    pci: {description: Host PCI address of the VF., type: str, returned: always}
    mac: {description: MAC address of the VM interface., type: str, returned: always}
  sample: {vm: web, vf: 0, pci: "0000:82:10.0", mac: "52:54:00:00:01:01"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.sriov.spec import CONSTRAINTS, argument_spec
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import require_libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.engine import SriovEngine


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **CONSTRAINTS)
    require_libvirt(module)
    require_libs(module)
    run(module, SriovEngine(module))


if __name__ == "__main__":
    main()
