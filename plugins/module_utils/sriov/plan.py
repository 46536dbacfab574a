# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner of ``sriov_vf``: a pure function from (desired, host state) to
a :class:`engine.Plan` and the state it leads to.  Check mode and the real
run both call it, and every refusal happens here, before anything is
written.

Order of the actions (the order :class:`sriov.engine.SriovEngine` applies
them): ``grubby`` (IOMMU on at the next boot; nothing else then), ``detach``
(VFs out of VMs, only with ``detach_assigned``), ``numvfs`` (through 0, then
wait), ``udev`` (the persistence rule), ``attach``.
"""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.sriov import model as sm
from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.engine import CONFIG, NONE, REBOOT, RESTART, Plan
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError


def export(have: sm.HostState) -> dict:
    """The normalized view used for diff and return (no PCI address of a VF,
    which check mode cannot know before the kernel creates it)."""
    pf = have.pf
    out = {
        "pf": pf.name, "pci": pf.pci, "driver": pf.driver, "totalvfs": pf.totalvfs, "numvfs": pf.numvfs,
        "udev_rule": have.rule,
        "assigned": sorted(({"vf": have.vf_index(a.pci), "vm": a.vm, "mac": a.mac, "config": a.config, "live": a.live}
                            for a in have.assignments), key=lambda x: (x["vf"], x["vm"])),
        "iommu": {"groups": have.iommu_groups > 0, "boot_args": _boot_args_ok(have)},
    }
    return out


def _boot_args_ok(have: sm.HostState) -> bool | None:
    if have.boot_args is None:
        return None
    wanted = sm.iommu_args(have.cpu_vendor)
    return bool(have.boot_args) and all(all(a in entry for a in wanted) for entry in have.boot_args)


def check_pf(want: sm.Desired, have: sm.HostState) -> None:
    pf = have.pf
    if not pf.exists:
        raise ValidationError("pf", want.pf, "no such network interface on the host")
    if pf.pci is None:
        raise ValidationError("pf", want.pf, "is not a PCI device (a bridge, veth or other virtual interface); "
                                             "only a physical function can have VFs")
    if not pf.totalvfs:
        raise ValidationError("pf", want.pf, "does not support SR-IOV: its PCI device %s (driver %s) has no VFs "
                                             "(sriov_totalvfs %s)" % (pf.pci, pf.driver or "none",
                                                                      "missing" if pf.totalvfs is None else "is 0"))
    if want.count is not None and want.count > pf.totalvfs:
        raise ValidationError("num_vfs", want.count, "more than the %d VFs %s supports (sriov_totalvfs)"
                              % (pf.totalvfs, pf.name))


def iommu_fix(vendor: str | None) -> str:
    args = " ".join(sm.iommu_args(vendor))
    where = {"GenuineIntel": "Intel VT-d", "AuthenticAMD": "AMD-Vi"}.get(vendor or "", "the IOMMU (SMMU)")
    return ('grubby --args="%s" --update-kernel=ALL, then reboot the host (and enable %s in the firmware '
            'if it is off); or set enable_iommu=true to let the module run grubby (it returns reboot_required)'
            % (args, where))


def _describe(assignments: list, have: sm.HostState) -> str:
    return ", ".join("%s (VF %s, %s)" % (a.vm, have.vf_index(a.pci), a.pci)
                     for a in sorted(assignments, key=lambda a: (a.vm, a.pci)))


def plan(want: sm.Desired, have: sm.HostState) -> tuple:
    """-> (Plan, predicted export)."""
    check_pf(want, have)
    pf = have.pf
    p = Plan()
    after = export(have)
    count = want.count
    att = want.attach
    needs_iommu = bool(count) or bool(att and att.state == "present")
    if needs_iommu and have.iommu_groups == 0:
        _plan_iommu(want, have, p, after)
        return p, after
    if needs_iommu:
        missing = [a for a in sm.iommu_args(have.cpu_vendor) if a not in have.cmdline]
        if missing:
            p.warnings.append("the IOMMU is on, but the kernel command line lacks %s, which Configuring virtual machine "
                              "network connections, 15.7.2 sets for VF "
                              "assignment (grubby --args=\"%s\" --update-kernel=ALL)"
                              % (" ".join(missing), " ".join(sm.iommu_args(have.cpu_vendor))))

    change = count is not None and count != pf.numvfs
    remaining = list(have.assignments)
    if change and pf.numvfs:
        if have.assignments:
            if not want.detach_assigned:
                raise VirtnetError(
                    "num_vfs=%d: changing the VF count of %s removes all its %d VFs first (the kernel only changes it "
                    "through 0), but VFs are assigned to VMs: %s. Detach them first, or set detach_assigned=true"
                    % (count, pf.name, pf.numvfs, _describe(have.assignments, have)),
                    vms=sorted({a.vm for a in have.assignments}))
            for a in sorted(have.assignments, key=lambda a: (a.vm, a.pci)):
                _detach(p, a, have, after)
            remaining = []
    if change:
        if pf.numvfs and count:
            summary = "%s: %d -> 0 -> %d VFs (the kernel changes a non-zero count only through 0)" % (
                pf.name, pf.numvfs, count)
        else:
            summary = "%s: %d -> %d VFs" % (pf.name, pf.numvfs, count)
        p.add("numvfs", summary, RESTART if pf.numvfs else NONE, payload=(pf.numvfs, count))
        after["numvfs"] = count
    _plan_udev(want, have, p, after)
    if att is not None:
        _plan_attach(want, have, p, after, remaining, change)
    return p, after


def _plan_iommu(want: sm.Desired, have: sm.HostState, p: Plan, after: dict) -> None:
    wanted = sm.iommu_args(have.cpu_vendor)
    why = "the IOMMU is off (no IOMMU groups in /sys/kernel/iommu_groups)"
    if all(a in have.cmdline for a in wanted):
        raise VirtnetError("%s although the kernel command line has %s: enable %s in the firmware (BIOS/UEFI) "
                           "and reboot; VFs cannot be assigned to VMs without it"
                           % (why, " ".join(wanted), {"AuthenticAMD": "AMD-Vi"}.get(have.cpu_vendor or "", "VT-d")),
                           iommu_groups=0, cmdline=" ".join(have.cmdline))
    if not want.enable_iommu:
        raise VirtnetError("%s and the kernel command line lacks %s: VFs cannot be assigned to VMs. "
                           "Fix (Configuring virtual machine network connections, 15.7.2): %s"
                           % (why, " ".join(a for a in wanted if a not in have.cmdline), iommu_fix(have.cpu_vendor)),
                           iommu_groups=0, cmdline=" ".join(have.cmdline))
    if have.boot_args is None:
        raise VirtnetError("enable_iommu=true: the grubby command was not found on the host; add %s to the kernel "
                           "command line with the boot loader's own tool and reboot" % " ".join(wanted))
    if not _boot_args_ok(have):
        p.add("grubby", 'grubby --args="%s" --update-kernel=ALL (the IOMMU is on after the next reboot)'
              % " ".join(wanted), REBOOT, payload=list(wanted))
        after["iommu"]["boot_args"] = True
    p.pending.append("reboot the host to turn the IOMMU on, then run again: nothing about the VFs of %s was changed"
                     % have.pf.name)


def _detach(p: Plan, a: sm.Assignment, have: sm.HostState, after: dict) -> None:
    where = " and ".join(w for w, on in (("persistent config", a.config), ("running VM", a.live)) if on)
    p.add("detach", "detach VF %s (%s) from VM %s (%s)" % (have.vf_index(a.pci), a.pci, a.vm, where),
          RESTART if a.live else CONFIG, payload=a)
    idx = have.vf_index(a.pci)
    after["assigned"] = [x for x in after["assigned"] if (x["vf"], x["vm"]) != (idx, a.vm)]


def _plan_udev(want: sm.Desired, have: sm.HostState, p: Plan, after: dict) -> None:
    count = want.count
    if count is None:
        return
    path = sm.udev_rule_path(have.pf.name)
    if count == 0 or not want.persistent:
        if have.rule is not None:
            p.add("udev", "remove %s (no VFs at boot)" % path, CONFIG, payload=None)
            after["udev_rule"] = None
        return
    if not have.pf.driver:
        raise ValidationError("pf", want.pf, "no driver is bound to %s, so the udev rule (which matches the driver) "
                                             "cannot be written; set persistent=false" % have.pf.pci)
    content = sm.udev_rule(have.pf.name, have.pf.driver, count)
    if have.rule != content or have.rule_mode != 0o644:
        p.add("udev", "write %s: %d VFs at boot" % (path, count), CONFIG, payload=content)
        after["udev_rule"] = content
    caveat = sm.UDEV_CAVEATS.get(have.pf.driver)
    if caveat:
        p.warnings.append("%s: %s" % (have.pf.name, caveat))
    if have.same_driver:
        p.warnings.append("the udev rule matches the driver %s, so at boot it also sets %d VFs on %s"
                          % (have.pf.driver, count, ", ".join(have.same_driver)))


def _plan_attach(want: sm.Desired, have: sm.HostState, p: Plan, after: dict, remaining: list, change: bool) -> None:
    att = want.attach
    pf = have.pf
    n_after = want.count if want.count is not None else pf.numvfs
    mine = [a for a in remaining if a.vm == att.vm]
    if att.state == "absent":
        for a in mine:
            if _names(att, have, a.pci):
                _detach(p, a, have, after)
        return
    if att.vm not in have.vms:
        raise ValidationError("attach.vm", att.vm, "no such libvirt domain (VMs: %s)"
                              % (", ".join(sorted(have.vms)) or "none"))
    if change and att.pci is not None:
        raise ValidationError("attach.vf", att.pci, "this task recreates the VFs of %s, so their PCI addresses are "
                                                    "not known yet; name the VF by its index" % pf.name)
    used = {a.pci: a for a in remaining if a.vm != att.vm}
    pcis = {} if change else {vf.index: vf.pci for vf in pf.vfs}
    if att.vf is not None:
        idx = att.vf
        if idx >= n_after:
            raise ValidationError("attach.vf", idx, "%s has %d VFs%s (indexes 0-%d)" % (
                pf.name, n_after, " after this task" if change else "", n_after - 1) if n_after else
                "%s has no VFs; set num_vfs" % pf.name)
    elif att.pci is not None:
        idx = have.vf_index(att.pci)
        if idx is None:
            raise ValidationError("attach.vf", att.pci, "not a VF of %s (its VFs: %s)"
                                  % (pf.name, ", ".join(vf.pci for vf in pf.vfs) or "none"))
    else:
        own = [a for a in mine if att.mac is None or a.mac == att.mac]
        if own:
            idx = have.vf_index(own[0].pci)
        else:
            free = [i for i in range(n_after or 0) if pcis.get(i) not in used]
            if not free:
                raise VirtnetError("attach: no free VF on %s: %s" % (
                    pf.name, "all %d are assigned (%s)" % (n_after, _describe(list(used.values()), have))
                    if n_after else "it has no VFs; set num_vfs"), pf=pf.name)
            idx = free[0]
    pci = pcis.get(idx)
    if pci in used:
        raise ValidationError("attach.vf", att.pci or idx, "VF %d (%s) of %s is already assigned to VM %s"
                              % (idx, pci, pf.name, used[pci].vm))
    existing = next((a for a in mine if a.pci == pci and pci is not None), None)
    # Unset MAC: the one the VM has on this VF, or had on a VF of this PF
    # detached by this run (a count change), so the guest keeps its MAC.
    previous = [a.mac for a in ([existing] if existing else []) + have.assignments if a.vm == att.vm and a.mac]
    mac = att.mac or (previous[0] if previous else v.random_libvirt_mac("%s/%s/%d" % (att.vm, pf.pci, idx)))
    active = have.vms.get(att.vm, False)
    if existing is not None and (existing.mac != mac or existing.kind != "interface"):
        _detach(p, existing, have, after)   # a different MAC, or a bare <hostdev>: replaced
        existing = None
    need_config = existing is None or not existing.config
    need_live = att.live and active and (existing is None or not existing.live)
    if not (need_config or need_live):
        return
    if need_config and att.vm in have.transient:
        # libvirt: "cannot change persistent config of a transient domain".
        raise ValidationError("attach.vm", att.vm, "is a transient VM (running, but not defined), so the VF cannot be "
                                                   "added to its persistent definition; define the VM first "
                                                   "(virsh dumpxml %s > %s.xml; virsh define %s.xml)"
                              % (att.vm, att.vm, att.vm))
    if need_live:
        _check_passthrough(att, have, idx, None if change else pci)
    where = " and ".join(w for w, on in (("persistent config", need_config), ("running VM", need_live)) if on)
    p.add("attach", "attach VF %d of %s to VM %s as <interface type='hostdev'> with MAC %s (%s)"
          % (idx, pf.name, att.vm, mac, where), NONE if need_live else CONFIG,
          payload={"vm": att.vm, "vf": idx, "mac": mac, "config": need_config, "live": need_live})
    entry = {"vf": idx, "vm": att.vm, "mac": mac, "config": True,
             "live": need_live or bool(existing and existing.live)}
    after["assigned"] = sorted([x for x in after["assigned"] if (x["vf"], x["vm"]) != (idx, att.vm)] + [entry],
                               key=lambda x: (x["vf"], x["vm"]))


def _check_passthrough(att: sm.AttachWant, have: sm.HostState, idx: int, pci: str | None) -> None:
    """A hot plug into a running VM needs what libvirt's VFIO passthrough
    needs: the VFIO container device, and the VF in an IOMMU group.  A VF
    this run creates does not exist yet; the PF's group says whether the
    IOMMU covers the device (the VFs sit behind the same IOMMU)."""
    live_hint = "set attach.live=false to change only its persistent definition"
    if not have.vfio:
        raise ValidationError("attach.live", True, "VM %s is running, but this host has no VFIO (/dev/vfio/vfio), so "
                                                   "a VF cannot be hot-plugged; %s" % (att.vm, live_hint))
    pf = have.pf
    if pf.iommu_group is None:
        raise ValidationError("attach.live", True, "VM %s is running, but the PF %s (%s) is in no IOMMU group (no "
                                                   "iommu_group link in sysfs): the IOMMU does not cover it, so VFIO "
                                                   "cannot pass its VFs to a VM; %s"
                              % (att.vm, pf.name, pf.pci, live_hint))
    vf = next((x for x in pf.vfs if x.pci == pci), None) if pci else None
    if vf is not None and vf.iommu_group is None:
        raise ValidationError("attach.live", True, "VM %s is running, but VF %d (%s) of %s is in no IOMMU group, so "
                                                   "VFIO cannot pass it to a VM; %s"
                              % (att.vm, idx, pci, pf.name, live_hint))


def _names(att: sm.AttachWant, have: sm.HostState, pci: str) -> bool:
    if att.vf is not None:
        return have.vf_index(pci) == att.vf
    if att.pci is not None:
        return pci == att.pci
    return att.mac is None or any(a.mac == att.mac for a in have.assignments if a.pci == pci and a.vm == att.vm)
