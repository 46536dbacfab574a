# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of ``pxe_network``: the TFTP root and boot files on the
hypervisor, the PXE elements of a libvirt network, and the optional proof
over TFTP that the files are served.

Everything that can be wrong with the task (unknown network, user, source
file; a TFTP root that is a file) is found by :meth:`PxeEngine.have`, before
anything is changed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.pxe import files as pfiles
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import model as pm
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import validate as pval
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import plan as ppl
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import tftp
from ansible_collections.virtnet.networking.plugins.module_utils.engine import Engine, Plan
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt, NETWORK_XML_INACTIVE
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.restart import (
    attached_interfaces, restart_network,
)
from ansible_collections.virtnet.networking.plugins.module_utils.runner import CommandRunner

SELINUX_SKIPPED = "skipped: SELinux is not enabled on the hypervisor"


class PxeEngine(Engine):
    result_key = "pxe"

    def __init__(self, module: Any, *, fs: FsRoot | None = None, lv: Libvirt | None = None) -> None:
        super().__init__(module)
        self.fs = fs or FsRoot("/")
        self.lv = lv or Libvirt(self.params["uri"])
        self.w: pm.Want | None = None
        self._selinux_ref: str | None = None

    # -- want / have -------------------------------------------------------
    def want(self) -> pm.Want:
        self.w = pval.want_from_params(self.params)
        return self.w

    def have(self) -> pm.HostState:
        w = self.w
        net = self.lv.network(w.network)
        if net is None:
            raise ValidationError("name", w.network, "no such libvirt network (define it first, e.g. with "
                                                     "virtnet.networking.virt_network)")
        config_xml = self.lv.call("reading network %r" % w.network, net.XMLDesc, NETWORK_XML_INACTIVE)
        state = pm.HostState(network=w.network, active=bool(net.isActive()), persistent=bool(net.isPersistent()),
                             config_xml=config_xml, config=pm.read(config_xml, w.address, w.network))
        if w.dhcp_range:
            pval.check_range(w.dhcp_range, state.config.address)
        pval.check_bootp_served(w, pm.target(w, state.config), pm.dhcp_hosts(config_xml, w.address, w.network))
        if state.active:
            state.live = pm.read(net.XMLDesc(0), state.config.address, w.network)
            state.guests = sorted({dom.name() for dom, _i in attached_interfaces(self.lv, w.network)})
        if w.state == "absent" or w.tftp_root is None:
            return state
        state.owner = pfiles.resolve_owner(self.fs, w.owner, w.group)
        state.selinux = pfiles.selinux_enabled(self.fs, CommandRunner(self.module, "selinuxenabled", required=False))
        if state.selinux:
            self._selinux_ref = pfiles.selinux_reference(self.fs, w.selinux_reference)
            state.ref_type = pfiles.context_type(pfiles.context_of(self.fs.path(self._selinux_ref)))
            state.selinux_ref = self._selinux_ref
        blocker = pfiles.blocking_parent(self.fs, w.tftp_root)
        if blocker:
            raise ValidationError("tftp_root", w.tftp_root, "%s is a file, not a directory" % blocker)
        state.root = pfiles.stat_entry(self.fs, w.tftp_root, selinux=state.selinux)
        if state.root.exists:
            state.names[state.root.path] = pfiles.names(self.fs, state.root)
        if state.root.exists and self.fs.islink(w.tftp_root):
            # The root's ancestors may be links (the administrator's layout),
            # the root itself not: the module sets its owner, mode and SELinux
            # label (chcon -R), which through a link would change the target.
            raise ValidationError("tftp_root", w.tftp_root, "is a symlink (to %s); give the directory it points to"
                                  % self.fs.readlink(w.tftp_root))
        if state.root.exists and state.root.kind != "dir":
            raise ValidationError("tftp_root", w.tftp_root, "exists and is not a directory")
        for bf in w.boot_files:
            path = self._file_path(bf.name)
            link = pfiles.symlink_below(self.fs, w.tftp_root, bf.name)
            if link:
                # Whoever can write in the root could plant it: following it
                # would write (and chown to the TFTP user) a file outside.
                raise ValidationError(bf.option + ".name", bf.name,
                                      "%s in the TFTP root is a symlink (to %s); symlinks are refused, nothing "
                                      "is written through them" % link)
            blocker = pfiles.blocking_parent(self.fs, path)
            if blocker:
                raise ValidationError(bf.option + ".name", bf.name, "%s is a file, not a directory" % blocker)
            entry = pfiles.stat_entry(self.fs, path, digest=True, selinux=state.selinux)
            if entry.exists and entry.kind != "file":
                raise ValidationError(bf.option + ".name", bf.name,
                                      "%s exists and is not a regular file (symlinks are refused)" % path)
            if bf.src is None and bf.content is None:
                if not entry.exists:
                    raise ValidationError(bf.option + ".name", bf.name,
                                          "is not in the TFTP root %s (give src or content to put it there)"
                                          % w.tftp_root)
                state.expected[bf.name] = (entry.size, entry.sha256)
            else:
                state.expected[bf.name] = pfiles.source_digest(self.fs, bf.option, bf.src, bf.content)
            state.files[bf.name] = entry
            if entry.exists:
                state.names[entry.path] = pfiles.names(self.fs, entry)
        return state

    def _file_path(self, name: str) -> str:
        return ppl.file_path(self.w.tftp_root, name)

    # -- plan --------------------------------------------------------------
    def plan(self, want: pm.Want, have: pm.HostState) -> Plan:
        if want.state != "absent" and want.tftp_root is not None and not have.selinux:
            self.report["selinux"] = SELINUX_SKIPPED
        return ppl.plan(want, have)

    # -- apply -------------------------------------------------------------
    # -- apply: one _apply_<kind> per action kind (Engine.apply) ------------
    def apply(self, plan: Plan) -> None:
        self._apply_owner = self._owner()
        super().apply(plan)
        # Applied as declared: a later TFTP verify failure reports what is
        # served and keeps the files and definition the task asked for.
        self.undo.clear()

    def step_error(self, action: Any, err: Exception) -> Exception:
        if isinstance(err, OSError):
            return VirtnetError("changing the TFTP root failed: %s" % err, path=getattr(err, "filename", None))
        return err

    def _record_created(self, what: str) -> list:
        """Journal the removal of the directories a step creates, before it
        creates them (a step that fails half-way is undone too)."""
        created: list = []

        def inverse() -> str:
            pfiles.remove_created(self.fs, created)
            return "removed %s again" % ", ".join(created) if created else "%s created no directory" % what
        self.undo.record(what, inverse)
        return created

    def _apply_mkdir(self, action: Any) -> None:
        created = self._record_created("the TFTP root")
        created += pfiles.make_dir(self.fs, self.w.tftp_root, self._apply_owner)

    def _apply_attrs(self, action: Any) -> None:
        pfiles.set_attrs(self.fs, self.w.tftp_root, action.payload[0], action.payload[1], self._apply_owner)

    def _apply_copy(self, action: Any) -> None:
        bf = action.payload
        created = self._record_created("boot file %s" % bf.name)
        pfiles.put_file(self.fs, self.w.tftp_root, bf.name, src=bf.src, content=bf.content, mode=pm.FILE_MODE,
                        owner=self._apply_owner, created=created)

    def _apply_selinux(self, action: Any) -> None:
        self._relabel()

    def _apply_define(self, action: Any) -> None:
        self.lv.call("defining network %r" % self.w.network, self.lv.conn.networkDefineXML, action.payload,
                     xml=action.payload)

    def _apply_restart(self, action: Any) -> None:
        self.report["reconnected"] = restart_network(self.lv, self.w.network)

    def _owner(self) -> pfiles.Owner | None:
        if self.w.state == "absent" or self.w.tftp_root is None:
            return None
        return pfiles.resolve_owner(self.fs, self.w.owner, self.w.group)

    def _relabel(self) -> None:
        """As the documented procedure: copy the label of libvirt's lease
        helper (``chcon -R --reference``), and record it with ``semanage
        fcontext`` where that exists so a relabel keeps it."""
        root = self.w.tftp_root
        chcon = CommandRunner(self.module, "chcon")
        chcon.run(["-R", "--reference", self.fs.path(self._selinux_ref), self.fs.path(root)])
        semanage = CommandRunner(self.module, "semanage", required=False)
        ctype = pfiles.context_type(pfiles.context_of(self.fs.path(self._selinux_ref)))
        if semanage.available and ctype:
            listing = semanage.run(["fcontext", "-l", "-C"], check=False).out
            if not pfiles.has_fcontext_rule(listing, root):
                semanage.run(["fcontext", "-a", "-t", ctype, pfiles.fcontext_pattern(root)])
            self.report["selinux"] = "labelled %s with type %s (chcon, semanage fcontext)" % (root, ctype)
        else:
            self.report["selinux"] = "labelled %s with type %s (chcon; no semanage, so a full relabel resets it)" \
                % (root, ctype)

    # -- export / predict --------------------------------------------------
    def export(self, state: pm.HostState) -> dict:
        out = state.config.export()
        out.update(network=state.network, active=state.active)
        w = self.w
        if w.state == "absent" or w.tftp_root is None or state.root is None:
            return out
        root = state.root
        out["root"] = None if not root.exists else self._attrs(root, state)
        out["files"] = []
        for bf in w.boot_files:
            e = state.files[bf.name]
            out["files"].append(dict(self._attrs(e, state), name=bf.name, size=e.size, sha256=e.sha256)
                                if e.exists else {"name": bf.name})
        return out

    def _attrs(self, e: pfiles.Entry, state: pm.HostState) -> dict:
        user, group = pfiles.names(self.fs, e)
        out = {"path": e.path, "mode": ppl.mode_text(e.mode), "owner": user, "group": group}
        if state.selinux:
            out["selinux_type"] = pfiles.context_type(e.context)
        return out

    def predict(self, want: pm.Want, have: pm.HostState, plan: Plan) -> pm.HostState:
        target = pm.target(want, have.config)
        pred = dataclasses.replace(have, config=target, persistent=True)
        if want.state == "absent" or want.tftp_root is None:
            return pred
        o = have.owner
        ctx = ":".join(("x", "x", have.ref_type, "x")) if have.selinux else None
        pred.root = pfiles.Entry(path=want.tftp_root, exists=True, kind="dir", mode=pm.ROOT_MODE, uid=o.uid, gid=o.gid,
                                 context=ctx)
        pred.files = {}
        for bf in want.boot_files:
            size, digest = have.expected[bf.name]
            pred.files[bf.name] = pfiles.Entry(path=self._file_path(bf.name), exists=True, kind="file", mode=pm.FILE_MODE,
                                               uid=o.uid, gid=o.gid, size=size, sha256=digest, context=ctx)
        return pred

    # -- verify over TFTP --------------------------------------------------
    def finish(self, after: pm.HostState) -> None:
        if not self.w.verify or self.w.state == "absent":
            return
        if not after.active:
            raise VirtnetError("verify: network %r is not active, so nothing serves the boot files" % self.w.network,
                               network=self.w.network)
        server = after.live.address.split("/")[0]
        results = []
        for bf in self.w.boot_files:
            size, digest = after.expected[bf.name]
            entry = {"name": bf.name, "server": server, "expected_size": size, "expected_sha256": digest}
            try:
                got = tftp.fetch(server, bf.name)
            except tftp.TftpError as err:
                entry.update(served=False, match=False, error=str(err))
            else:
                entry.update(served=True, size=got.size, sha256=got.sha256, seconds=got.seconds,
                             match=(got.size, got.sha256) == (size, digest))
            results.append(entry)
        self.report["verified"] = results
        bad = [r for r in results if not r["match"]]
        if bad:
            why = []
            for r in bad:
                if not r["served"]:
                    why.append("%s: not served (%s)" % (r["name"], r["error"]))
                else:
                    why.append("%s: served %d bytes sha256 %s, expected %d bytes sha256 %s"
                               % (r["name"], r["size"], r["sha256"][:12], r["expected_size"],
                                  r["expected_sha256"][:12]))
            hint = " (the running network has a restart pending: %s)" % ", ".join(
                pm.differences(after.config, after.live)) if pm.differences(after.config, after.live) else ""
            raise VirtnetError("verify: TFTP server %s does not serve the boot files as configured: %s%s"
                               % (server, "; ".join(why), hint), verified=results)

    def cleanup(self) -> None:
        self.lv.close()


# --------------------------------------------------------------------------
# pxe_network_info
# --------------------------------------------------------------------------
