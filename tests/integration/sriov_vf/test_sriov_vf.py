"""sriov_vf / sriov_vf_info run as Ansible runs them (a separate process fed a
JSON argument file) against the sandbox's real libvirtd, with the fake
kernel tree (tests/fakesysfs.py) as the host's sysfs: this machine has no
SR-IOV hardware, no netdevsim and no VFIO.  The module writes
``sriov_numvfs`` in its own process; the fake kernel's watcher thread here
creates and removes the VFs, so the module's waiting is real too.

What is real: the domain XML libvirt stores for an
``<interface type='hostdev' managed='yes'>`` attached to a shut-off guest's
persistent definition, the detach, and libvirt's answer when such a guest
starts on a host without VFIO (the reason live attach is hardware-only).
"""

from __future__ import annotations

import os
import stat
import time

import pytest
from lxml import etree

from fakesysfs import FakeKernel, fake_grubby
from virtnet_testlib import converge, run_module

VM = "sriovvm1"
VM2 = "sriovvm2"


@pytest.fixture(scope="module")
def sb(sandbox):
    # The session's sandbox (VIRTNET_SANDBOX_NAME picks a running one).
    return sandbox


@pytest.fixture
def kernel(tmp_path):
    k = FakeKernel(tmp_path / "root")
    k.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    k.add_pf("eth0", driver="e1000e", total=None, slot=2)
    k.delay = 0.3            # VFs appear a moment after the write, as on hardware
    k.watch()
    yield k
    k.stop()


@pytest.fixture
def guests(sb, tmp_path):
    """Two defined, never started guests (persistent config only)."""
    for name in (VM, VM2):
        path = tmp_path / ("%s.xml" % name)
        path.write_text(sb.guest_xml(name, []))
        sb.virsh("define", str(path))
    yield (VM, VM2)
    for name in (VM, VM2):
        sb.virsh("destroy", name, check=False)
        sb.virsh("undefine", name, check=False)


def args(sb, kernel, **kw):
    return dict(kw, uri=sb.uri, sysfs_root=kernel.root)


def hostdev_ifaces(sb, vm):
    root = etree.fromstring(sb.virsh("dumpxml", "--inactive", vm).stdout.encode())
    return root.findall("devices/interface[@type='hostdev']")


def test_vfs_attach_to_a_shut_off_guest_and_detach(sb, kernel, guests):
    t0 = time.monotonic()
    check, applied, again = converge("sriov_vf", args(sb, kernel, pf="eth1", num_vfs=2,
                                                      attach={"vm": VM, "mac": "52:54:00:00:01:01"}))
    took = time.monotonic() - t0
    assert [a["kind"] for a in applied["actions"]] == ["numvfs", "udev", "attach"]
    assert applied["attached"] == {"vm": VM, "vf": 0, "pci": "0000:00:13.0", "mac": "52:54:00:00:01:01"}
    assert [v for p, v in kernel.writes] == ["2"]
    rule = kernel.p("etc/udev/rules.d/eth1.rules")
    assert open(rule).read().splitlines()[1] == \
        'ACTION=="add", SUBSYSTEM=="net", ENV{ID_NET_DRIVER}=="ixgbe", ATTR{device/sriov_numvfs}="2"'
    assert stat.S_IMODE(os.stat(rule).st_mode) == 0o644
    # What libvirt stored in the persistent definition:
    ifaces = hostdev_ifaces(sb, VM)
    assert len(ifaces) == 1
    el = ifaces[0]
    assert el.get("managed") == "yes" and el.find("mac").get("address") == "52:54:00:00:01:01"
    assert dict(el.find("source/address").attrib) == {"type": "pci", "domain": "0x0000", "bus": "0x00",
                                                      "slot": "0x13", "function": "0x0"}
    # libvirt gave it a guest-side PCI slot; the module's second run did not see that as a change.
    assert el.find("address").get("type") == "pci"
    assert again["sriov"]["assigned"] == [{"vf": 0, "vm": VM, "mac": "52:54:00:00:01:01", "config": True,
                                           "live": False}]
    print("check+apply+again with 2 VFs and one attach: %.1f s" % took)

    info = run_module("sriov_vf_info", {"uri": sb.uri, "sysfs_root": kernel.root})
    assert not info.get("failed"), info
    vfs = info["pfs"][0]["vfs"]
    assert [(v["pci"], [u["vm"] for u in v["vms"]]) for v in vfs] == [("0000:00:13.0", [VM]), ("0000:00:13.1", [])]

    # A second guest gets the other VF (the first one is taken).
    _c, applied2, _a = converge("sriov_vf", args(sb, kernel, pf="eth1", attach={"vm": VM2}))
    assert applied2["attached"]["pci"] == "0000:00:13.1"

    # Changing the count would pull the VFs from under both guests: refused, naming them, nothing touched.
    before = sb.snapshot(), kernel.listing()
    refused = run_module("sriov_vf", args(sb, kernel, pf="eth1", num_vfs=4))
    assert refused["failed"] and "VFs are assigned to VMs: %s (VF 0, 0000:00:13.0), %s (VF 1, 0000:00:13.1)" \
        % (VM, VM2) in refused["msg"]
    assert (sb.snapshot(), kernel.listing()) == before

    # Detach one by hand through the module.
    _c, detached, _a = converge("sriov_vf", args(sb, kernel, pf="eth1", attach={"vm": VM, "state": "absent"}))
    assert [a["kind"] for a in detached["actions"]] == ["detach"] and hostdev_ifaces(sb, VM) == []

    # And the rest with detach_assigned while the count changes.
    _c, changed, _a = converge("sriov_vf", args(sb, kernel, pf="eth1", num_vfs=3, detach_assigned=True))
    assert [a["kind"] for a in changed["actions"]] == ["detach", "numvfs", "udev"]
    assert hostdev_ifaces(sb, VM2) == [] and changed["sriov"]["numvfs"] == 3


