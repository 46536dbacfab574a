# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A domain's ``<interface>`` element <-> :class:`iface_model.Interface`, with lxml.

:func:`build` edits the host's current element when there is one and
touches only what the model manages, so the guest PCI address, the driver,
the ROM, ``<target>``, bandwidth, filterref, ... survive an edit (replacing
macvtap by a bridge keeps MAC, PCI address and boot order).

:func:`hostdev_interface_xml` is the public entry point for the SR-IOV
helpers: the XML of a VF passed to a guest as ``<interface type='hostdev'>``.
"""

from __future__ import annotations

import copy
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import xml_yes
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree, netaddr

from ansible_collections.virtnet.networking.plugins.module_utils.iface.model import (
    ALIAS_PREFIX, Interface, PortForward, PortRange, normalized_forwards, pci, pci_attrs, pci_from_attrs,
)

# The order libvirt itself writes the children in; new children are put at
# their place so what we send looks like what libvirt dumps.
_ORDER = ("mac", "source", "vlan", "virtualport", "ip", "route", "portForward", "target", "guest", "model",
          "backend", "driver", "link", "mtu", "alias", "acpi", "address", "filterref", "tune", "boot", "rom",
          "bandwidth", "teaming", "coalesce")
_SOURCE_ATTR = {"network": "network", "bridge": "bridge", "direct": "dev", "user": "dev"}


# --------------------------------------------------------------------------
# parse
# --------------------------------------------------------------------------

def _root(xml: Any) -> Any:
    if isinstance(xml, (str, bytes)):
        return etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    return xml


def parse(xml: Any) -> Interface:
    """An ``<interface>`` element (or its XML text) -> normalized model."""
    el = _root(xml)
    itype = el.get("type")
    src = el.find("source")
    source = mode = None
    if itype == "hostdev":
        addr = src.find("address") if src is not None else None
        if addr is not None and addr.get("type", "pci") == "pci":
            source = pci_from_attrs(dict(addr.attrib))
    elif src is not None and itype in ("network", "bridge") and src.get("network"):
        # A NIC moved live from a bridge onto a network: libvirt dumps the
        # running one as type='bridge' with <source network=...>; it is
        # attached through the network.
        itype, source = "network", src.get("network")
    elif src is not None and itype in _SOURCE_ATTR:
        source = src.get(_SOURCE_ATTR[itype])
        if itype == "direct":
            mode = src.get("mode", "vepa")
    mac = el.find("mac")
    model = el.find("model")
    link = el.find("link")
    alias = el.find("alias")
    boot = el.find("boot")
    backend = el.find("backend")
    tag = el.find("vlan/tag")
    address = el.find("address")
    return Interface(
        type=itype,
        source=source,
        mode=mode,
        mac=mac.get("address").lower() if mac is not None and mac.get("address") else None,
        model=model.get("type") if model is not None else None,
        link=link.get("state", "up") if link is not None else "up",
        alias=alias.get("name") if alias is not None and alias.get("name", "").startswith(ALIAS_PREFIX) else None,
        boot_order=int(boot.get("order")) if boot is not None and boot.get("order") else None,
        backend=backend.get("type") if backend is not None and backend.get("type") not in (None, "default")
        else None,
        port_forwards=normalized_forwards(tuple(_parse_forward(f) for f in el.findall("portForward")))
        if itype == "user" else None,
        ips=tuple(_parse_ip(ip) for ip in el.findall("ip")) if itype == "user" else None,
        vlan=int(tag.get("id")) if itype == "hostdev" and tag is not None else None,
        managed=(xml_yes(el.get("managed")) or False) if itype == "hostdev" else None,
        pci_address=pci_from_attrs(dict(address.attrib))
        if address is not None and address.get("type") == "pci" else None,
    )


def _parse_forward(el: Any) -> PortForward:
    ranges = []
    for r in el.findall("range"):
        ranges.append(PortRange(start=int(r.get("start")),
                                end=int(r.get("end")) if r.get("end") else None,
                                to=int(r.get("to")) if r.get("to") else None,
                                exclude=xml_yes(r.get("exclude")) or False))
    addr = el.get("address")
    return PortForward(proto=el.get("proto"), address=str(netaddr.IPAddress(addr)) if addr else None,
                       dev=el.get("dev"), ranges=tuple(ranges))


def _parse_ip(el: Any) -> str:
    addr = str(netaddr.IPAddress(el.get("address")))
    return "%s/%s" % (addr, el.get("prefix")) if el.get("prefix") else addr


def interfaces(domain_xml: Any) -> list:
    """[(Interface, element)] of a domain's XML, in device order."""
    root = _root(domain_xml)
    return [(parse(el), el) for el in root.findall("devices/interface")]


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------

def _child(el: Any, tag: str) -> Any:
    """The child ``tag`` of ``el``, created at libvirt's place when missing."""
    found = el.find(tag)
    if found is not None:
        return found
    new = etree.Element(tag)
    rank = _ORDER.index(tag) if tag in _ORDER else len(_ORDER)
    for i, child in enumerate(el):
        if isinstance(child.tag, str) and child.tag in _ORDER and _ORDER.index(child.tag) > rank:
            el.insert(i, new)
            break
    else:
        el.append(new)
    return new


def _drop(el: Any, *tags: str) -> None:
    for tag in tags:
        for child in el.findall(tag):
            el.remove(child)


