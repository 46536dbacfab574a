# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt network XML <-> :class:`network.model.Network`, with lxml.

:func:`build` edits the host's current XML when there is one and touches
only the parts the model manages, so everything else (uuid, bridge MAC,
``<tftp>``, ``<bootp>``, portgroups, bandwidth, ... owned by other modules
or by hand) survives a redefine byte for byte.
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import xml_yes
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree, netaddr

from ansible_collections.virtnet.networking.plugins.module_utils.network.model import (
    NAT_PORTS_DEFAULT, OWN_BRIDGE, Dns, Host, Ip, Network, host_key, range_key,
)

DNSMASQ_NS = "http://libvirt.org/schemas/network/dnsmasq/1.0"
_DQ = "{%s}" % DNSMASQ_NS


def _int(value: str | None) -> int | None:
    return None if value is None else int(value)


# --------------------------------------------------------------------------
# parse
# --------------------------------------------------------------------------

def parse(xml: str) -> Network:
    """libvirt's XML (live or inactive) -> normalized model."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    fwd = root.find("forward")
    mode = "isolated" if fwd is None else fwd.get("mode", "nat")
    nat_address = nat_port = None
    if fwd is not None and fwd.find("nat") is not None:
        nat = fwd.find("nat")
        a = nat.find("address")
        if a is not None:
            nat_address = (a.get("start"), a.get("end") or a.get("start"))
        pt = nat.find("port")
        if pt is not None:
            nat_port = (int(pt.get("start")), int(pt.get("end")))
            if nat_port == NAT_PORTS_DEFAULT:  # libvirt writes its default into the live XML
                nat_port = None
    br = root.find("bridge")
    mtu = root.find("mtu")
    dom = root.find("domain")
    ips = tuple(_parse_ip(el) for el in root.findall("ip"))
    opts = root.find(_DQ + "options")
    return Network(
        name=root.findtext("name"),
        mode=mode,
        dev=fwd.get("dev") if fwd is not None else None,
        nat_address=nat_address, nat_port=nat_port,
        bridge=br.get("name") if br is not None else None,
        stp=xml_yes(br.get("stp")) if br is not None else None,
        delay=_int(br.get("delay")) if br is not None else None,
        mtu=_int(mtu.get("size")) if mtu is not None else None,
        domain=dom.get("name") if dom is not None else None,
        domain_local_only=xml_yes(dom.get("localOnly")) if dom is not None else None,
        ips=ips,
        dns=_parse_dns(root.find("dns")),
        dnsmasq_options=tuple(o.get("value") for o in opts.findall(_DQ + "option")) if opts is not None else (),
    )


def _parse_ip(el: Any) -> Ip:
    addr = el.get("address")
    if el.get("prefix") is not None:
        net = netaddr.IPNetwork("%s/%s" % (addr, el.get("prefix")))
    elif el.get("netmask") is not None:
        net = netaddr.IPNetwork("%s/%s" % (addr, el.get("netmask")))
    else:
        net = netaddr.IPNetwork(addr)  # libvirt's classful default, rare
    dhcp = el.find("dhcp")
    ranges: list = []
    hosts: list = []
    if dhcp is not None:
        for r in dhcp.findall("range"):
            ranges.append((str(netaddr.IPAddress(r.get("start"))), str(netaddr.IPAddress(r.get("end")))))
        for h in dhcp.findall("host"):
            mac = h.get("mac")
            hosts.append(Host(ip=str(netaddr.IPAddress(h.get("ip"))), mac=mac.lower() if mac else None,
                              name=h.get("name").lower() if h.get("name") else None))
    return Ip(address=str(net), ranges=tuple(sorted(ranges, key=range_key)),
              hosts=tuple(sorted(hosts, key=host_key)),
              dhcp=dhcp is not None and (bool(ranges) or bool(hosts)))


def _parse_dns(el: Any) -> Dns:
    if el is None:
        return Dns(forwarders=(), hosts=(), srv=(), txt=())
    forwarders = tuple((f.get("addr"), f.get("domain")) for f in el.findall("forwarder"))
    hosts = tuple(sorted(((str(netaddr.IPAddress(h.get("ip"))),
                           tuple(sorted(n.text.lower() for n in h.findall("hostname"))))
                          for h in el.findall("host")), key=lambda x: int(netaddr.IPAddress(x[0]))))
    srv = []
    for s in el.findall("srv"):
        rec = {k: s.get(k) for k in ("service", "protocol", "domain", "target") if s.get(k) is not None}
        rec.update({k: int(s.get(k)) for k in ("port", "priority", "weight") if s.get(k) is not None})
        srv.append(tuple(sorted(rec.items())))
    txt = tuple(sorted((t.get("name"), t.get("value")) for t in el.findall("txt")))
    return Dns(enable=xml_yes(el.get("enable")), forwarders=forwarders, hosts=hosts, srv=tuple(sorted(srv)), txt=txt)


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------

def _set(el: Any, attr: str, value: Any) -> None:
    if value is None:
        el.attrib.pop(attr, None)
    else:
        el.set(attr, value if isinstance(value, str) else str(value))


def _child(root: Any, tag: str, *, before: tuple = ()) -> Any:
    el = root.find(tag)
    if el is None:
        el = etree.Element(tag)
        for b in before:
            anchor = root.find(b)
            if anchor is not None:
                anchor.addprevious(el)
                break
        else:
            root.append(el)
    return el


def _drop(root: Any, path: str) -> None:
    for el in root.findall(path):
        el.getparent().remove(el)


def host_element(ip: Ip, host: Host) -> Any:
    el = etree.Element("host")
    if host.mac:
        el.set("mac", host.mac)
    if host.name:
        el.set("name", host.name)
    el.set("ip", host.ip)
    return el


def range_element(rng: tuple) -> Any:
    return etree.Element("range", start=rng[0], end=rng[1])


def dns_host_element(entry: tuple) -> Any:
    el = etree.Element("host", ip=entry[0])
    for n in entry[1]:
        etree.SubElement(el, "hostname").text = n
    return el


def srv_element(rec: tuple) -> Any:
    return etree.Element("srv", {k: str(val) for k, val in rec})


def txt_element(rec: tuple) -> Any:
    return etree.Element("txt", name=rec[0], value=rec[1])


def build(net: Network, base: str | None = None) -> str:
    """XML for ``net``; when ``base`` (the current inactive XML) is given,
    only the managed parts of it are changed."""
    if base:
        root = etree.fromstring(base.encode() if isinstance(base, str) else base,
                                etree.XMLParser(remove_blank_text=True))
    else:
        root = etree.Element("network")
    if net.dnsmasq_options:
        root = _with_dnsmasq_ns(root)
    _child(root, "name").text = net.name
    _build_forward(root, net)
    own = net.mode in OWN_BRIDGE
    br = _child(root, "bridge")
    _set(br, "name", net.bridge)
    _set(br, "stp", None if net.stp is None or not own else ("on" if net.stp else "off"))
    _set(br, "delay", net.delay if own else None)
    if not br.attrib and len(br) == 0:
        root.remove(br)
    if not own:
        _drop(root, "mac")  # libvirt rejects a MAC for a bridge it does not create
    if net.mtu is None:
        _drop(root, "mtu")
    else:
        _child(root, "mtu").set("size", str(net.mtu))
    if net.domain is None:
        _drop(root, "domain")
    else:
        d = _child(root, "domain")
        d.set("name", net.domain)
        _set(d, "localOnly", None if net.domain_local_only is None else ("yes" if net.domain_local_only else "no"))
    _build_dns(root, net.dns)
    _build_ips(root, net.ips or ())
    _build_dnsmasq(root, net.dnsmasq_options or ())
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode") + "\n"


def _build_forward(root: Any, net: Network) -> None:
    if net.mode == "isolated":
        _drop(root, "forward")
        return
    fwd = _child(root, "forward", before=("bridge", "mtu", "mac", "domain", "dns", "ip"))
    fwd.set("mode", net.mode)
    _set(fwd, "dev", net.dev)
    if net.mode in ("nat", "route"):
        # libvirt mirrors dev= as the first <interface>; a stale one conflicts.
        for iface in fwd.findall("interface"):
            if iface.get("dev") != net.dev:
                fwd.remove(iface)
    nat = fwd.find("nat")
    if net.mode != "nat":
        if nat is not None:
            fwd.remove(nat)
        return
    # Only <address> and <port> are ours; <nat ipv6='yes'> and the like stay.
    if nat is None:
        nat = etree.Element("nat")
        fwd.insert(0, nat)
    _drop(nat, "address")
    _drop(nat, "port")
    if net.nat_address:
        etree.SubElement(nat, "address", start=net.nat_address[0], end=net.nat_address[1])
    if net.nat_port:
        etree.SubElement(nat, "port", start=str(net.nat_port[0]), end=str(net.nat_port[1]))
    if not nat.attrib and len(nat) == 0:
        fwd.remove(nat)


def _build_dns(root: Any, dns: Dns | None) -> None:
    dns = dns or Dns()
    el = root.find("dns")
    if el is None:
        if not any((dns.enable is not None, dns.forwarders, dns.hosts, dns.srv, dns.txt)):
            return
        el = _child(root, "dns", before=("ip",))
    _set(el, "enable", None if dns.enable is None else ("yes" if dns.enable else "no"))
    for tag in ("forwarder", "txt", "host", "srv"):
        _drop(el, tag)
    # The schema wants forwarder*, txt*, host*, srv* in this order.
    for addr, domain in dns.forwarders or ():
        f = etree.SubElement(el, "forwarder")
        _set(f, "domain", domain)
        _set(f, "addr", addr)
    for rec in dns.txt or ():
        el.append(txt_element(rec))
    for entry in dns.hosts or ():
        el.append(dns_host_element(entry))
    for rec in dns.srv or ():
        el.append(srv_element(rec))
    if not el.attrib and len(el) == 0:
        root.remove(el)


def _canon(el: Any) -> str:
    return _parse_ip(el).address


def _build_ips(root: Any, ips: tuple) -> None:
    existing = {_canon(el): el for el in root.findall("ip")}
    wanted = {ip.address for ip in ips}
    for addr, el in existing.items():
        if addr not in wanted:
            root.remove(el)
    for ip in ips:
        el = existing.get(ip.address)
        if el is None:
            el = etree.SubElement(root, "ip")
        net = netaddr.IPNetwork(ip.address)
        el.attrib.pop("netmask", None)
        _set(el, "family", "ipv6" if net.version == 6 else None)
        el.set("address", str(net.ip))
        el.set("prefix", str(net.prefixlen))
        dhcp = el.find("dhcp")
        if dhcp is not None:
            _drop(dhcp, "range")
            _drop(dhcp, "host")
        if ip.dhcp:
            if dhcp is None:
                dhcp = etree.SubElement(el, "dhcp")
            anchor = dhcp.find("bootp")  # pxe_network's; keep it last
            for child in [range_element(r) for r in ip.ranges] + [host_element(ip, h) for h in ip.hosts]:
                if anchor is not None:
                    anchor.addprevious(child)
                else:
                    dhcp.append(child)
        elif dhcp is not None and len(dhcp) == 0:
            el.remove(dhcp)


def _build_dnsmasq(root: Any, options: tuple) -> None:
    _drop(root, _DQ + "options")
    if options:
        opts = etree.SubElement(root, _DQ + "options")
        for o in options:
            etree.SubElement(opts, _DQ + "option", value=o)


def _with_dnsmasq_ns(root: Any) -> Any:
    """libvirt only keeps <dnsmasq:options> when the prefix is declared on
    <network> itself; lxml cannot add a namespace to an existing element, so
    move the children to a new root that declares it."""
    if root.nsmap.get("dnsmasq") == DNSMASQ_NS:
        return root
    new = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=dict(root.nsmap, dnsmasq=DNSMASQ_NS))
    new.extend(list(root))
    return new


SCHEMA = "/usr/share/libvirt/schemas/network.rng"
_schemas: dict = {}


def check_schema(xml: str, *, name: str, fs: Any = None) -> None:
    """Validate a generated definition against libvirt's RelaxNG schema when
    the host has it (what ``VIR_NETWORK_DEFINE_VALIDATE`` checks at define
    time); raises ValidationError naming the network and the first error."""
    path = fs.path(SCHEMA) if fs is not None else SCHEMA
    if not os.path.exists(path):
        return
    if path not in _schemas:
        try:
            _schemas[path] = etree.RelaxNG(etree.parse(path))
        except (etree.LxmlError, OSError):
            _schemas[path] = None   # a schema lxml cannot load: libvirt still validates at define
    schema = _schemas[path]
    if schema is None:
        return
    doc = etree.fromstring(xml.encode())
    if not schema.validate(doc):
        err = schema.error_log.last_error
        raise ValidationError("name", name, "the definition built from the task does not pass libvirt's schema "
                              "%s (%s, line %s of the XML); libvirt would refuse it"
                              % (SCHEMA, err.message if err is not None else "invalid", err.line if err else "?"))
