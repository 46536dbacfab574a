# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parameters of ``sriov_vf`` turned into the wanted state (:class:`Desired`):
the only place that refuses bad input (``option=value: reason``)."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.sriov.model import AttachWant, Desired, norm_pci
from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError


def desired_from_params(params: dict) -> Desired:
    pf = v.ifname("pf", params["pf"])
    state = v.one_of("state", params.get("state") or "present", ("present", "absent"))
    num = params.get("num_vfs")
    if num is not None:
        if isinstance(num, bool) or not isinstance(num, int):
            raise ValidationError("num_vfs", num, "must be a whole number")
        if num < 0:
            raise ValidationError("num_vfs", num, "must be 0 or more (0 removes every VF)")
        if state == "absent":
            raise ValidationError("num_vfs", num, "cannot be combined with state=absent (which sets 0 VFs)")
    timeout = params.get("wait_timeout")
    timeout = 30 if timeout is None else timeout
    if timeout <= 0:
        raise ValidationError("wait_timeout", timeout, "must be more than 0 seconds")
    want = Desired(pf=pf, state=state, num_vfs=num, persistent=bool(params.get("persistent", True)),
                   detach_assigned=bool(params.get("detach_assigned")),
                   enable_iommu=bool(params.get("enable_iommu")), wait_timeout=timeout)
    att = params.get("attach")
    if att:
        want.attach = _attach_from_params(att)
        if state == "absent" and want.attach.state == "present":
            raise ValidationError("attach.state", "present", "cannot attach a VF while state=absent removes every VF")
    return want


def _attach_from_params(att: dict) -> AttachWant:
    vm = att.get("vm")
    if not vm:
        raise ValidationError("attach.vm", vm, "the VM to attach the VF to is required")
    v.objname("attach.vm", vm)
    out = AttachWant(vm=vm, live=att.get("live", True) is not False,
                     state=v.one_of("attach.state", att.get("state") or "present", ("present", "absent")))
    vf = att.get("vf")
    if vf is not None and str(vf).strip() != "":
        text = str(vf).strip()
        if text.isdigit():
            out.vf = int(text)
        else:
            out.pci = norm_pci(text)
            if out.pci is None:
                raise ValidationError("attach.vf", vf, "neither a VF index (0, 1, ...) nor a PCI address "
                                      "(like 0000:82:10.0)")
    if att.get("mac") is not None:
        out.mac = v.mac("attach.mac", att["mac"])
    return out
