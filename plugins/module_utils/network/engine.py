# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of ``virt_network``: reads libvirt, calls the planner,
applies with the smallest libvirt call, and the read side of
``virt_network_info``."""

from __future__ import annotations

import json
from typing import Any


from ansible_collections.virtnet.networking.plugins.module_utils.network import model as netm
from ansible_collections.virtnet.networking.plugins.module_utils.network import plan as npl
from ansible_collections.virtnet.networking.plugins.module_utils.network import validate as nv
from ansible_collections.virtnet.networking.plugins.module_utils.network import xml as nx
from ansible_collections.virtnet.networking.plugins.module_utils.engine import Engine
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt import conn as libvirt_conn
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.host import is_local, read_links, read_routes
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import (
    AFFECT_CONFIG, AFFECT_LIVE, NETWORK_XML_INACTIVE, Libvirt, flag, libvirt_error,
)
from ansible_collections.virtnet.networking.plugins.module_utils.network import bridge as nh
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.restart import (
    attached_interfaces, restart_network, start as start_network,
)
from ansible_collections.virtnet.networking.plugins.module_utils.runner import CommandRunner


# libvirt calls made outside Libvirt.call (isActive, XMLDesc, update...) raise
# libvirtError too, e.g. when libvirtd dies mid-run: report those as libvirt
# errors of the step, not as the engine's "unexpected error" with a traceback.
LIBVIRT_ERRORS = (libvirt_conn.libvirt.libvirtError,) if libvirt_conn.libvirt is not None else ()


def read_network(lv: Libvirt, net: Any) -> netm.HostState:
    name = net.name()
    config_xml = lv.call("reading network %r" % name, net.XMLDesc, NETWORK_XML_INACTIVE)
    active = bool(net.isActive())
    live = nx.parse(net.XMLDesc(0)) if active else None
    return netm.HostState(name=name, exists=True, active=active, autostart=bool(net.autostart()),
                          persistent=bool(net.isPersistent()), config=nx.parse(config_xml), live=live,
                          config_xml=config_xml)


class HostReads:
    """The host side a network plan needs: routes, links (and what is on
    them) and addresses, read when asked."""

    def __init__(self, module: Any, fs: FsRoot) -> None:
        self.module = module
        self.fs = fs

    def routes(self) -> list:
        return read_routes(self.fs)

    def claims(self, live_xml: str, config_xml: str | None) -> list:
        """[Network] another network claims (bridge name, subnets): its
        running state, and its definition when that differs."""
        current = nx.parse(live_xml)
        if config_xml is None:
            return [current]
        config = nx.parse(config_xml)
        return [current] if netm.export(config) == netm.export(current) else [current, config]

    def links(self) -> dict | None:
        return read_links(self.fs)

    def link_info(self) -> dict:
        addresses = self.addresses()
        return {n: nh.read_link(self.fs, n, addresses) for n in self.links() or ()}

    def addresses(self) -> dict | None:
        """{ifname: [addr/prefix]} of the host, None when ``ip`` cannot tell."""
        ip = CommandRunner(self.module, "ip", required=False)
        if not ip.available:
            return None
        res = ip.run(["-j", "addr", "show"], check=False)
        if not res.ok:
            return None
        try:
            return nh.parse_ip_addr_json(json.loads(res.out or "[]"))
        except ValueError:
            return None


class NetworkEngine(Engine):
    result_key = "network"

    def __init__(self, module: Any, *, fs: FsRoot | None = None, lv: Libvirt | None = None,
                 host: Any = None) -> None:
        super().__init__(module)
        self.lv = lv or Libvirt(self.params["uri"])
        self.fs = fs or FsRoot("/")
        # The host's routes, links and addresses: read here, or given by a
        # caller that plans many networks against one read (hypervisor).
        self.host = host or HostReads(module, self.fs)
        self.desired: netm.Desired | None = None

    def want(self) -> netm.Desired:
        self.desired = nv.network_from_params(self.params)
        return self.desired

    def have(self) -> netm.HostState:
        try:
            return self._have()
        except LIBVIRT_ERRORS as err:
            raise libvirt_error("reading network %r and the host" % self.params["name"], err)

    def _have(self) -> netm.HostState:
        name = self.params["name"]
        # The host's links before libvirt's networks: a network's bridge
        # appears after its definition, so every bridge seen here belongs to
        # a network the read below sees too (read the other way round, a
        # network another run defines and starts in between would leave its
        # bridge looking like a foreign one).
        local = is_local(self.params["uri"])
        host = (self.host.routes(), self.host.links(), self.host.link_info()) if local else None
        net = self.lv.network(name)
        state = read_network(self.lv, net) if net is not None else netm.HostState(name=name)
        if state.active:
            state.guests = sorted({dom.name() for dom, _iface in attached_interfaces(self.lv, name)})
        if not hasattr(self, "_before"):
            self._before = state
        for other in self.lv.networks():
            oname = other.name()
            if oname != name:
                # an active persistent network's definition (what it starts
                # with next time) claims its bridge name and subnets too
                config_xml = other.XMLDesc(NETWORK_XML_INACTIVE) if other.isActive() and other.isPersistent() \
                    else None
                state.others.extend((oname, claim) for claim in self.host.claims(other.XMLDesc(0), config_xml))
        if host is not None:
            state.routes, state.links, state.link_info = host
        return state

    def _remove_stale_bridge(self, bridge: str) -> None:
        """Delete the leftover bridge of our own network, after checking again
        (right now) that nothing joined it and nobody gave it an address."""
        link = nh.read_link(self.fs, bridge, self.host.addresses())
        if link is None:
            return
        config = self._before.config if self._before.exists else None
        if link.kind != "bridge" or link.ports or link.addresses is None or nh.foreign_addresses(link, config):
            raise ValidationError("bridge.name", bridge, "the leftover bridge changed meanwhile (%s); "
                                  "not removing it" % link.describe())
        res = CommandRunner(self.module, "ip").run(["link", "delete", "dev", bridge, "type", "bridge"], check=False)
        if not res.ok:
            raise VirtnetError("removing stale bridge %r failed: %s" % (bridge, res.err.strip()), bridge=bridge)

    def plan(self, want: netm.Desired, have: netm.HostState) -> Any:
        plan, self._predicted = npl.plan(want, have)
        if is_local(self.params["uri"]):
            # What libvirt's own VIR_NETWORK_DEFINE_VALIDATE would check, but
            # without defining anything: so check mode refuses it too.
            for action in plan.of_kind("define"):
                nx.check_schema(action.payload, name=self.params["name"], fs=self.fs)
        return plan

    def predict(self, want: Any, have: Any, plan: Any) -> netm.HostState:
        return self._predicted

    def export(self, state: netm.HostState) -> dict:
        return npl.export_state(state)

    # -- apply: one _apply_<kind> per action kind (Engine.apply) ------------
    def step_error(self, action: Any, err: Exception) -> Exception:
        if LIBVIRT_ERRORS and isinstance(err, LIBVIRT_ERRORS):
            return libvirt_error(action.summary, err)
        return err

    def _net(self) -> Any:
        return self.lv.network(self.params["name"])

    def _apply_define(self, action: Any) -> None:
        xml = action.payload
        for attempt in range(5):
            try:
                self._define(xml)
                break
            except VirtnetError as err:
                if attempt == 4 or not self._lost_bridge_race(err):
                    raise
                # Another run took the virbrN picked for us between our
                # read of the host and our define: read again, pick again.
                defines = npl.plan(self.desired, self._have())[0].of_kind("define")
                if not defines:
                    raise
                xml = defines[0].payload
        self.undo.record("the definition of network %r" % self.params["name"], self._restore_definition)

    def _apply_update(self, action: Any) -> None:
        name = self.params["name"]
        net = self._net()
        upd = action.payload
        flags = AFFECT_CONFIG | (AFFECT_LIVE if net.isActive() else 0)
        self.lv.call("updating network %r (%s)" % (name, action.summary), net.update,
                     upd.command, upd.section, upd.parent, upd.xml, flags, xml=upd.xml)
        self.undo.record("the live update (%s)" % action.summary, lambda: self._revert_update(upd, flags))

    def _apply_restart(self, action: Any) -> None:
        self.report["reconnected"] = restart_network(self.lv, self.params["name"])

    def _apply_remove_bridge(self, action: Any) -> None:
        self._remove_stale_bridge(action.payload)

    def _apply_start(self, action: Any) -> None:
        start_network(self.lv, self._net())

    def _apply_stop(self, action: Any) -> None:
        self.lv.call("stopping network %r" % self.params["name"], self._net().destroy)

    def _apply_undefine(self, action: Any) -> None:
        self.lv.call("undefining network %r" % self.params["name"], self._net().undefine)

    def _apply_autostart(self, action: Any) -> None:
        self.lv.call("setting autostart of network %r" % self.params["name"], self._net().setAutostart,
                     1 if action.payload else 0)

    def _define(self, xml: str) -> None:
        """Define with libvirt's own schema validation where it has one (it
        defines too, so check mode uses :func:`network.xml.check_schema`)."""
        name = self.params["name"]
        validate = flag("VIR_NETWORK_DEFINE_VALIDATE", 0)
        conn = self.lv.conn
        if validate and hasattr(conn, "networkDefineXMLFlags"):
            self.lv.call("defining network %r" % name, conn.networkDefineXMLFlags, xml, validate, xml=xml)
        else:
            self.lv.call("defining network %r" % name, conn.networkDefineXML, xml, xml=xml)

    def _lost_bridge_race(self, err: VirtnetError) -> bool:
        """The define failed only because the bridge name we picked (the task
        names none) was taken meanwhile, e.g. by a run on another network."""
        return (self.desired is not None and self.desired.network.bridge is None
                and "already in use" in str(err.details.get("libvirt_message", "")))

    # -- inverses (recorded in self.undo as the steps apply) ----------------
    def _revert_update(self, upd: Any, flags: int) -> str:
        # (the lookup inside the inverse: with libvirtd gone even it fails,
        # and the journal reports that instead of masking the error)
        inverse = npl.CMD_DELETE if upd.command == npl.CMD_ADD_LAST else npl.CMD_ADD_LAST
        self._net().update(inverse, upd.section, upd.parent, upd.xml, flags)
        return "live update reverted"

    def _restore_definition(self) -> str:
        """A network that does not start is worse than the old one: put the
        definition back as it was (or undefine the new network)."""
        net = self._net()
        before = self._before
        if not before.exists:
            if net is not None and net.isActive():
                net.destroy()
            if net is not None:
                net.undefine()
            return "the new network was undefined again"
        self.lv.conn.networkDefineXML(before.config_xml)
        if before.active and net is not None and not net.isActive():
            restart_network(self.lv, self.params["name"])
        return "the previous definition was restored"

    def cleanup(self) -> None:
        self.lv.close()


# --------------------------------------------------------------------------
# virt_network_info
# --------------------------------------------------------------------------
