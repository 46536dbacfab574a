# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of ``virt_iface``: reads the domain (config and live), calls
the planner, applies with the smallest libvirt call (update-device, attach,
detach, define, restart), and the read side of ``virt_iface_info``."""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree

from ansible_collections.virtnet.networking.plugins.module_utils.iface import boot as ib
from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as im
from ansible_collections.virtnet.networking.plugins.module_utils.iface import plan as ipl
from ansible_collections.virtnet.networking.plugins.module_utils.iface import validate as ival
from ansible_collections.virtnet.networking.plugins.module_utils.iface import xml as ix
from ansible_collections.virtnet.networking.plugins.module_utils.engine import Engine
from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import (
    AFFECT_LIVE, DOMAIN_XML_INACTIVE, Libvirt,
)
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.host import is_local, read_links

# How long a guest gets to release a hot-unplugged NIC (ACPI eject; TCG
# guests on a busy host are slow).
DETACH_TIMEOUT = 60


def _root(xml: str) -> Any:
    return etree.fromstring(xml.encode())


def _machine(root: Any) -> str:
    t = root.find("os/type")
    return (t.get("machine") or "") if t is not None else ""


def _needs_acpi(root: Any) -> bool:
    """PCI hotplug on a pc (i440fx) machine goes through ACPI; q35 has
    native PCIe hotplug."""
    return "q35" not in _machine(root) and root.find("features/acpi") is None


def _user_aliases(root: Any, skip: Any = None) -> set:
    out = set()
    for el in root.iterfind(".//devices//alias"):
        if el.getparent() is skip:
            continue
        name = el.get("name", "")
        if name.startswith(im.ALIAS_PREFIX):
            out.add(name)
    return out


def _boot_orders(root: Any, skip: Any = None) -> dict:
    out = {}
    for el in root.iterfind("devices/*/boot"):
        dev = el.getparent()
        if dev is skip or not el.get("order"):
            continue
        out[int(el.get("order"))] = ib.label(dev)
    return out


def _config_copy(live_el: Any) -> Any:
    """A running NIC's element without what only the running domain has
    (tap name, network port, libvirt's own alias), to write to the config."""
    if live_el is None:
        return None
    el = copy.deepcopy(live_el)
    for child in el.findall("target"):
        el.remove(child)
    src = el.find("source")
    if src is not None and el.get("type") == "network":
        for attr in ("portid", "bridge"):
            src.attrib.pop(attr, None)
    alias = el.find("alias")
    if alias is not None and not alias.get("name", "").startswith(im.ALIAS_PREFIX):
        el.remove(alias)
    el.tail = None
    return el


class DomainXml:
    """One domain's config and live XML, parsed once."""

    def __init__(self, lv: Libvirt, dom: Any) -> None:
        self.dom = dom
        self.name = dom.name()
        self.running = bool(dom.isActive())
        self.persistent = bool(dom.isPersistent())
        self.config_xml = lv.call("reading domain %r" % self.name, dom.XMLDesc, DOMAIN_XML_INACTIVE) \
            if self.persistent else None
        self.live_xml = lv.call("reading domain %r" % self.name, dom.XMLDesc, 0) if self.running else None
        self.config = _root(self.config_xml) if self.config_xml else None
        self.live = _root(self.live_xml) if self.live_xml else None
        self.config_ifaces = ix.interfaces(self.config) if self.config is not None else []
        self.live_ifaces = ix.interfaces(self.live) if self.live is not None else []


def read_state(lv: Libvirt, desired: im.Desired, *, links: dict | None = None) -> tuple:
    """(HostState, DomainXml or None, config element, live element)."""
    dom = lv.domain(desired.domain)
    if dom is None:
        return im.HostState(domain=desired.domain), None, None, None
    d = DomainXml(lv, dom)
    want = desired.iface
    ci, config = ipl.find([m for m, _el in d.config_ifaces], want, where="config")
    li, live = ipl.find([m for m, _el in d.live_ifaces], want, where="running domain")
    config_el = d.config_ifaces[ci][1] if ci is not None else None
    live_el = d.live_ifaces[li][1] if li is not None else None
    if live is None and config is not None and d.running:
        # The same NIC, running an older definition: an alias or a MAC
        # written to the config and not restarted yet.  Found by the
        # config's MAC, or (MAC change) by the PCI slot, which an edit keeps.
        for m, el in d.live_ifaces:
            if m.mac == config.mac:
                live, live_el = m, el
        for m, el in d.live_ifaces:
            if live is None and config.pci_address and m.pci_address == config.pci_address \
                    and m.mac not in {c.mac for c, _el in d.config_ifaces}:
                live, live_el = m, el
    own = {m.mac for m in (config, live) if m is not None}
    host_macs: dict = {}
    for other in lv.domains():
        od = d if other.name() == d.name else DomainXml(lv, other)
        for m, _el in od.config_ifaces + od.live_ifaces:
            if m.mac and not (od is d and m.mac in own):
                host_macs.setdefault(m.mac, "domain %s" % od.name + (" (another interface)" if od is d else ""))
    base_root = d.config if d.config is not None else d.live
    base_el = config_el if d.config is not None else live_el
    aliases = _user_aliases(base_root, skip=base_el)
    # Host links the config names as NIC targets (libvirt creates them when
    # the domain starts, and deletes them when that start fails), and the
    # ones the running domain holds now (freed by its shutdown).
    config_targets = []
    for _m, iface_el in d.config_ifaces:
        tgt = iface_el.find("target")
        if tgt is not None and tgt.get("dev"):
            config_targets.append((ib.label(iface_el), tgt.get("dev"), iface_el is config_el))
    own_links = {t.get("dev") for _m, el in d.live_ifaces for t in el.findall("target") if t.get("dev")}
    if d.live is not None:
        aliases |= _user_aliases(d.live, skip=live_el)
    state = im.HostState(
        domain=d.name, exists=True, running=d.running, persistent=d.persistent, config=config, live=live,
        config_index=ci, acpi=not _needs_acpi(d.live) if d.live is not None else True,
        os_boot=ib.os_boot(base_root), boot_devices=ib.boot_devices(base_root, skip=base_el),
        kernel=base_root.find("os/kernel") is not None,
        live_os_boot=d.live is not None and d.live.find("os/boot") is not None,
        boot_orders=_boot_orders(base_root, skip=base_el),
        aliases=aliases, host_macs=host_macs, config_targets=config_targets, own_links=own_links,
        networks={n.name(): bool(n.isActive()) for n in lv.networks()}, links=links)
    return state, d, config_el, live_el


class IfaceEngine(Engine):
    result_key = "interface"

    def __init__(self, module: Any, *, fs: FsRoot | None = None, lv: Libvirt | None = None) -> None:
        super().__init__(module)
        self.lv = lv or Libvirt(self.params["uri"])
        self.fs = fs or FsRoot("/")
        self.desired: im.Desired | None = None
        self._predicted: Any = None
        self._planned = False

    def want(self) -> im.Desired:
        self.desired = ival.desired_from_params(self.params)
        return self.desired

    def have(self) -> im.HostState:
        links = read_links(self.fs) if is_local(self.params["uri"]) else None
        state, self._dom, self._config_el, self._live_el = read_state(self.lv, self.desired, links=links)
        return state

    def plan(self, want: im.Desired, have: im.HostState) -> Any:
        plan, self._predicted = ipl.plan(want, have)
        if not self._planned and self._predicted.renewed is not None:
            # The first plan says how the guest renews after a live move, in
            # check mode too; the verifying plan after apply has no move left.
            self.report["renewed"] = self._predicted.renewed
        self._planned = True
        self._have = have
        return plan

    def predict(self, want: Any, have: im.HostState, plan: Any) -> Any:
        return dataclasses.replace(have, config=self._predicted.config, live=self._predicted.live,
                                   os_boot=self._predicted.os_boot, boot_orders=self._predicted.boot_orders)

    def export(self, state: im.HostState) -> dict:
        return ipl.export_state(state)

    # -- apply -------------------------------------------------------------
    def apply(self, plan: Any) -> None:
        self._live_pci = None
        # Each _apply_<kind> records its inverse in self.undo, so a failing
        # later step (a define libvirt refuses after a hotplug) leaves
        # nothing half-done.
        super().apply(plan)

    def _call(self, what: str, fn: Any, *args: Any, xml: str | None = None) -> Any:
        return self.lv.call("%s (domain %s)" % (what, self.desired.domain), fn, *args, xml=xml)

    def _apply_attach(self, action: Any) -> None:
        xml = ix.build(action.payload)
        self._call("hot-plugging the interface", self._dom.dom.attachDeviceFlags, xml, AFFECT_LIVE, xml=xml)
        self.undo.record("the hotplug", lambda: self._dom.dom.detachDeviceFlags(xml, AFFECT_LIVE))
        # The config gets the PCI slot libvirt picked for the running NIC,
        # so the guest sees the same device after a restart.
        live = ix.interfaces(self._call("reading the domain", self._dom.dom.XMLDesc, 0))
        for m, _el in live:
            if m.mac == action.payload.mac:
                self._live_pci = m.pci_address

    def _apply_update(self, action: Any) -> None:
        xml = ix.build(action.payload, base=self._live_el)
        self._call("updating the running interface", self._dom.dom.updateDeviceFlags, xml, AFFECT_LIVE, xml=xml)
        old = etree.tostring(self._live_el, encoding="unicode")
        self.undo.record("the live update", lambda: self._dom.dom.updateDeviceFlags(old, AFFECT_LIVE))

    def _set_live_link(self, mac: str, state: str) -> None:
        """Link state of the running NIC ``mac``, on its current live
        definition (re-read: an update just before changed its source)."""
        for m, el in ix.interfaces(self._call("reading the domain", self._dom.dom.XMLDesc, 0)):
            if m.mac == mac:
                xml = ix.build(dataclasses.replace(m, link=state), base=el)
                self._call("setting the link of the running interface %s" % state,
                           self._dom.dom.updateDeviceFlags, xml, AFFECT_LIVE, xml=xml)
                return
        raise VirtnetError("domain %s: the running interface %s went away during the link bounce"
                           % (self.desired.domain, mac))

    def _apply_renew(self, action: Any) -> None:
        """Bounce the link after a live move: the guest's DHCP client sees
        the carrier go and come back and asks the new network for a lease
        (libvirt moves the tap, the guest notices nothing by itself)."""
        mac = action.payload.mac
        self._set_live_link(mac, "down")
        undo = self.undo.record("the link bounce", lambda: self._set_live_link(mac, "up"))
        time.sleep(self.desired.renew_down_time)
        self._set_live_link(mac, "up")
        self.undo.forget(undo)

    def _apply_detach(self, action: Any) -> None:
        xml = etree.tostring(self._live_el, encoding="unicode")
        self._call("hot-unplugging the interface", self._dom.dom.detachDeviceFlags, xml, AFFECT_LIVE, xml=xml)
        replug = etree.tostring(_config_copy(self._live_el), encoding="unicode")
        self.undo.record("the hot-unplug", lambda: self._dom.dom.attachDeviceFlags(replug, AFFECT_LIVE))
        mac = action.payload.mac
        deadline = time.monotonic() + DETACH_TIMEOUT
        while any(m.mac == mac for m, _el in ix.interfaces(self._dom.dom.XMLDesc(0))):
            if time.monotonic() > deadline:
                raise VirtnetError("domain %s did not release interface %s within %ds of the hot-unplug request "
                                   "(does the guest OS handle ACPI PCI eject?)"
                                   % (self.desired.domain, mac, DETACH_TIMEOUT), xml=xml)
            time.sleep(0.5)

    def _define(self, root: Any) -> None:
        xml = etree.tostring(root, encoding="unicode")
        self._call("defining the domain", self.lv.conn.defineXML, xml, xml=xml)
        before = self._dom.config_xml
        self.undo.record("the new config", lambda: self.lv.conn.defineXML(before))

    def _apply_define(self, action: Any) -> None:
        root = _root(self._dom.config_xml)
        devices = root.find("devices")
        if self._predicted.conversion or self._predicted.os_boot != self._have.os_boot:
            # Before the NIC edit: the refs are indices into this config.
            ib.apply_conversion(root, self._predicted.conversion)
        target = action.payload
        if self._config_el is not None:
            old = root.findall("devices/interface")[self._have.config_index]
            devices.replace(old, ix.build_element(target, base=old))
        else:
            if self._live_pci and target.pci_address is None:
                target = dataclasses.replace(target, pci_address=self._live_pci)
            new = ix.build_element(target, base=_config_copy(self._live_el))
            existing = root.findall("devices/interface")
            if existing:
                existing[-1].addnext(new)
            else:
                devices.append(new)
        self._define(root)

    def _apply_undefine(self, action: Any) -> None:
        root = _root(self._dom.config_xml)
        old = root.findall("devices/interface")[self._have.config_index]
        old.getparent().remove(old)
        self._define(root)

    def _apply_restart(self, action: Any) -> None:
        dom = self._dom.dom
        timeout = self.desired.restart_timeout
        how = "was not running"
        if dom.isActive():
            how = "shut down by the guest"
            try:
                dom.shutdown()
            except Exception:  # noqa: BLE001 - a guest without ACPI; destroyed below
                pass
            deadline = time.monotonic() + timeout
            while dom.isActive() and time.monotonic() < deadline:
                time.sleep(0.5)
            if dom.isActive():
                how = "destroyed after the guest ignored the shutdown request for %ds" % timeout
                self._call("destroying the domain", dom.destroy)
        self._call("starting the domain", dom.create)
        self.report["restarted"] = how

    def cleanup(self) -> None:
        self.lv.close()


# --------------------------------------------------------------------------
# virt_iface_info
# --------------------------------------------------------------------------
