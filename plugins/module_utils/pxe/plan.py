# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of ``pxe_network``: pure, the wanted state and the host state
(read by the engine) in, a :class:`Plan` out."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.pxe import files as pfiles
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import model as pm
from ansible_collections.virtnet.networking.plugins.module_utils.engine import CONFIG, NONE, RESTART, Plan


def mode_text(m: int | None) -> str | None:
    return None if m is None else "%04o" % m


def file_path(root: str, name: str) -> str:
    return root.rstrip("/") + "/" + name


def plan(want: pm.Want, have: pm.HostState) -> Plan:
    """The steps from ``have`` to ``want``: pure, the host was read before."""
    p = Plan()
    if want.state != "absent" and want.tftp_root is not None:
        _plan_files(p, want, have)
    target = pm.target(want, have.config)
    changed = pm.differences(target, have.config)
    claim = pm.claim_change(target, have.config)
    if changed or claim or not have.persistent:
        xml = pm.build(have.config_xml, target, want.network)
        what = changed + ([claim] if claim else [])
        p.add("define", "redefine network %s (%s)" % (want.network, ", ".join(what) or "make it persistent"),
              CONFIG, payload=xml)
    if have.active:
        pending = pm.differences(target, have.live)
        if pending and want.restart:
            who = ("reconnects running guests: " + ", ".join(have.guests)) if have.guests else "no running guests"
            p.add("restart", "restart network %s so dnsmasq serves the new %s (%s)"
                  % (want.network, ", ".join(pending), who), RESTART)
        elif pending:
            p.pending.extend(pending)
    return p


def _plan_files(p: Plan, want: pm.Want, have: pm.HostState) -> None:
    owner = have.owner
    root = have.root
    who = "%s:%s" % (owner.user, owner.group)
    if not root.exists:
        p.add("mkdir", "create TFTP root %s (%s, %s)" % (want.tftp_root, mode_text(pm.ROOT_MODE), who), NONE)
    elif (root.mode, root.uid, root.gid) != (pm.ROOT_MODE, owner.uid, owner.gid):
        p.add("attrs", "set TFTP root %s to %s, %s (was %s, %s:%s)"
              % (want.tftp_root, mode_text(pm.ROOT_MODE), who, mode_text(root.mode), *have.names[root.path]),
              NONE, payload=(None, pm.ROOT_MODE))
    for bf in want.boot_files:
        entry = have.files[bf.name]
        size, digest = have.expected[bf.name]
        if not entry.exists or entry.sha256 != digest:
            how = "from %s" % bf.src if bf.src else "from content"
            p.add("copy", "%s boot file %s %s (%d bytes)" % ("replace" if entry.exists else "put",
                                                             file_path(want.tftp_root, bf.name), how, size), NONE,
                  payload=bf)
        elif (entry.mode, entry.uid, entry.gid) != (pm.FILE_MODE, owner.uid, owner.gid):
            p.add("attrs", "set boot file %s to %s, %s (was %s, %s:%s)"
                  % (file_path(want.tftp_root, bf.name), mode_text(pm.FILE_MODE), who, mode_text(entry.mode),
                     *have.names[entry.path]), NONE, payload=(bf.name, pm.FILE_MODE))
    if have.selinux:
        entries = [root] + [have.files[bf.name] for bf in want.boot_files]
        if p.of_kind("mkdir", "copy") or any(pfiles.context_type(e.context) != have.ref_type for e in entries):
            p.add("selinux", "label %s like %s (SELinux type %s)" % (want.tftp_root, have.selinux_ref,
                                                                     have.ref_type), NONE)
