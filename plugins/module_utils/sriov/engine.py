# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of ``sriov_vf`` (reads sysfs, /proc, grubby and libvirt; applies
the plan) and the read side of ``sriov_vf_info``.

The XML of the VF given to a VM is virt_iface's
(:func:`iface_xml.hostdev_interface_xml`); the same parser reads which VM
holds which VF, so both modules see a hostdev interface alike.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree

from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as iface_model
from ansible_collections.virtnet.networking.plugins.module_utils.iface import xml as iface_xml
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import model as sm
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import validate as sval
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import plan as sp
from ansible_collections.virtnet.networking.plugins.module_utils.engine import Engine, Plan
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.host import is_local
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import (
    AFFECT_CONFIG, AFFECT_LIVE, DOMAIN_XML_INACTIVE, Libvirt,
)
from ansible_collections.virtnet.networking.plugins.module_utils.runner import CommandRunner
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.sysfs import Sysfs

FAKE_ROOT_MARKER = ".virtnet-fake-sysfs"


def open_root(path: str | None) -> FsRoot:
    """The host's root, or (for tests) a fake tree that says it is one."""
    if not path or os.path.abspath(path) == "/":
        return FsRoot("/")
    if not os.path.isfile(os.path.join(path, FAKE_ROOT_MARKER)):
        raise VirtnetError("sysfs_root=%r is not a fake sysfs tree (it has no %s file); this option is for tests "
                           "only" % (path, FAKE_ROOT_MARKER), sysfs_root=path)
    return FsRoot(path)


def domain_pci_devices(xml: str) -> list:
    """[(pci, mac, kind, element)] of the host PCI devices a domain uses:
    ``<interface type='hostdev'>`` (parsed by virt_iface's parser) and bare
    ``<hostdev mode='subsystem' type='pci'>``."""
    root = etree.fromstring(xml.encode())
    out = []
    for iface, el in iface_xml.interfaces(root):
        if iface.type == "hostdev" and iface.source:
            out.append((iface.source, iface.mac, "interface", el))
    for el in root.findall("devices/hostdev[@type='pci']"):
        addr = el.find("source/address")
        if addr is not None:
            out.append((iface_model.pci_from_attrs(dict(addr.attrib)), None, "hostdev", el))
    return out


def read_assignments(lv: Libvirt, pcis: set) -> tuple:
    """({vm: active}, [Assignment]) for the devices in ``pcis``."""
    vms: dict = {}
    found: dict = {}
    for dom in lv.domains():
        name = dom.name()
        active = bool(dom.isActive())
        vms[name] = active
        views = [("config", lv.call("reading VM %r" % name, dom.XMLDesc, DOMAIN_XML_INACTIVE))]
        if active:
            views.append(("live", lv.call("reading VM %r" % name, dom.XMLDesc, 0)))
        for view, xml in views:
            for pci, mac, kind, el in domain_pci_devices(xml):
                if pci not in pcis:
                    continue
                a = found.setdefault((name, pci), sm.Assignment(vm=name, pci=pci, mac=mac, kind=kind, active=active))
                setattr(a, view, True)
                a.xml[view] = etree.tostring(el, encoding="unicode")
                if view == "config":
                    a.mac, a.kind = mac, kind
    return vms, sorted(found.values(), key=lambda a: (a.vm, a.pci))


def parse_grubby_info(text: str) -> list:
    """``grubby --info=ALL`` -> [[kernel argument, ...] per boot entry]."""
    entries = []
    for line in text.splitlines():
        if line.startswith("args="):
            entries.append(line[len("args="):].strip().strip('"').split())
    return entries