def test_a_guest_with_a_vf_does_not_start_without_vfio(sb, kernel, guests):
    """Measured: libvirt accepts the hostdev interface in a shut-off guest's
    definition (it checks the device only at start); starting it on this
    host fails, which is why live attach is documented as hardware-only."""
    applied = run_module("sriov_vf", args(sb, kernel, pf="eth1", num_vfs=1, attach={"vm": VM, "vf": "0"}))
    assert not applied.get("failed"), applied
    started = sb.virsh("start", VM, check=False)
    assert started.returncode != 0
    assert "passthrough" in started.stderr or "vfio" in started.stderr.lower(), started.stderr
    print("virsh start with a VF: %s" % started.stderr.strip())


def test_bad_inputs_leave_libvirt_and_sysfs_alone(sb, kernel, guests):
    ok = run_module("sriov_vf", args(sb, kernel, pf="eth1", num_vfs=2, attach={"vm": VM, "vf": "0"}))
    assert not ok.get("failed"), ok
    before = sb.snapshot(), kernel.listing()
    writes = list(kernel.writes)
    cases = [
        (dict(pf="eth9", num_vfs=1), "pf='eth9': no such network interface on the host"),
        (dict(pf="eth0", num_vfs=1), "pf='eth0': does not support SR-IOV"),
        (dict(pf="eth1", num_vfs=9), "num_vfs=9: more than the 7 VFs eth1 supports (sriov_totalvfs)"),
        (dict(pf="eth1", num_vfs=-2), "num_vfs=-2: must be 0 or more"),
        (dict(pf="eth1", num_vfs=3), "VFs are assigned to VMs: %s (VF 0, 0000:00:13.0)" % VM),
        (dict(pf="eth1", attach={"vm": "nosuchvm"}), "attach.vm='nosuchvm': no such libvirt domain"),
        (dict(pf="eth1", attach={"vm": VM2, "vf": "0"}), "is already assigned to VM %s" % VM),
        (dict(pf="eth1", attach={"vm": VM2, "mac": "52:54:00:00:01"}), "attach.mac='52:54:00:00:01': not a MAC"),
        (dict(pf="eth1", attach={"vm": VM2, "vf": "9"}), "attach.vf=9: eth1 has 2 VFs (indexes 0-1)"),
    ]
    for params, message in cases:
        for check in (True, False):
            result = run_module("sriov_vf", args(sb, kernel, **params), check=check)
            assert result.get("failed") and message in result["msg"], (params, result)
    assert (sb.snapshot(), kernel.listing()) == before
    assert kernel.writes == writes


