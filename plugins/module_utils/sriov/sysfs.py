# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and write the kernel's sysfs (and /proc) below an injectable root.

Reading is plain :class:`fsroot.FsRoot` access.  Every write to a kernel
attribute goes through one :meth:`SysfsWriter.write`, the only seam the
tests replace: plain files cannot react to a write the way the kernel does
(``sriov_numvfs`` answers EBUSY, VFs appear a moment later), so the unit
tests hand the engine a fake kernel object with the kernel's semantics.
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any, Callable

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
# The host state types live in the model; imported here under their old names.
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.model import PfInfo, VfInfo  # noqa: F401

CLASS_NET = "/sys/class/net"
IOMMU_GROUPS = "/sys/kernel/iommu_groups"
PROC_CMDLINE = "/proc/cmdline"
PROC_CPUINFO = "/proc/cpuinfo"
VFIO_DEV = "/dev/vfio/vfio"
NO_NETDEV_DRIVERS = ("vfio-pci", "pci-stub")


class SysfsWriter:
    """Writes one kernel attribute.  OSError (EBUSY, EINVAL, ...) is passed
    on untouched: only the caller knows what it means there."""

    def __init__(self, fs: FsRoot) -> None:
        self.fs = fs

    def write(self, path: str, value: str) -> None:
        self.fs.write(path, value)


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


class Sysfs:
    def __init__(self, fs: FsRoot, writer: Any = None, *, clock: Callable = time.monotonic,
                 sleep: Callable = time.sleep) -> None:
        self.fs = fs
        self.writer = writer or SysfsWriter(fs)
        self.clock = clock
        self.sleep = sleep

    # -- reading -----------------------------------------------------------
    def _basename_of_link(self, path: str) -> str | None:
        """The name a sysfs link points to (a PCI address, a driver), resolved
        fully, since a link like ``device`` may be relative (``../../../0000:82:00.0``)."""
        if not self.fs.islink(path):
            return None
        return os.path.basename(os.path.realpath(self.fs.path(path)))

    def netdevs(self) -> list:
        return self.fs.net_interfaces()

    def pf(self, name: str) -> PfInfo:
        base = "%s/%s" % (CLASS_NET, name)
        info = PfInfo(name=name)
        if not self.fs.exists(base):
            return info
        info.exists = True
        dev = base + "/device"
        if not self.fs.exists(dev):
            return info   # virtual interface (bridge, veth...): no PCI device behind it
        info.pci = self._basename_of_link(dev)
        info.driver = self._basename_of_link(dev + "/driver")
        info.iommu_group = self._basename_of_link(dev + "/iommu_group")
        info.totalvfs = _int(self.fs.read_value(dev + "/sriov_totalvfs"))
        if info.totalvfs is None:
            return info
        info.numvfs = _int(self.fs.read_value(dev + "/sriov_numvfs"))
        info.vfs = self.vfs(name)
        return info

    def vfs(self, pf: str) -> list:
        dev = "%s/%s/device" % (CLASS_NET, pf)
        out = []
        for entry in self.fs.listdir(dev):
            if not entry.startswith("virtfn") or not entry[6:].isdigit():
                continue
            vdev = "%s/%s" % (dev, entry)
            vf = VfInfo(index=int(entry[6:]), pci=self._basename_of_link(vdev),
                        driver=self._basename_of_link(vdev + "/driver"),
                        iommu_group=self._basename_of_link(vdev + "/iommu_group"))
            nets = self.fs.listdir(vdev + "/net")
            if nets:
                vf.netdev = nets[0]
                mac = self.fs.read_value("%s/net/%s/address" % (vdev, nets[0]))
                vf.mac = mac.lower() if mac else None
            out.append(vf)
        return sorted(out, key=lambda v: v.index)

    def iommu_groups(self) -> int:
        return len(self.fs.listdir(IOMMU_GROUPS))

    def cmdline(self) -> list:
        return (self.fs.read(PROC_CMDLINE, "") or "").split()

    def vfio(self) -> bool:
        """The VFIO container device libvirt needs to pass a PCI device to a running VM."""
        return self.fs.exists(VFIO_DEV)

    def cpu_vendor(self) -> str | None:
        for line in (self.fs.read(PROC_CPUINFO, "") or "").splitlines():
            key, _sep, value = line.partition(":")
            if key.strip() == "vendor_id":
                return value.strip()
        return None

    # -- writing -----------------------------------------------------------
    def set_numvfs(self, pf: str, count: int) -> None:
        """Write ``sriov_numvfs``.  The kernel refuses a non-zero count while
        another non-zero count is set (EBUSY), so the caller goes through 0;
        an EBUSY here means somebody else changed it in between."""
        path = "%s/%s/device/sriov_numvfs" % (CLASS_NET, pf)
        try:
            self.writer.write(path, "%d\n" % count)
        except OSError as err:
            hint = ""
            if err.errno == errno.EBUSY:
                hint = " (the kernel only changes a non-zero VF count through 0)"
            raise VirtnetError("writing %d to %s failed: %s%s" % (count, path, os.strerror(err.errno or 0) or err, hint),
                               path=path, errno=err.errno, value=count)

    def wait_vfs(self, pf: str, count: int, timeout: float) -> PfInfo:
        """Wait until the PF shows ``count`` VFs, each with its PCI device, and
        the netdev of every VF that has a network driver bound."""
        deadline = self.clock() + timeout
        while True:
            info = self.pf(pf)
            missing = _not_ready(info, count)
            if not missing:
                return info
            if self.clock() >= deadline:
                raise VirtnetError("%s: the VFs did not appear within wait_timeout=%s s: %s"
                                   % (pf, timeout, missing), pf=pf, expected=count,
                                   found=len(info.vfs))
            self.sleep(0.1)


def _not_ready(info: PfInfo, count: int) -> str:
    if info.numvfs != count:
        return "sriov_numvfs is %s" % info.numvfs
    if len(info.vfs) != count:
        return "%d of %d VFs present" % (len(info.vfs), count)
    # A VF bound to a network driver gets its interface a moment after the
    # PCI device; one bound to vfio-pci / pci-stub (or to nothing) never does.
    waiting = [v.index for v in info.vfs
               if v.pci is None or (v.driver and v.driver not in NO_NETDEV_DRIVERS and not v.netdev)]
    if waiting:
        return "VF(s) %s have no network interface yet" % ", ".join(str(i) for i in waiting)
    return ""