def build_element(iface: Interface, base: Any = None) -> Any:
    """The ``<interface>`` element for ``iface``; ``base`` (an element or
    XML text of the host's current interface) is edited, not replaced."""
    el = copy.deepcopy(_root(base)) if base is not None else etree.Element("interface")
    old_type = parse(el).type if base is not None else None
    el.set("type", iface.type)
    type_changed = old_type is not None and old_type != iface.type
    if type_changed:
        # What belonged to the old connection: never carried to the new one
        # (a macvtap target name, a network port id, passt's forwards).
        _drop(el, "source", "target", "virtualport", "backend", "portForward", "ip", "route", "vlan")
        if "managed" in el.attrib:
            del el.attrib["managed"]
        if old_type == "hostdev":
            _drop(el, "driver")
    _build_source(el, iface)
    if iface.mac:
        _child(el, "mac").set("address", iface.mac)
    if iface.model and iface.type != "hostdev":
        _child(el, "model").set("type", iface.model)
    if iface.link == "down":
        _child(el, "link").set("state", "down")
    elif iface.link == "up" and el.find("link") is not None:
        el.find("link").set("state", "up")
    if iface.alias:
        _child(el, "alias").set("name", iface.alias)
    if iface.boot_order is not None:
        _child(el, "boot").set("order", str(iface.boot_order))
    else:
        _drop(el, "boot")
    if iface.type == "user":
        _build_user(el, iface)
    if iface.type == "hostdev":
        if iface.managed is not None:
            el.set("managed", "yes" if iface.managed else "no")
        _drop(el, "vlan")
        if iface.vlan is not None:
            etree.SubElement(_child(el, "vlan"), "tag", id=str(iface.vlan))
    if iface.pci_address and el.find("address") is None:
        _child(el, "address").attrib.update(pci_attrs(iface.pci_address))
    return el


def _build_source(el: Any, iface: Interface) -> None:
    src = el.find("source")
    if iface.type == "hostdev":
        if iface.source is None:
            return
        if src is not None and src.find("address") is not None and pci_from_attrs(
                dict(src.find("address").attrib)) == pci(iface.source):
            return
        _drop(el, "source")
        src = _child(el, "source")
        etree.SubElement(src, "address", **pci_attrs(iface.source))
        return
    attr = _SOURCE_ATTR[iface.type]
    if iface.source is None:
        if iface.type == "user":
            _drop(el, "source")
        return
    if src is None or src.get(attr) != iface.source:
        # A new source element: a live one carries the old network's port
        # id and bridge, which would contradict the new source.
        _drop(el, "source")
        src = _child(el, "source")
        src.set(attr, iface.source)
    if iface.type == "direct" and iface.mode:
        src.set("mode", iface.mode)


def _build_user(el: Any, iface: Interface) -> None:
    if iface.backend:
        _child(el, "backend").set("type", iface.backend)
    elif el.find("backend") is not None and "type" in el.find("backend").attrib:
        del el.find("backend").attrib["type"]
    if iface.ips is not None:
        _drop(el, "ip")
        for text in iface.ips:
            addr, _sep, prefix = text.partition("/")
            ip = etree.Element("ip", family="ipv6" if ":" in addr else "ipv4", address=addr)
            if prefix:
                ip.set("prefix", prefix)
            _place(el, ip)
    if iface.port_forwards is not None:
        _drop(el, "portForward")
        for fwd in iface.port_forwards:
            pf = etree.Element("portForward", proto=fwd.proto)
            if fwd.address:
                pf.set("address", fwd.address)
            if fwd.dev:
                pf.set("dev", fwd.dev)
            for r in fwd.ranges:
                rel = etree.SubElement(pf, "range", start=str(r.start))
                if r.end is not None:
                    rel.set("end", str(r.end))
                if r.to is not None:
                    rel.set("to", str(r.to))
                if r.exclude:
                    rel.set("exclude", "yes")
            _place(el, pf)


def _place(el: Any, new: Any) -> None:
    """Append ``new`` after the last child of the same or an earlier rank."""
    rank = _ORDER.index(new.tag)
    pos = 0
    for i, child in enumerate(el):
        if isinstance(child.tag, str) and child.tag in _ORDER and _ORDER.index(child.tag) <= rank:
            pos = i + 1
    el.insert(pos, new)


def build(iface: Interface, base: Any = None) -> str:
    """XML text of :func:`build_element`."""
    return etree.tostring(build_element(iface, base), encoding="unicode")


def hostdev_interface_xml(pci_address: str, mac: str, vlan: int | None = None, *, alias: str | None = None,
                          boot_order: int | None = None, managed: bool = True) -> str:
    """The ``<interface type='hostdev'>`` XML of an SR-IOV VF for a guest.

    ``pci_address`` is the VF's host PCI address (``0000:03:10.2`` or
    ``03:10.2``), ``mac`` the guest MAC (libvirt programs it into the VF),
    ``vlan`` an optional VLAN tag set on the VF, ``alias`` a libvirt user
    alias (must start with ``ua-``).  ``managed`` lets libvirt detach the VF
    from its host driver and bind it to vfio.  Raises ValueError on a bad PCI
    address or alias.  Feed the text to ``virDomainAttachDeviceFlags``, or
    parse it back with :func:`parse`.
    """
    if alias is not None and not alias.startswith(ALIAS_PREFIX):
        raise ValueError("alias %r: libvirt user aliases must start with %r" % (alias, ALIAS_PREFIX))
    iface = Interface(type="hostdev", source=pci(pci_address), mac=mac.lower(), vlan=vlan, alias=alias,
                      boot_order=boot_order, managed=managed, link="up")
    return build(iface)
