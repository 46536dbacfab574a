# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart a libvirt network without stranding the running guests on it.

``virsh net-destroy`` + ``net-start`` deletes and recreates the network's
bridge; the running guests' tap devices survive but are no longer ports of
the new bridge, so the guests silently lose the network until they are
restarted (or libvirtd is restarted).  Re-sending the same ``<interface>``
through ``virDomainUpdateDeviceFlags`` does not help: libvirt only moves a
tap when the bridge *name* changes.  So we move every such interface to a
transient, address-less "holding" network and straight back; each move is
a live bridge change libvirt performs itself (tap removed from one bridge,
added to the other, with the interface's own settings), and nothing inside
the guest changes.

Usable by any module: ``restart_network(lv, name)`` returns the names of
the guests it reconnected.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import (
    AFFECT_LIVE, Libvirt, NETWORK_XML_INACTIVE,
)


def _has_bridge(net_xml: str) -> bool:
    """True when guests plug into a Linux bridge (the one libvirt creates,
    or an existing host bridge for forward mode 'bridge'); macvtap and
    hostdev pools have no bridge to reconnect to."""
    root = etree.fromstring(net_xml.encode())
    br = root.find("bridge")
    return br is not None and bool(br.get("name"))


# forward modes whose bridge libvirt creates (and deletes) itself; no
# <forward> at all is an isolated network.
_OWN_BRIDGE_MODES = (None, "nat", "route", "open", "isolated")


def own_bridge(net_xml: str) -> str | None:
    """The bridge libvirt creates for this network definition, or None."""
    root = etree.fromstring(net_xml.encode())
    fwd = root.find("forward")
    br = root.find("bridge")
    if (fwd.get("mode", "nat") if fwd is not None else None) not in _OWN_BRIDGE_MODES:
        return None
    return br.get("name") if br is not None else None


def start(lv: Libvirt, net: Any, *, xml: str | None = None) -> Any:
    """Start ``net`` (or, with ``xml``, create that transient network), never
    over an existing host link: libvirt would fail to create the bridge and
    then delete the link of that name (a NIC, a bond, another bridge).  The
    modules refuse such names up front; this is the last guard on every path
    that starts a network (first start, restart, roll back)."""
    name = net.name()
    definition = xml or net.XMLDesc(NETWORK_XML_INACTIVE)
    bridge = own_bridge(definition)
    if bridge and lv.is_local and os.path.exists("/sys/class/net/%s" % bridge):
        raise VirtnetError("not starting network %r: its bridge %r already exists on the host, and libvirt would "
                           "delete that interface when its start fails" % (name, bridge), network=name,
                           bridge=bridge)
    if xml is not None:
        return lv.call("starting network %r" % name, lv.conn.networkCreateXML, xml, xml=xml)
    lv.call("starting network %r" % name, net.create)
    return net


def attached_interfaces(lv: Libvirt, name: str) -> list:
    """``(domain, <interface> element)`` for every running guest's NIC on ``name``."""
    found = []
    for dom in lv.domains():
        if not dom.isActive():
            continue
        root = etree.fromstring(lv.call("reading domain %r" % dom.name(), dom.XMLDesc, 0).encode())
        # source/@network, not type='network': a NIC moved onto the network
        # live shows its actual type ('bridge') in the running XML.
        for iface in root.xpath("devices/interface[source/@network]"):
            src = iface.find("source")
            if src.get("network") == name:
                found.append((dom, iface))
    return found


def _iface_on(iface: Any, network: str) -> str:
    """The live ``<interface>`` re-pointed at ``network``, minus the runtime
    attributes libvirt fills in (port id, resolved bridge)."""
    el = etree.fromstring(etree.tostring(iface))
    src = el.find("source")
    for attr in ("portid", "bridge"):
        src.attrib.pop(attr, None)
    src.set("network", network)
    el.set("type", "network")   # the running XML may show the actual type
    return etree.tostring(el, encoding="unicode")


def _hold_network_xml(name: str) -> str:
    root = etree.Element("network")
    etree.SubElement(root, "name").text = name
    # No <ip>: no dnsmasq, no firewall rules; libvirt picks a free bridge name.
    etree.SubElement(root, "bridge", stp="off", delay="0")
    return etree.tostring(root, encoding="unicode")


def reconnect(lv: Libvirt, name: str, *, attached: list) -> list:
    """Put the taps in ``attached`` back on network ``name``'s (new) bridge."""
    if not attached:
        return []
    live = AFFECT_LIVE
    hold_name = "vn-hold-" + uuid.uuid4().hex[:8]
    hold_xml = _hold_network_xml(hold_name)
    hold = lv.call("creating holding network %r" % hold_name, lv.conn.networkCreateXML, hold_xml, xml=hold_xml)
    touched: list = []
    try:
        for dom, iface in attached:
            away = _iface_on(iface, hold_name)
            back = _iface_on(iface, name)
            what = "reconnecting guest %r to network %r" % (dom.name(), name)
            lv.call(what, dom.updateDeviceFlags, away, live, xml=away)
            lv.call(what, dom.updateDeviceFlags, back, live, xml=back)
            if dom.name() not in touched:
                touched.append(dom.name())
    finally:
        try:
            hold.destroy()
        except Exception:  # noqa: BLE001 - a leftover transient network must not mask the real error
            pass
    return sorted(touched)


def restart_network(lv: Libvirt, name: str) -> list:
    """Stop and start network ``name`` (picking up its persistent config) and
    reconnect the running guests that were on it.

    Returns the sorted names of the guests reconnected.  A network that is
    not active is simply started.
    """
    net = lv.network(name)
    if net is None:
        raise VirtnetError("cannot restart network %r: it does not exist" % name, network=name)
    attached: list = []
    if not net.isPersistent():
        # A transient network vanishes when stopped: start it again from
        # its own live definition.
        xml = net.XMLDesc(0)
        attached = attached_interfaces(lv, name)
        lv.call("stopping network %r" % name, net.destroy)
        net = start(lv, net, xml=xml)
    else:
        if net.isActive():
            attached = attached_interfaces(lv, name)
            lv.call("stopping network %r" % name, net.destroy)
        start(lv, net)
    if not _has_bridge(net.XMLDesc(0)):
        return []
    return reconnect(lv, name, attached=attached)