def test_sysfs_root_must_be_a_marked_fake_tree(sb, tmp_path):
    result = run_module("sriov_vf", {"uri": sb.uri, "pf": "eth1", "num_vfs": 1, "sysfs_root": str(tmp_path)})
    assert result["failed"] and "is not a fake sysfs tree" in result["msg"]


@pytest.fixture
def running(sb):
    g = sb.start_guest("sriovrun", [], persistent=True)
    yield "sriovrun"
    g.destroy()


def test_running_guest_hot_plug_is_hardware_only(sb, tmp_path, running):
    """A running guest: without VFIO (this host) the module refuses a hot plug
    before writing anything; pretending VFIO exists, libvirt itself refuses
    (measured: the definition is left unchanged too); live=false puts the
    VF in the definition only."""
    novfio = FakeKernel(tmp_path / "novfio", vfio=False)
    novfio.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    novfio.watch()
    try:
        ok = run_module("sriov_vf", args(sb, novfio, pf="eth1", num_vfs=1))
        assert not ok.get("failed"), ok
        before = sb.snapshot(), novfio.listing()
        refused = run_module("sriov_vf", args(sb, novfio, pf="eth1", attach={"vm": running}))
        assert refused["failed"] and refused["msg"] == (
            "attach.live=True: VM sriovrun is running, but this host has no VFIO (/dev/vfio/vfio), so a VF cannot be "
            "hot-plugged; set attach.live=false to change only its persistent definition")
        assert (sb.snapshot(), novfio.listing()) == before

        _c, applied, _a = converge("sriov_vf", args(sb, novfio, pf="eth1",
                                                    attach={"vm": running, "live": False, "mac": "52:54:00:00:05:01"}))
        assert [a["kind"] for a in applied["actions"]] == ["attach"]
        assert len(hostdev_ifaces(sb, running)) == 1
        live = etree.fromstring(sb.virsh("dumpxml", running).stdout.encode())
        assert live.findall("devices/interface[@type='hostdev']") == []
        assert applied["sriov"]["assigned"] == [{"vf": 0, "vm": running, "mac": "52:54:00:00:05:01",
                                                 "config": True, "live": False}]
    finally:
        novfio.stop()

    pretend = FakeKernel(tmp_path / "pretend", vfio=True)
    pretend.add_pf("eth1", driver="ixgbe", total=7, slot=4)
    pretend.watch()
    try:
        ok = run_module("sriov_vf", args(sb, pretend, pf="eth1", num_vfs=1))
        assert not ok.get("failed"), ok
        before = sb.snapshot()
        result = run_module("sriov_vf", args(sb, pretend, pf="eth1", attach={"vm": running, "vf": "0"}))
        assert result["failed"] and "host doesn't support passthrough of host PCI devices" in result["msg"], result
        sent = etree.fromstring(result["xml"].encode())     # the failure carries the XML that was sent
        assert (sent.get("type"), sent.get("managed"), sent.find("source/address").get("slot")) == ("hostdev", "yes", "0x14")
        assert sb.snapshot() == before
    finally:
        pretend.stop()


def test_enable_iommu_runs_the_grubby_on_path_and_asks_for_a_reboot(sb, tmp_path):
    """The module process finds grubby through PATH like any tool; here a fake
    one that keeps the boot entry's arguments in a file."""
    k = FakeKernel(tmp_path / "root", iommu_groups=0)
    k.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    grubby = fake_grubby(tmp_path / "bin", tmp_path)
    env = {"PATH": "%s:%s" % (tmp_path / "bin", os.environ["PATH"])}
    before = k.listing()
    refused = run_module("sriov_vf", args(sb, k, pf="eth1", num_vfs=2), env=env)
    assert refused["failed"] and 'grubby --args="intel_iommu=on iommu=pt" --update-kernel=ALL' in refused["msg"]
    _c, applied, again = converge("sriov_vf", args(sb, k, pf="eth1", num_vfs=2, enable_iommu=True), env=env)
    assert [a["kind"] for a in applied["actions"]] == ["grubby"] and applied["reboot_required"] is True
    assert again["restart_required"] is True
    assert open(grubby["log"]).read().count("--update-kernel=ALL --args=intel_iommu=on iommu=pt") == 1
    assert open(grubby["state"]).read().split()[-2:] == ["intel_iommu=on", "iommu=pt"]
    assert k.listing() == before


