# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""*Want* for virt_network: the task's parameters -> a validated, normalized
:class:`network.model.Desired`, and the cross-checks against the host.

Everything here runs before anything on the host is touched; every error is
a ValidationError naming the option (dotted path) and the value.
"""

from __future__ import annotations

import functools

from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.network.model import (
    MODES, NAT_PORTS_DEFAULT, Desired, Dns, Host, Ip, Network, host_key, range_key,
)

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr


# --------------------------------------------------------------------------
# want: parameters -> validated model
# --------------------------------------------------------------------------

def _addr(option: str, value: Any, net: Any) -> str:
    addr = v.ip_address(option, value, version=net.version)
    if addr not in net:
        raise ValidationError(option, value, "is outside the subnet %s" % net.cidr)
    return str(addr)


def _ips(params: list, mode: str | None) -> tuple:
    out = []
    seen_subnets: list = []
    dhcp_families: set = set()
    for i, ip in enumerate(params):
        opt = "ips[%d]" % i
        net = v.ip_interface(opt + ".address", ip["address"])
        gw = net.ip
        if net.version == 4 and net.prefixlen < 31 and gw in (net.network, net.broadcast):
            raise ValidationError(opt + ".address", ip["address"],
                                  "is the network or broadcast address of %s; give the host's own address in it"
                                  % net.cidr)
        if net.version == 6 and gw == net.network and net.prefixlen < 127:
            raise ValidationError(opt + ".address", ip["address"],
                                  "is the subnet-router anycast address of %s; give the host's own address" % net.cidr)
        for j, other in seen_subnets:
            if net.cidr in other.cidr or other.cidr in net.cidr:
                raise ValidationError(opt + ".address", ip["address"],
                                      "overlaps ips[%d].address=%s" % (j, other))
        seen_subnets.append((i, net))
        dhcp = ip.get("dhcp")
        ranges: list = []
        hosts: list = []
        if dhcp is not None:
            if net.version == 6 and (dhcp.get("ranges") or dhcp.get("hosts")) and net.prefixlen < 64:
                # libvirt hands the subnet to dnsmasq, which refuses DHCPv6 on
                # a prefix shorter than 64 ("prefix length must be at least 64");
                # libvirt defines such a network and only fails at start.
                raise ValidationError(opt + ".address", ip["address"],
                                      "DHCPv6 (ips[%d].dhcp) needs a prefix of 64 or longer: libvirt's dnsmasq "
                                      "refuses to serve DHCPv6 on a /%d" % (i, net.prefixlen))
            if mode == "bridge":
                raise ValidationError(opt + ".dhcp", "set", "DHCP needs a network libvirt runs dnsmasq on; "
                                      "forward.mode=bridge uses an existing host bridge")
            if net.version in dhcp_families and (dhcp.get("ranges") or dhcp.get("hosts")):
                raise ValidationError(opt + ".dhcp", "set", "libvirt allows DHCP on only one IPv%d address of "
                                      "a network" % net.version)
            if dhcp.get("ranges") or dhcp.get("hosts"):
                dhcp_families.add(net.version)
            spans: list = []
            for k, r in enumerate(dhcp.get("ranges") or []):
                ropt = "%s.dhcp.ranges[%d]" % (opt, k)
                start = netaddr.IPAddress(_addr(ropt + ".start", r["start"], net))
                end = netaddr.IPAddress(_addr(ropt + ".end", r["end"], net))
                if end < start:
                    raise ValidationError(ropt + ".end", r["end"], "is before start=%s" % start)
                if start <= gw <= end:
                    raise ValidationError(ropt, "%s-%s" % (start, end),
                                          "contains the network's own address %s" % gw)
                if net.version == 4 and (start == net.network or end == net.broadcast):
                    raise ValidationError(ropt, "%s-%s" % (start, end),
                                          "contains the network or broadcast address of %s" % net.cidr)
                for k2, (s2, e2) in spans:
                    if start <= e2 and s2 <= end:
                        raise ValidationError(ropt, "%s-%s" % (start, end),
                                              "overlaps %s.dhcp.ranges[%d]=%s-%s" % (opt, k2, s2, e2))
                spans.append((k, (start, end)))
                ranges.append((str(start), str(end)))
            seen: dict = {}
            for k, h in enumerate(dhcp.get("hosts") or []):
                hopt = "%s.dhcp.hosts[%d]" % (opt, k)
                hip = _addr(hopt + ".ip", h["ip"], net)
                if netaddr.IPAddress(hip) == gw:
                    raise ValidationError(hopt + ".ip", h["ip"], "is the network's own address")
                mac = None
                if h.get("mac") is not None:
                    if net.version == 6:
                        raise ValidationError(hopt + ".mac", h["mac"], "libvirt matches IPv6 DHCP hosts by name, "
                                              "not MAC; give name instead")
                    mac = v.mac(hopt + ".mac", h["mac"])
                name = h.get("name")
                if name is not None:
                    name = _hostname(hopt + ".name", name)
                if mac is None and name is None:
                    raise ValidationError(hopt, hip, "a static host needs a mac (IPv4) or a name")
                for key, val in (("ip", hip), ("mac", mac), ("name", name)):
                    if val is None:
                        continue
                    if (key, val) in seen:
                        raise ValidationError("%s.%s" % (hopt, key), h[key], "duplicates %s.%s" % (seen[(key, val)], key))
                    seen[(key, val)] = hopt
                hosts.append(Host(ip=hip, mac=mac, name=name))
        out.append(Ip(address=str(net), ranges=tuple(sorted(ranges, key=range_key)),
                      hosts=tuple(sorted(hosts, key=host_key)),
                      # an empty <dhcp/> serves nothing and libvirt reads it back as none
                      dhcp=bool(ranges or hosts)))
    return tuple(out)


def _hostname(option: str, value: Any) -> str:
    text = str(value)
    labels = text.split(".")
    if not text or len(text) > 253 or not all(
            lab and len(lab) <= 63 and lab[0] != "-" and lab[-1] != "-"
            and all(c.isalnum() or c == "-" for c in lab) for lab in labels):
        raise ValidationError(option, value, "not a valid host name")
    return text.lower()


# libvirt copies a TXT value verbatim, unquoted, into dnsmasq's configuration
# file (``txt-record=name,value``): a newline there starts a new dnsmasq
# directive (configuration injection), a '"' or '\\' breaks dnsmasq's parser
# (the network no longer starts), ',' splits the record into several strings,
# '#' starts a comment and leading/trailing blanks are dropped.  Only values
# that dnsmasq serves exactly as given are accepted.
_TXT_FORBIDDEN = {'"': "a double quote", "\\": "a backslash", ",": "a comma", "#": "'#'"}
_SRV_SERVICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/*")


def _txt_value(option: str, value: Any) -> str:
    text = str(value)
    if not text or len(text) > 255:
        raise ValidationError(option, value, "a TXT value must be 1 to 255 characters")
    bad = [c for c in text if ord(c) < 32 or ord(c) == 127]
    if bad:
        raise ValidationError(option, value, "contains a control character (%r); libvirt writes the value "
                              "unescaped into dnsmasq's configuration file" % bad[0])
    for char, what in _TXT_FORBIDDEN.items():
        if char in text:
            raise ValidationError(option, value, "contains %s, which dnsmasq would not serve as given (libvirt "
                                  "passes the value to it unquoted)" % what)
    if text != text.strip():
        raise ValidationError(option, value, "has leading or trailing blanks, which dnsmasq drops")
    return text


def _dns(params: dict, ips: tuple | None) -> Dns:
    forwarders = None
    if params.get("forwarders") is not None:
        forwarders = []
        for i, f in enumerate(params["forwarders"]):
            opt = "dns.forwarders[%d]" % i
            addr = str(v.ip_address(opt + ".addr", f["addr"])) if f.get("addr") else None
            dom = _hostname(opt + ".domain", f["domain"]) if f.get("domain") else None
            if addr is None and dom is None:
                raise ValidationError(opt, f, "give addr, domain or both")
            forwarders.append((addr, dom))
        forwarders = tuple(forwarders)
    hosts = None
    if params.get("hosts") is not None:
        hosts = []
        seen = {}
        for i, h in enumerate(params["hosts"]):
            opt = "dns.hosts[%d]" % i
            ip = str(v.ip_address(opt + ".ip", h["ip"]))
            if ip in seen:
                raise ValidationError(opt + ".ip", h["ip"], "duplicates %s.ip" % seen[ip])
            seen[ip] = opt
            names = h.get("hostnames") or []
            if not names:
                raise ValidationError(opt + ".hostnames", names, "give at least one host name")
            hosts.append((ip, tuple(sorted({_hostname(opt + ".hostnames", n) for n in names}))))
        hosts = tuple(sorted(hosts, key=lambda x: int(netaddr.IPAddress(x[0]))))
    txt = None
    if params.get("txt") is not None:
        txt = []
        for i, t in enumerate(params["txt"]):
            name = _hostname("dns.txt[%d].name" % i, t["name"])
            txt.append((name, _txt_value("dns.txt[%d].value" % i, t["value"])))
        names = [t[0] for t in txt]
        dup = [n for n in names if names.count(n) > 1]
        if dup:
            raise ValidationError("dns.txt", dup[0], "TXT record name given twice")
        txt = tuple(sorted(txt))
    srv = None
    if params.get("srv") is not None:
        srv = []
        for i, s in enumerate(params["srv"]):
            opt = "dns.srv[%d]" % i
            rec = {"service": s["service"], "protocol": s["protocol"]}
            if not rec["service"] or len(rec["service"]) > 15:
                raise ValidationError(opt + ".service", s["service"], "service name must be 1 to 15 characters")
            if any(c not in _SRV_SERVICE_CHARS for c in rec["service"]):
                raise ValidationError(opt + ".service", s["service"], "service name may only contain letters, "
                                      "digits and _-+/* (libvirt refuses anything else)")
            for key in ("domain", "target"):
                if s.get(key):
                    rec[key] = _hostname("%s.%s" % (opt, key), s[key])
            if s.get("port") is not None:
                rec["port"] = v.port(opt + ".port", s["port"])
            for key in ("priority", "weight"):
                if s.get(key) is not None:
                    if not 0 <= int(s[key]) <= 65535:
                        raise ValidationError("%s.%s" % (opt, key), s[key], "must be 0 to 65535")
                    rec[key] = int(s[key])
            srv.append(tuple(sorted(rec.items())))
        srv = tuple(sorted(srv))
    return Dns(enable=params.get("enable"), forwarders=forwarders, hosts=hosts, srv=srv, txt=txt)


def network_from_params(p: dict) -> Desired:
    """Validate the task's parameters into a :class:`Desired`; raises
    ValidationError naming the option and value."""
    name = v.objname("name", p["name"])
    fwd = p.get("forward") or {}
    mode = fwd.get("mode")
    if mode is not None:
        v.one_of("forward.mode", mode, MODES)
    eff_mode = mode
    dev = fwd.get("dev")
    if dev is not None:
        v.ifname("forward.dev", dev)
        if mode is not None and mode not in ("nat", "route"):
            raise ValidationError("forward.dev", dev, "restricting to a device only works with forward.mode "
                                  "nat or route (forward.mode=%s)" % mode)
    nat_address = nat_port = None
    nat = fwd.get("nat")
    if nat:
        if mode is not None and mode != "nat":
            raise ValidationError("forward.nat", "set", "NAT options need forward.mode=nat (forward.mode=%s)" % mode)
        if nat.get("address"):
            a = nat["address"]
            s = v.ip_address("forward.nat.address.start", a["start"], version=4)
            e = v.ip_address("forward.nat.address.end", a.get("end") or a["start"], version=4)
            if e < s:
                raise ValidationError("forward.nat.address.end", a.get("end"), "is before start=%s" % s)
            nat_address = (str(s), str(e))
        if nat.get("port"):
            pt = nat["port"]
            s = v.port("forward.nat.port.start", pt["start"])
            e = v.port("forward.nat.port.end", pt["end"])
            if e < s:
                raise ValidationError("forward.nat.port.end", pt["end"], "is below start=%s" % s)
            nat_port = None if (s, e) == NAT_PORTS_DEFAULT else (s, e)
    br = p.get("bridge") or {}
    bridge = br.get("name")
    if bridge is not None:
        v.ifname("bridge.name", bridge)
    if eff_mode == "bridge":
        if bridge is None:
            raise ValidationError("bridge.name", None, "forward.mode=bridge needs the name of an existing host bridge")
        for key in ("stp", "delay"):
            if br.get(key) is not None:
                raise ValidationError("bridge.%s" % key, br[key], "libvirt does not manage the host bridge of "
                                      "forward.mode=bridge; set STP on the host bridge itself")
    delay = br.get("delay")
    if delay is not None and not 0 <= delay <= 300:
        raise ValidationError("bridge.delay", delay, "forward delay must be 0 to 300 seconds")
    mtu = p.get("mtu")
    if mtu is not None and not 68 <= mtu <= 65535:
        raise ValidationError("mtu", mtu, "MTU must be 68 to 65535")
    dom = p.get("domain") or {}
    domain = _hostname("domain.name", dom["name"]) if dom.get("name") else None
    if dom.get("local_only") is not None and domain is None:
        raise ValidationError("domain.local_only", dom["local_only"], "needs domain.name")
    ips = None
    if p.get("ips") is not None:
        if eff_mode == "bridge" and p["ips"]:
            raise ValidationError("ips", p["ips"][0].get("address"), "forward.mode=bridge networks have no "
                                  "addresses of their own; libvirt only plugs guests into the host bridge")
        ips = _ips(p["ips"], eff_mode)
    dns = None
    if p.get("dns") is not None:
        if eff_mode == "bridge":
            raise ValidationError("dns", "set", "forward.mode=bridge networks have no DNS server of their own")
        dns = _dns(p["dns"], ips)
    if eff_mode == "bridge":
        for opt in ("domain", "mtu"):
            if p.get(opt) is not None and opt == "domain":
                raise ValidationError("domain.name", dom.get("name"), "forward.mode=bridge networks have no DNS "
                                      "domain of their own")
    opts = None
    if p.get("dnsmasq_options") is not None:
        opts = tuple(str(o) for o in p["dnsmasq_options"])
        for i, o in enumerate(opts):
            if not o or "\n" in o:
                raise ValidationError("dnsmasq_options[%d]" % i, o, "must be one non-empty line")
    net = Network(name=name, mode=mode, dev=dev, nat_address=nat_address, nat_port=nat_port, bridge=bridge,
                  stp=br.get("stp"), delay=delay, mtu=mtu, domain=domain,
                  domain_local_only=dom.get("local_only") if domain else None,
                  ips=ips, dns=dns, dnsmasq_options=opts)
    return Desired(network=net, state=p.get("state") or "running", autostart=p.get("autostart"),
                   restart=bool(p.get("restart")))


def check_combined(net: Network) -> None:
    """The task's options merged with what the network already has must
    still fit together (``forward.nat`` given for a network that is already
    in route mode, ``ips`` added to a bridge-mode network, ...)."""
    mode = net.mode
    if mode != "nat" and (net.nat_address or net.nat_port):
        raise ValidationError("forward.nat", "set", "NAT options need forward mode nat; the network's mode is %s"
                              % mode)
    if net.dev and mode not in ("nat", "route"):
        raise ValidationError("forward.dev", net.dev, "restricting to a device only works with forward mode nat or "
                              "route; the network's mode is %s" % mode)
    if mode == "bridge":
        if net.ips:
            raise ValidationError("ips", net.ips[0].address, "the network's forward mode is bridge: it has no "
                                  "addresses of its own")
        dns = net.dns or Dns()
        if dns.hosts or dns.srv or dns.txt or dns.forwarders or dns.enable is not None:
            raise ValidationError("dns", "set", "the network's forward mode is bridge: it has no DNS server")
        if net.domain:
            raise ValidationError("domain.name", net.domain, "the network's forward mode is bridge: it has no "
                                  "DNS domain")


@functools.lru_cache(maxsize=4096)
def _cidr(address: str) -> Any:
    """The subnet of an address/prefix (read once: a host with many networks
    compares each with every other one)."""
    return netaddr.IPNetwork(address).cidr


def check_against_host(net: Network, *, others: list, routes: list, links: dict | None = None) -> None:
    """Cross-checks that need the host: subnets overlapping another libvirt
    network (``others``: [(name, Network)]) or a host route (``routes``:
    [(IPNetwork, device)]), libvirt accepts both and then misroutes; and
    host interfaces that must exist (``links``: {name: is_bridge}, None when
    the host cannot be seen): libvirt starts a bridge-mode network on a
    missing bridge and only fails when a guest plugs in."""
    check_combined(net)
    for oname, other in others:
        if oname != net.name and net.bridge and other.bridge == net.bridge and net.mode != "bridge":
            raise ValidationError("bridge.name", net.bridge, "is the bridge of libvirt network %r" % oname)
    if links is not None:
        if net.mode == "bridge" and not links.get(net.bridge):
            raise ValidationError("bridge.name", net.bridge, "no such bridge on the host" if net.bridge not in links
                                  else "is not a bridge")
        if net.dev and net.dev not in links:
            raise ValidationError("forward.dev", net.dev, "no such interface on the host")
    for i, ip in enumerate(net.ips or ()):
        mine = netaddr.IPNetwork(ip.address).cidr
        for oname, other in others:
            if oname == net.name:
                continue
            for oip in other.ips or ():
                theirs = _cidr(oip.address)
                if mine in theirs or theirs in mine:
                    raise ValidationError("ips[%d].address" % i, ip.address,
                                          "overlaps %s of libvirt network %r" % (theirs, oname))
        for route, dev in routes:
            if route.prefixlen == 0 or route.version != mine.version:
                continue
            if dev and dev == net.bridge:
                continue
            if mine in route or route in mine:
                raise ValidationError("ips[%d].address" % i, ip.address,
                                      "overlaps the host route %s dev %s" % (route, dev))
