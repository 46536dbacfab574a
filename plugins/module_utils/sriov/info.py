# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the sriov _info module returns: read only, never changes the host."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.sriov.engine import read_assignments
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import model as sm
from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.sysfs import Sysfs


def info(fs: FsRoot, lv: Libvirt, name: str | None = None) -> dict:
    if name is not None:
        # Up front, like sriov_vf: a name with a slash or '..' would
        # otherwise reach the file guard, whose refusal names neither pf nor
        # the value.
        name = v.ifname("pf", name)
    sysfs = Sysfs(fs)
    names = [name] if name else sysfs.netdevs()
    pfs = [pf for pf in (sysfs.pf(n) for n in names) if pf.totalvfs]
    pcis = {vf.pci for pf in pfs for vf in pf.vfs if vf.pci}
    _vms, assignments = read_assignments(lv, pcis) if pcis else ({}, [])
    out = []
    for pf in pfs:
        vfs = []
        for vf in pf.vfs:
            users = [a for a in assignments if a.pci == vf.pci]
            vfs.append({"index": vf.index, "pci": vf.pci, "netdev": vf.netdev, "mac": vf.mac, "driver": vf.driver,
                        "vms": [{"vm": a.vm, "mac": a.mac, "kind": a.kind, "config": a.config, "live": a.live}
                                for a in users]})
        path = sm.udev_rule_path(pf.name)
        out.append({"pf": pf.name, "pci": pf.pci, "driver": pf.driver, "totalvfs": pf.totalvfs,
                    "numvfs": pf.numvfs, "vfs": vfs, "udev_rule": fs.read(path),
                    "udev_rule_path": path if fs.exists(path) else None})
    vendor = sysfs.cpu_vendor()
    cmdline = sysfs.cmdline()
    return {"pfs": out, "iommu": {"groups": sysfs.iommu_groups(), "enabled": sysfs.iommu_groups() > 0,
                                  "cmdline": [a for a in cmdline if a.split("=")[0] in ("intel_iommu", "amd_iommu",
                                                                                        "iommu")],
                                  "recommended_args": list(sm.iommu_args(vendor)), "cpu_vendor": vendor,
                                  "vfio": sysfs.vfio()}}