def _kernel(tmp_path, name, **kw):
    iommu_group = kw.pop("iommu_group", True)
    k = FakeKernel(tmp_path / name, **kw)
    k.add_pf("eth1", driver="ixgbe", total=7, slot=3, iommu_group=iommu_group)
    k.delay = 0.3
    return k.watch()


@pytest.mark.parametrize("host, reason", [
    ({"vfio": False}, "this host has no VFIO (/dev/vfio/vfio)"),
    ({"iommu_group": False}, "the PF eth1 (0000:00:03.0) is in no IOMMU group"),
], ids=["no-vfio", "no-iommu-group"])
def test_live_attach_that_cannot_work_is_refused_before_the_count_changes(sb, tmp_path, running, host, reason):
    """Issue 12 item 5: the count, the udev rule and the attach in one task,
    into a running guest, on a host where passthrough cannot work.  Check
    mode and the real run refuse it, naming attach.live, and the sysfs tree,
    the udev rules directory and every domain's XML are as before."""
    k = _kernel(tmp_path, "root", **host)
    try:
        before = sb.snapshot(), k.listing()
        task = args(sb, k, pf="eth1", num_vfs=2, attach={"vm": running})
        for check in (True, False):
            refused = run_module("sriov_vf", task, check=check)
            assert refused.get("failed") and refused["msg"].startswith("attach.live=True: VM sriovrun is running, "), \
                (check, refused)
            assert reason in refused["msg"] and "set attach.live=false" in refused["msg"]
            assert "rolled_back" not in refused          # nothing was written, so nothing to undo
            time.sleep(0.2)                              # a write would have been seen by the watcher by now
            assert (sb.snapshot(), k.listing()) == before
        assert k.writes == []
        # What the message suggests works: the definition only.
        ok = run_module("sriov_vf", dict(task, attach={"vm": running, "live": False}))
        assert not ok.get("failed"), ok
        assert len(hostdev_ifaces(sb, running)) == 1
    finally:
        k.stop()


def test_a_failure_after_the_count_write_is_undone(sb, tmp_path, running, guests):
    """A failure nothing could predict (the fake tree says VFIO and IOMMU
    groups are there, the real libvirtd of this host refuses the hot plug) after
    the run detached a VM's VF, changed the count through 0 and rewrote the
    udev rule: all of it is undone, the report says what, and the sysfs tree,
    the rules directory and the domain XML are exactly as before."""
    k = _kernel(tmp_path, "root")
    try:
        ok = run_module("sriov_vf", args(sb, k, pf="eth1", num_vfs=2, attach={"vm": VM, "vf": "1",
                                                                             "mac": "52:54:00:00:06:01"}))
        assert not ok.get("failed"), ok
        rule = k.p("etc/udev/rules.d/eth1.rules")
        with open(rule, "a") as f:
            f.write("# the admin's note, kept\n")
        os.chmod(rule, 0o640)
        before = sb.snapshot(), k.listing()
        task = args(sb, k, pf="eth1", num_vfs=3, detach_assigned=True, attach={"vm": running})
        predicted = run_module("sriov_vf", task, check=True)
        assert not predicted.get("failed"), predicted
        assert [a["kind"] for a in predicted["actions"]] == ["detach", "numvfs", "udev", "attach"]
        writes = len(k.writes)
        failed = run_module("sriov_vf", task)
        assert failed.get("failed") and "host doesn't support passthrough of host PCI devices" in failed["msg"], failed
        assert failed["rolled_back"] == (
            "/etc/udev/rules.d/eth1.rules restored; sriov_numvfs of eth1 set back to 2 (through 0); "
            "0000:00:13.1 re-attached to the definition of VM %r" % VM)
        time.sleep(0.5)
        assert [v for _p, v in k.writes[writes:]] == ["0", "3", "0", "2"]   # the kernel saw the way there and back
        assert (sb.snapshot(), k.listing()) == before
        assert "attached" not in failed
    finally:
        k.stop()
