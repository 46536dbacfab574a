"""sysfs.py against the fake kernel: reading a PF and its VFs, the kernel's
answers to sriov_numvfs writes, and waiting for VFs that appear late."""

import errno
import os
import time

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.sysfs import Sysfs

from unit.fakes import FakeClock
from fakesysfs import FakeKernel


@pytest.fixture
def kernel(tmp_path):
    k = FakeKernel(tmp_path / "root")
    k.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    k.add_pf("eth0", driver="e1000e", total=None, slot=2)
    k.add_virtual("br0")
    yield k
    k.stop()


def sysfs(kernel):
    return Sysfs(FsRoot(kernel.root), kernel)


def test_reads_a_pf_like_the_seed_shows_it(kernel):
    s = sysfs(kernel)
    pf = s.pf("eth1")
    assert (pf.exists, pf.pci, pf.driver, pf.totalvfs, pf.numvfs, pf.vfs) == \
        (True, "0000:00:03.0", "ixgbe", 7, 0, [])
    assert os.path.realpath(kernel.p("sys/class/net/eth1")) == kernel.p("sys/devices/pci0000:00/0000:00:03.0/net/eth1")
    no_sriov = s.pf("eth0")
    assert no_sriov.exists and no_sriov.pci == "0000:00:02.0" and no_sriov.totalvfs is None
    bridge = s.pf("br0")
    assert bridge.exists and bridge.pci is None
    assert not s.pf("eth9").exists
    assert s.iommu_groups() == 6 and s.cpu_vendor() == "GenuineIntel" and "ro" in s.cmdline()


def test_vfs_appear_with_pci_address_netdev_and_mac(kernel):
    s = sysfs(kernel)
    s.set_numvfs("eth1", 3)
    pf = s.pf("eth1")
    assert pf.numvfs == 3
    assert [(v.index, v.pci, v.netdev, v.driver) for v in pf.vfs] == [
        (0, "0000:00:13.0", "eth1v0", "ixgbevf"), (1, "0000:00:13.1", "eth1v1", "ixgbevf"),
        (2, "0000:00:13.2", "eth1v2", "ixgbevf")]
    assert pf.vfs[0].mac == "00:00:00:00:00:00"
    assert "eth1v2" in s.netdevs()


def test_kernel_refuses_like_the_kernel(kernel):
    s = sysfs(kernel)
    s.set_numvfs("eth1", 2)
    with pytest.raises(VirtnetError) as exc:
        s.set_numvfs("eth1", 4)
    assert exc.value.details["errno"] == errno.EBUSY
    assert "only changes a non-zero VF count through 0" in exc.value.msg
    with pytest.raises(VirtnetError) as exc:
        s.set_numvfs("eth1", 8)
    assert exc.value.details["errno"] == errno.ERANGE
    assert s.pf("eth1").numvfs == 2 and len(s.pf("eth1").vfs) == 2
    s.set_numvfs("eth1", 0)
    assert s.pf("eth1").vfs == [] and not os.path.exists(kernel.p("sys/class/net/eth1v0"))


def test_wait_for_vfs_that_appear_late(kernel):
    kernel.delay = 0.4
    s = sysfs(kernel)
    t = time.monotonic()
    s.set_numvfs("eth1", 2)
    assert s.pf("eth1").vfs == []          # the write returned, the VFs are not there yet
    pf = s.wait_vfs("eth1", 2, timeout=5)
    waited = time.monotonic() - t
    assert len(pf.vfs) == 2 and 0.35 < waited < 3, waited


def test_wait_times_out_with_what_is_missing(kernel):
    kernel.delay = float("inf")          # a driver that never makes them
    clock = FakeClock()
    s = Sysfs(FsRoot(kernel.root), kernel, clock=clock, sleep=clock.sleep)
    s.set_numvfs("eth1", 2)
    with pytest.raises(VirtnetError) as exc:
        s.wait_vfs("eth1", 2, timeout=0.3)
    assert exc.value.msg == "eth1: the VFs did not appear within wait_timeout=0.3 s: 0 of 2 VFs present"
    assert 1000.3 <= clock.now < 1000.5   # waited out the timeout, on the injected clock


def test_a_vf_without_its_netdev_yet_is_waited_for(kernel):
    s = sysfs(kernel)
    s.set_numvfs("eth1", 1)
    os.unlink(kernel.p("sys/class/net/eth1v0"))
    vdir = os.path.realpath(kernel.p("sys/devices/pci0000:00/0000:00:03.0/virtfn0"))
    os.rename(os.path.join(vdir, "net"), os.path.join(vdir, "net.hidden"))
    with pytest.raises(VirtnetError) as exc:
        s.wait_vfs("eth1", 1, timeout=0.2)
    assert "VF(s) 0 have no network interface yet" in exc.value.msg


def test_watcher_plays_the_kernel_for_another_process(kernel):
    kernel.watch()
    with open(kernel.numvfs_path("eth1"), "w") as f:
        f.write("3\n")
    pf = sysfs(kernel).wait_vfs("eth1", 3, timeout=5)
    assert [v.netdev for v in pf.vfs] == ["eth1v0", "eth1v1", "eth1v2"]


def test_vfs_bound_to_vfio_or_no_driver_are_not_waited_for(tmp_path):
    for i, vf_driver in enumerate(("vfio-pci", None)):
        k = FakeKernel(tmp_path / str(i))
        k.add_pf("eth1", total=4, vf_driver=vf_driver)
        s = sysfs(k)
        s.set_numvfs("eth1", 2)
        pf = s.wait_vfs("eth1", 2, timeout=0.5)
        assert [(v.driver, v.netdev) for v in pf.vfs] == [(vf_driver, None)] * 2