class SriovEngine(Engine):
    result_key = "sriov"

    def __init__(self, module: Any, *, fs: FsRoot | None = None, writer: Any = None, lv: Libvirt | None = None,
                 clock: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        super().__init__(module)
        self._fs = fs
        self._writer = writer
        self._clock, self._sleep = clock, sleep     # injectable: the unit tests do not wait
        self._sysfs: Sysfs | None = None
        self.lv = lv or Libvirt(self.params["uri"])
        self._grubby: CommandRunner | None = None
        self._after: dict = {}

    @property
    def fs(self) -> FsRoot:
        # Opened on first use, inside engine.run, so a bad sysfs_root is a clean failure.
        if self._fs is None:
            self._fs = open_root(self.params.get("sysfs_root"))
        return self._fs

    @property
    def sysfs(self) -> Sysfs:
        if self._sysfs is None:
            self._sysfs = Sysfs(self.fs, self._writer, clock=self._clock, sleep=self._sleep)
        return self._sysfs

    @property
    def grubby(self) -> CommandRunner:
        if self._grubby is None:
            self._grubby = CommandRunner(self.module, "grubby", required=False)
        return self._grubby

    def want(self) -> sm.Desired:
        uri = self.params["uri"]
        if not is_local(uri):
            # The VFs are this host's PCI devices; a remote libvirt would
            # get VFs that do not exist there.
            raise ValidationError("uri", uri, "sriov_vf manages the VFs of the host it runs on, so it needs that "
                                              "host's own libvirt (a URI without a host name)")
        return sval.desired_from_params(self.params)

    def have(self) -> sm.HostState:
        name = self.params["pf"]
        pf = self.sysfs.pf(name)
        state = sm.HostState(pf=pf, iommu_groups=self.sysfs.iommu_groups(), cmdline=self.sysfs.cmdline(),
                             cpu_vendor=self.sysfs.cpu_vendor(), vfio=self.sysfs.vfio())
        if state.iommu_groups == 0 and self.grubby.available:
            # Only needed to enable the IOMMU; grubby is not run on a host that has it.
            state.boot_args = parse_grubby_info(self.grubby.run(["--info=ALL"]).out)
        path = sm.udev_rule_path(name)
        state.rule = self.fs.read(path)
        state.rule_mode = self.fs.mode(path)
        self.report["vfs"] = [{"index": vf.index, "pci": vf.pci, "netdev": vf.netdev, "mac": vf.mac}
                              for vf in pf.vfs]
        if pf.totalvfs:
            state.vms, state.assignments = read_assignments(self.lv, {vf.pci for vf in pf.vfs if vf.pci})
            state.transient = {dom.name() for dom in self.lv.domains() if not dom.isPersistent()}
            for other in self.sysfs.netdevs():
                if other != name and pf.driver:
                    o = self.sysfs.pf(other)
                    if o.totalvfs and o.driver == pf.driver:
                        state.same_driver.append(other)
        return state

    def plan(self, want: sm.Desired, have: sm.HostState) -> Plan:
        plan, self._after = sp.plan(want, have)
        # Only the IOMMU path leaves something pending: the kernel arguments
        # are (or would be) in the boot entries, the running kernel lacks them.
        self.report["reboot_required"] = bool(plan.pending)
        return plan

    def predict(self, want: Any, have: Any, plan: Any) -> dict:
        return self._after

    def export(self, state: Any) -> dict:
        return state if isinstance(state, dict) else sp.export(state)

    # Each _apply_<kind> records how to undo it in self.undo *before* it
    # writes, so a failure half-way through a step (0 written, the new count
    # refused) is undone too.  The plan already refused everything knowable
    # up front.
    def step_error(self, action: Any, err: Exception) -> VirtnetError:
        return VirtnetError("%s failed: %s: %s" % (action.summary, type(err).__name__, err))

    # -- steps ---------------------------------------------------------------------
    def _apply_grubby(self, action: Any) -> None:
        self.grubby.run(["--update-kernel=ALL", "--args=" + " ".join(action.payload)])

    def _domain(self, name: str) -> Any:
        dom = self.lv.domain(name)
        if dom is None:
            raise VirtnetError("VM %r vanished while the module ran" % name, vm=name)
        return dom

    def _apply_detach(self, action: Any) -> None:
        a = action.payload
        dom = self._domain(a.vm)
        xml = a.xml
        if a.live and dom.isActive():
            self.lv.call("detaching %s from the running VM %r" % (a.pci, a.vm), dom.detachDeviceFlags,
                         xml["live"], AFFECT_LIVE, xml=xml["live"])
            self.undo.record("the detach of %s from the running VM %r" % (a.pci, a.vm),
                             lambda: self._reattach(a, "live", AFFECT_LIVE))
        if a.config:
            self.lv.call("detaching %s from the definition of VM %r" % (a.pci, a.vm), dom.detachDeviceFlags,
                         xml["config"], AFFECT_CONFIG, xml=xml["config"])
            self.undo.record("the detach of %s from the definition of VM %r" % (a.pci, a.vm),
                             lambda: self._reattach(a, "config", AFFECT_CONFIG))

    def _reattach(self, a: sm.Assignment, view: str, flags: int) -> str:
        self.lv.call("re-attaching %s to VM %r" % (a.pci, a.vm), self._domain(a.vm).attachDeviceFlags,
                     a.xml[view], flags, xml=a.xml[view])
        return "%s re-attached to %s VM %r" % (a.pci, "the definition of" if view == "config" else "the running", a.vm)

    def _apply_numvfs(self, action: Any) -> None:
        old, new = action.payload
        pf = self.params["pf"]
        timeout = self.params.get("wait_timeout") or 30
        self.undo.record("the VF count of %s" % pf, lambda: self._restore_numvfs(pf, old, timeout))
        if old:
            self.sysfs.set_numvfs(pf, 0)
            self.sysfs.wait_vfs(pf, 0, timeout)
        if new:
            self.sysfs.set_numvfs(pf, new)
            self.sysfs.wait_vfs(pf, new, timeout)

    def _restore_numvfs(self, pf: str, old: int, timeout: float) -> str:
        now = self.sysfs.pf(pf).numvfs
        if now == old:
            return "sriov_numvfs of %s was still %d" % (pf, old)
        if now:
            self.sysfs.set_numvfs(pf, 0)       # the kernel's rule: a non-zero count changes only through 0
            self.sysfs.wait_vfs(pf, 0, timeout)
        if old:
            self.sysfs.set_numvfs(pf, old)
            self.sysfs.wait_vfs(pf, old, timeout)
        return "sriov_numvfs of %s set back to %d (through 0)" % (pf, old) if now and old else \
            "sriov_numvfs of %s set back to %d" % (pf, old)

    def _apply_udev(self, action: Any) -> None:
        path = sm.udev_rule_path(self.params["pf"])
        before, mode = self.fs.read(path), self.fs.mode(path)
        made_dir = not self.fs.exists(sm.UDEV_DIR)
        self.undo.record(path, lambda: self._restore_file(path, before, mode, made_dir))
        if action.payload is None:
            self.fs.remove(path)
        else:
            os.makedirs(self.fs.path(sm.UDEV_DIR), exist_ok=True)
            self.fs.write_atomic(path, action.payload, mode=0o644)

    def _restore_file(self, path: str, before: str | None, mode: int | None, made_dir: bool) -> str:
        if before is None:
            if self.fs.exists(path):
                self.fs.remove(path)
            if made_dir:
                os.rmdir(self.fs.path(sm.UDEV_DIR))
            return "%s removed again" % path
        self.fs.write_atomic(path, before, mode=mode if mode is not None else 0o644)
        return "%s restored" % path

    def _apply_attach(self, action: Any) -> None:
        att = action.payload
        pf = self.sysfs.pf(self.params["pf"])
        vf = next((x for x in pf.vfs if x.index == att["vf"]), None)
        if vf is None or vf.pci is None:
            raise VirtnetError("VF %d of %s does not exist" % (att["vf"], pf.name), pf=pf.name, vf=att["vf"])
        if att["live"] and vf.iommu_group is None:
            # A VF this run created: its group is known only now.
            raise VirtnetError("attach.live=True: VF %d (%s) of %s is in no IOMMU group, so VFIO cannot pass it to "
                               "the running VM %s; set attach.live=false to change only its persistent definition"
                               % (att["vf"], vf.pci, pf.name, att["vm"]), pf=pf.name, vf=att["vf"])
        _vms, users = read_assignments(self.lv, {vf.pci})
        others = sorted({u.vm for u in users if u.vm != att["vm"]})
        if others:
            raise VirtnetError("VF %d (%s) of %s is used by VM %s; not attached to %s"
                               % (att["vf"], vf.pci, pf.name, ", ".join(others), att["vm"]), vms=others)
        xml = iface_xml.hostdev_interface_xml(vf.pci, att["mac"])
        flags = (AFFECT_CONFIG if att["config"] else 0) | (AFFECT_LIVE if att["live"] else 0)
        dom = self._domain(att["vm"])
        self.lv.call("attaching VF %s to VM %r" % (vf.pci, att["vm"]), dom.attachDeviceFlags, xml, flags, xml=xml)
        self.undo.record("the attach of %s to VM %r" % (vf.pci, att["vm"]),
                         lambda: self._undo_attach(dom, att, vf.pci, xml, flags))
        self.report["attached"] = {"vm": att["vm"], "vf": att["vf"], "pci": vf.pci, "mac": att["mac"]}

    def _undo_attach(self, dom: Any, att: dict, pci: str, xml: str, flags: int) -> str:
        if flags & AFFECT_LIVE and not dom.isActive():
            flags &= ~AFFECT_LIVE
        self.lv.call("detaching %s from VM %r again" % (pci, att["vm"]), dom.detachDeviceFlags, xml, flags, xml=xml)
        self.report.pop("attached", None)
        return "%s detached from VM %r again" % (pci, att["vm"])

    def cleanup(self) -> None:
        self.lv.close()


# --------------------------------------------------------------------------
# sriov_vf_info
# --------------------------------------------------------------------------
