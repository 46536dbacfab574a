"""sriov_vf refuses bad input before anything is written: each case asserts
the exact message a user reads, and that the fake kernel tree (every path,
link, mode and content), the VMs' XML and grubby's boot entries are as
they were."""

import os

import pytest

from test_sriov_engine import Host

PRE_2VFS_VM1 = "2 VFs, VF 0 used by vm1"


def _setup(host, how):
    if how == PRE_2VFS_VM1:
        host.converge(pf="eth1", num_vfs=2)
        host.lv.doms["vm1"].add_hostdev_iface("0000:00:13.0", "52:54:00:00:01:01")
    elif how == "both used":
        host.converge(pf="eth1", num_vfs=2)
        host.lv.doms["vm1"].add_hostdev_iface("0000:00:13.0", "52:54:00:00:01:01")
        host.lv.doms["vm2"].add_hostdev_iface("0000:00:13.1", "52:54:00:00:01:02")
    elif how == "no grubby":
        os.unlink(host.grubby["bin"])


CASES = [
    # (id, host kwargs, setup, params, expected message)
    ("unknown PF", {}, None, dict(pf="eth9", num_vfs=2),
     "pf='eth9': no such network interface on the host"),
    ("bad PF name", {}, None, dict(pf="eth1/../x", num_vfs=2),
     "pf='eth1/../x': not a valid interface name (1-15 characters from letters, digits and _.:@+-)"),
    ("virtual PF", {}, None, dict(pf="br0", num_vfs=2),
     "pf='br0': is not a PCI device (a bridge, veth or other virtual interface); only a physical function can have VFs"),
    ("PF without SR-IOV", {}, None, dict(pf="eth0", num_vfs=2),
     "pf='eth0': does not support SR-IOV: its PCI device 0000:00:02.0 (driver e1000e) has no VFs "
     "(sriov_totalvfs missing)"),
    ("count above total", {}, None, dict(pf="eth1", num_vfs=8),
     "num_vfs=8: more than the 7 VFs eth1 supports (sriov_totalvfs)"),
    ("negative count", {}, None, dict(pf="eth1", num_vfs=-1),
     "num_vfs=-1: must be 0 or more (0 removes every VF)"),
    ("count with absent", {}, None, dict(pf="eth1", num_vfs=2, state="absent"),
     "num_vfs=2: cannot be combined with state=absent (which sets 0 VFs)"),
    ("zero timeout", {}, None, dict(pf="eth1", num_vfs=2, wait_timeout=0),
     "wait_timeout=0: must be more than 0 seconds"),
    ("VF in use", {}, PRE_2VFS_VM1, dict(pf="eth1", num_vfs=3),
     "num_vfs=3: changing the VF count of eth1 removes all its 2 VFs first (the kernel only changes it through 0), "
     "but VFs are assigned to VMs: vm1 (VF 0, 0000:00:13.0). Detach them first, or set detach_assigned=true"),
    ("VF in use, absent", {}, PRE_2VFS_VM1, dict(pf="eth1", state="absent"),
     "num_vfs=0: changing the VF count of eth1 removes all its 2 VFs first (the kernel only changes it through 0), "
     "but VFs are assigned to VMs: vm1 (VF 0, 0000:00:13.0). Detach them first, or set detach_assigned=true"),
    ("IOMMU off", {"iommu_groups": 0}, None, dict(pf="eth1", num_vfs=2),
     "the IOMMU is off (no IOMMU groups in /sys/kernel/iommu_groups) and the kernel command line lacks intel_iommu=on "
     'iommu=pt: VFs cannot be assigned to VMs. Fix (Configuring virtual machine network connections, 15.7.2): grubby --args="intel_iommu=on iommu=pt" '
     "--update-kernel=ALL, then reboot the host (and enable Intel VT-d in the firmware if it is off); or set "
     "enable_iommu=true to let the module run grubby (it returns reboot_required)"),
    ("IOMMU off, AMD", {"iommu_groups": 0, "cpu_vendor": "AuthenticAMD"}, None, dict(pf="eth1", attach={"vm": "vm1"}),
     "the IOMMU is off (no IOMMU groups in /sys/kernel/iommu_groups) and the kernel command line lacks iommu=pt: "
     'VFs cannot be assigned to VMs. Fix (Configuring virtual machine network connections, 15.7.2): grubby --args="iommu=pt" --update-kernel=ALL, then reboot '
     "the host (and enable AMD-Vi in the firmware if it is off); or set enable_iommu=true to let the module run "
     "grubby (it returns reboot_required)"),
    ("IOMMU off in firmware", {"iommu_groups": 0, "cmdline": "ro intel_iommu=on iommu=pt"}, None,
     dict(pf="eth1", num_vfs=2, enable_iommu=True),
     "the IOMMU is off (no IOMMU groups in /sys/kernel/iommu_groups) although the kernel command line has "
     "intel_iommu=on iommu=pt: enable VT-d in the firmware (BIOS/UEFI) and reboot; VFs cannot be assigned to VMs "
     "without it"),
    ("enable_iommu without grubby", {"iommu_groups": 0}, "no grubby", dict(pf="eth1", num_vfs=2, enable_iommu=True),
     "enable_iommu=true: the grubby command was not found on the host; add intel_iommu=on iommu=pt to the kernel "
     "command line with the boot loader's own tool and reboot"),
    ("bad MAC", {}, PRE_2VFS_VM1, dict(pf="eth1", attach={"vm": "vm2", "mac": "52:54:00:zz:00:01"}),
     "attach.mac='52:54:00:zz:00:01': not a MAC address (expected six hex pairs like 52:54:00:12:34:56)"),
    ("multicast MAC", {}, PRE_2VFS_VM1, dict(pf="eth1", attach={"vm": "vm2", "mac": "01:00:5e:00:00:01"}),
     "attach.mac='01:00:5e:00:00:01': is a multicast MAC address; an interface needs a unicast one"),
    ("unknown VM", {}, PRE_2VFS_VM1, dict(pf="eth1", attach={"vm": "nope"}),
     "attach.vm='nope': no such libvirt domain (VMs: vm1, vm2, vm3)"),
    ("bad VM name", {}, PRE_2VFS_VM1, dict(pf="eth1", attach={"vm": "a b"}),
     "attach.vm='a b': not a valid name (start with a letter or digit; then up to 63 of letters, digits and _.+-)"),
    ("VF index out of range", {}, PRE_2VFS_VM1, dict(pf="eth1", attach={"vm": "vm2", "vf": "5"}),
     "attach.vf=5: eth1 has 2 VFs (indexes 0-1)"),
    ("VF used by another VM", {}, PRE_2VFS_VM1, dict(pf="eth1", attach={"vm": "vm2", "vf": "0"}),
     "attach.vf=0: VF 0 (0000:00:13.0) of eth1 is already assigned to VM vm1"),
    ("VF not a PCI address", {}, PRE_2VFS_VM1, dict(pf="eth1", attach={"vm": "vm2", "vf": "zz:zz"}),
     "attach.vf='zz:zz': neither a VF index (0, 1, ...) nor a PCI address (like 0000:82:10.0)"),
    ("PCI address of another device", {}, PRE_2VFS_VM1, dict(pf="eth1", attach={"vm": "vm2", "vf": "0000:05:00.0"}),
     "attach.vf='0000:05:00.0': not a VF of eth1 (its VFs: 0000:00:13.0, 0000:00:13.1)"),
    ("PCI address while VFs are recreated", {}, None,
     dict(pf="eth1", num_vfs=2, attach={"vm": "vm2", "vf": "0000:00:13.0"}),
     "attach.vf='0000:00:13.0': this task recreates the VFs of eth1, so their PCI addresses are not known yet; name "
     "the VF by its index"),
    ("no free VF", {}, "both used", dict(pf="eth1", attach={"vm": "vm3"}),
     "attach: no free VF on eth1: all 2 are assigned (vm1 (VF 0, 0000:00:13.0), vm2 (VF 1, 0000:00:13.1))"),
    ("attach without VFs", {}, None, dict(pf="eth1", attach={"vm": "vm1"}),
     "attach: no free VF on eth1: it has no VFs; set num_vfs"),
    ("hot plug without VFIO", {"vfio": False}, PRE_2VFS_VM1, dict(pf="eth1", attach={"vm": "vm3"}),
     "attach.live=True: VM vm3 is running, but this host has no VFIO (/dev/vfio/vfio), so a VF cannot be hot-plugged; "
     "set attach.live=false to change only its persistent definition"),
    ("remote libvirt", {}, None, dict(pf="eth1", num_vfs=2, uri="qemu+ssh://root@hv2/system"),
     "uri='qemu+ssh://root@hv2/system': sriov_vf manages the VFs of the host it runs on, so it needs that host's own "
     "libvirt (a URI without a host name)"),
    ("attach while absent", {}, None, dict(pf="eth1", state="absent", attach={"vm": "vm1"}),
     "attach.state='present': cannot attach a VF while state=absent removes every VF"),
]


@pytest.mark.parametrize("host_kw,setup,params,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_and_nothing_written(tmp_path, host_kw, setup, params, message):
    host = Host(tmp_path, **host_kw)
    try:
        _setup(host, setup)
        writes = list(host.kernel.writes)
        before = host.kernel.listing(), host.lv.snapshot(), os.path.exists(host.grubby["state"])
        for check in (True, False):
            result = host.run(check=check, **params)
            assert result.get("failed"), result
            assert result["msg"] == message
        assert (host.kernel.listing(), host.lv.snapshot(), os.path.exists(host.grubby["state"])) == before
        assert host.kernel.writes == writes
        assert all(c == "--info=ALL" for c in host.grubby_calls())
    finally:
        host.kernel.stop()
