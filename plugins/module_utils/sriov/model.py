# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``sriov_vf`` is asked for and what the host has, as dataclasses, and
the static validation of the task (before the host is read).

The host's VFs come from :mod:`sysfs` as :class:`PfInfo`; which VM
uses which VF comes from libvirt (:class:`Assignment`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as iface_model

UDEV_DIR = "/etc/udev/rules.d"
# Kernel arguments Configuring virtual machine network connections, 15.7.2 gives per CPU vendor ("grubby --args=...").
IOMMU_ARGS = {"GenuineIntel": ("intel_iommu=on", "iommu=pt"), "AuthenticAMD": ("iommu=pt",)}
IOMMU_ARGS_OTHER = ("iommu=pt",)   # ARM 64: the SMMU is on by default; pt for performance
# Drivers with a caveat in Configuring virtual machine network connections, 15.7.2, step 4.
UDEV_CAVEATS = {
    "bnx2x": "the udev rule that makes VFs persistent does not work correctly on Broadcom NetXtreme II BCM57810 "
             "adapters (driver bnx2x), and attaching their VFs to Windows VMs is not reliable; check the VF count "
             "after a reboot",
}


def norm_pci(value: str) -> str | None:
    """``0000:82:10.0`` / ``82:10.0`` -> ``0000:82:10.0``; None when not one
    (the parser is virt_iface's, so both modules read addresses alike)."""
    try:
        return iface_model.pci(value)
    except ValueError:
        return None


def iommu_args(vendor: str | None) -> tuple:
    return IOMMU_ARGS.get(vendor or "", IOMMU_ARGS_OTHER)


def udev_rule_path(pf: str) -> str:
    """The file of Configuring virtual machine network connections, 15.7.2: /etc/udev/rules.d/<interface>.rules."""
    return "%s/%s.rules" % (UDEV_DIR, pf)


def udev_rule(pf: str, driver: str, count: int) -> str:
    """The rule of Configuring virtual machine network connections, 15.7.2, with a header saying who owns the file."""
    return ("# Managed by virtnet.networking.sriov_vf: %d VFs on %s at boot (Configuring virtual machine network connections, 15.7.2).\n"
            'ACTION=="add", SUBSYSTEM=="net", ENV{ID_NET_DRIVER}=="%s", ATTR{device/sriov_numvfs}="%d"\n'
            % (count, pf, driver, count))


@dataclass
class VfInfo:
    index: int
    pci: str | None
    netdev: str | None = None
    mac: str | None = None
    driver: str | None = None
    iommu_group: str | None = None   # None: the IOMMU does not cover it, VFIO cannot pass it to a VM


@dataclass
class PfInfo:
    """A network interface as sysfs shows it; ``exists`` False when absent."""

    name: str
    exists: bool = False
    pci: str | None = None
    driver: str | None = None
    totalvfs: int | None = None     # None: the device has no SR-IOV capability
    numvfs: int | None = None
    vfs: list = field(default_factory=list)   # [VfInfo] sorted by index
    iommu_group: str | None = None

    @property
    def sriov(self) -> bool:
        return self.totalvfs is not None


@dataclass
class AttachWant:
    vm: str
    vf: int | None = None          # index on the PF
    pci: str | None = None         # or the VF's PCI address
    mac: str | None = None
    live: bool = True
    state: str = "present"


@dataclass
class Desired:
    pf: str
    state: str = "present"
    num_vfs: int | None = None     # None: the count is not managed
    persistent: bool = True
    detach_assigned: bool = False
    enable_iommu: bool = False
    wait_timeout: float = 30
    attach: AttachWant | None = None

    @property
    def count(self) -> int | None:
        return 0 if self.state == "absent" else self.num_vfs


@dataclass
class Assignment:
    """One VM device that uses a host PCI address (a VF, or any device)."""

    vm: str
    pci: str
    mac: str | None = None
    kind: str = "interface"        # interface (type='hostdev') or hostdev
    config: bool = False           # in the persistent definition
    live: bool = False             # in the running domain
    active: bool = False           # the VM runs
    xml: dict = field(default_factory=dict, repr=False, compare=False)   # {"config"/"live": element XML}

    def key(self) -> tuple:
        return (self.vm, self.pci)


@dataclass
class HostState:
    pf: PfInfo
    iommu_groups: int = 0
    cmdline: list = field(default_factory=list)
    cpu_vendor: str | None = None
    boot_args: list | None = None          # [[arg, ...] per boot entry] from grubby; None: no grubby
    rule: str | None = None                # udev rule file content
    rule_mode: int | None = None
    assignments: list = field(default_factory=list)   # [Assignment] of this PF's VFs (by PCI)
    vms: dict = field(default_factory=dict)           # {name: active}
    transient: set = field(default_factory=set)       # VMs without a persistent definition
    same_driver: list = field(default_factory=list)   # other PFs with the same driver
    vfio: bool = False                                # /dev/vfio/vfio: a VF can be given to a running VM

    def vf_index(self, pci: str) -> int | None:
        for vf in self.pf.vfs:
            if vf.pci == pci:
                return vf.index
        return None

    def users(self, pci: str) -> list:
        return sorted({a.vm for a in self.assignments if a.pci == pci})
