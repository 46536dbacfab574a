#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sriov_vf_info
short_description: Read SR-IOV physical functions, their VFs and the VMs using them
version_added: 0.1.0
description:
  - Returns every SR-IOV capable network interface (physical function) of the host, or the one named O(pf), with its driver,
    PCI address, C(sriov_totalvfs), C(sriov_numvfs), the udev rule of M(virtnet.networking.sriov_vf), and each VF with
    its PCI address, network interface, MAC and the libvirt VMs whose definition or running configuration uses it.
  - Also returns whether the IOMMU is on, and the kernel arguments Configuring virtual machine network connections, 15.7.2 gives for this CPU.
options:
  pf:
    description: Only this interface. An interface without SR-IOV (or an unknown one) returns an empty list.
    type: str
  sysfs_root:
    description:
      - For testing only. A directory used instead of C(/) for C(/sys), C(/proc) and C(/etc/udev/rules.d). It must
        contain a file named C(.virtnet-fake-sysfs).
    type: path
    default: /
seealso:
  - module: virtnet.networking.sriov_vf
    description: Create VFs, make them persistent, and attach one to a VM.
  - ref: ansible_collections.virtnet.networking.docsite.rhel_procedures
    description: Which task does each procedure of the RHEL chapters on virtual networking, and which shows its Verification step.
notes:
  - "It shows what I(Configuring virtual machine network connections), 15.7.2 checks with C(cat
    /sys/class/net/<pf>/device/sriov_totalvfs) and C(lspci | grep Ethernet) (RV(pfs[].totalvfs), RV(pfs[].vfs))."
requirements:
  - netaddr
extends_documentation_fragment:
  - virtnet.networking.libvirt
  - virtnet.networking.attributes.INFO
author:
  - virtnet.networking contributors (@virtnet)
"""

EXAMPLES = r"""
- name: All SR-IOV NICs of the host
  virtnet.networking.sriov_vf_info:
  register: sriov

- name: The VFs of eth1 no VM uses
  ansible.builtin.debug:
    msg: "{{ sriov.pfs | selectattr('pf', 'equalto', 'eth1') | map(attribute='vfs') | flatten
             | rejectattr('vms') | map(attribute='pci') | list }}"
"""

RETURN = r"""
pfs:
  description: One entry per SR-IOV capable interface, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    pf: {description: Interface name., type: str, returned: always}
    pci: {description: PCI address of the PF., type: str, returned: always}
    driver: {description: Kernel driver of the PF., type: str, returned: always}
    totalvfs: {description: The most VFs the device supports (C(sriov_totalvfs))., type: int, returned: always}
    numvfs: {description: Current number of VFs (C(sriov_numvfs))., type: int, returned: always}
    udev_rule: {description: Content of C(/etc/udev/rules.d/<pf>.rules) (null when absent)., type: str, returned: always}
    udev_rule_path: {description: Path of that file (null when absent)., type: str, returned: always}
    vfs:
      description: The VFs, by index.
      type: list
      elements: dict
      returned: always
      contains:
        index: {description: VF index., type: int, returned: always}
        pci: {description: PCI address of the VF., type: str, returned: always}
        netdev: {description: Host interface name of the VF (null when it has none)., type: str, returned: always}
        mac: {description: MAC address of the VF., type: str, returned: always}
        driver: {description: "Kernel driver bound to the VF (like V(ixgbevf), V(vfio-pci))", type: str, returned: always}
        vms:
          description: The VMs that use it.
          type: list
          elements: dict
          returned: always
          contains:
            vm: {description: Domain name., type: str, returned: always}
            mac: {description: MAC address of the VM interface., type: str, returned: always}
            kind: {description: "How it is given: V(interface) (C(<interface type='hostdev'>)) or V(hostdev).", type: str, returned: always}
            config: {description: Whether the domain's config has it., type: bool, returned: always}
            live: {description: Whether the running domain has it., type: bool, returned: always}
  sample:
    - pf: eth1
      pci: "0000:82:00.0"
      driver: ixgbe
      totalvfs: 7
      numvfs: 2
      vfs:
        - {index: 0, pci: "0000:82:10.0", netdev: eth1v0, mac: "aa:bb:cc:00:00:01", driver: ixgbevf,
           vms: [{vm: web, mac: "52:54:00:00:01:01", kind: interface, config: true, live: true}]}
iommu:
  description: The IOMMU of the host.
  returned: always
  type: dict
  contains:
    enabled: {description: Whether IOMMU groups exist (the IOMMU is on)., type: bool, returned: always}
    groups: {description: How many IOMMU groups exist., type: int, returned: always}
    cmdline: {description: "The IOMMU arguments on the running kernel's command line.", type: list, elements: str, returned: always}
    recommended_args:
      description: Those of I(Configuring virtual machine network connections), 15.7.2, for this CPU.
      type: list
      elements: str
      returned: always
    cpu_vendor: {description: "CPU vendor as /proc/cpuinfo names it, like V(GenuineIntel) or V(AuthenticAMD) (null when unknown).", type: str, returned: always}
    vfio: {description: "Whether C(/dev/vfio/vfio) exists, so a VF can be given to a running VM.", type: bool, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtnet.networking.plugins.module_utils.argspec import libvirt_argspec
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run_info
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import require_libs
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt, require_libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.engine import open_root
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.info import info


def argument_spec() -> dict:
    return libvirt_argspec(pf={"type": "str"}, sysfs_root={"type": "path", "default": "/"})


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_libvirt(module)
    require_libs(module)
    with Libvirt(module.params["uri"]) as lv:
        run_info(module, lambda: info(open_root(module.params["sysfs_root"]), lv, module.params["pf"]))


if __name__ == "__main__":
    main()
