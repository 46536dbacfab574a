# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The normalized model of one libvirt network, and its validator.

Both sides are expressed in this model: the task's parameters (*want*) and
libvirt's XML (*have*, see network_xml).  Normalization makes them
comparable: lowercase MACs, canonical addresses, prefixes instead of
netmasks, repeated children as sorted tuples keyed by identity, and the
values libvirt fills in by itself treated as "unset".

A field left ``None`` in *want* is not managed: :func:`merge` takes it from
the host, so values libvirt picks (uuid, bridge MAC, bridge name, STP) never
show up as a difference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError

try:
    import netaddr
except ImportError:  # reported by the module
    netaddr = None

MODES = ("nat", "route", "bridge", "open", "isolated")
# Modes where libvirt creates the bridge and may run dnsmasq.
OWN_BRIDGE = ("nat", "route", "open", "isolated")
NAT_PORTS_DEFAULT = (1024, 65535)


@dataclass(frozen=True)
class Host:
    ip: str
    mac: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Ip:
    address: str              # "192.0.2.1/24", canonical
    ranges: tuple = ()        # ((start, end), ...), sorted
    hosts: tuple = ()         # (Host, ...), sorted
    dhcp: bool = False        # has a <dhcp> element at all

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4


@dataclass(frozen=True)
class Dns:
    enable: bool | None = None
    forwarders: tuple | None = None   # ((addr|None, domain|None), ...) in order
    hosts: tuple | None = None        # ((ip, (hostname, ...)), ...) sorted
    srv: tuple | None = None          # (dict items tuple, ...)
    txt: tuple | None = None          # ((name, value), ...)


@dataclass(frozen=True)
class Network:
    name: str
    mode: str | None = None
    dev: str | None = None
    nat_address: tuple | None = None
    nat_port: tuple | None = None
    bridge: str | None = None
    stp: bool | None = None
    delay: int | None = None
    mtu: int | None = None
    domain: str | None = None
    domain_local_only: bool | None = None
    ips: tuple | None = None
    dns: Dns | None = None
    dnsmasq_options: tuple | None = None


@dataclass
class Desired:
    """What the task asks for, beyond the XML."""

    network: Network
    state: str = "running"
    autostart: bool | None = None
    restart: bool = False


# --------------------------------------------------------------------------
# merge: want over have
# --------------------------------------------------------------------------

def merge(want: Network, have: Network | None) -> Network:
    """The network to converge to: every unset field of ``want`` from
    ``have`` (or, for a network that does not exist yet, libvirt's own
    default, so check mode can predict what libvirt will store)."""
    if have is None:
        mode = want.mode or "nat"
        fill: dict = {"mode": mode}
        if mode in OWN_BRIDGE:
            fill.update(stp=True if want.stp is None else want.stp, delay=0 if want.delay is None else want.delay)
        return filled(dataclasses.replace(want, **fill))
    out = {}
    for f in dataclasses.fields(Network):
        w = getattr(want, f.name)
        if f.name == "dns" and w is not None and have.dns is not None:
            w = Dns(**{g.name: getattr(w, g.name) if getattr(w, g.name) is not None else getattr(have.dns, g.name)
                       for g in dataclasses.fields(Dns)})
        out[f.name] = w if w is not None else getattr(have, f.name)
    merged = Network(**out)
    if want.mode is not None and want.mode != have.mode:
        merged = _switch_mode(want, have, merged)
    return filled(merged)


def filled(net: Network) -> Network:
    """Unset lists as libvirt reads them back: empty."""
    dns = net.dns or Dns()
    dns = Dns(enable=dns.enable, **{k: getattr(dns, k) or () for k in ("forwarders", "hosts", "srv", "txt")})
    return dataclasses.replace(net, ips=net.ips or (), dns=dns, dnsmasq_options=net.dnsmasq_options or ())


def _switch_mode(want: Network, have: Network, merged: Network) -> Network:
    """Settings of the old forward mode do not carry over to a new one."""
    change: dict = {"dev": want.dev, "nat_address": want.nat_address, "nat_port": want.nat_port}
    if merged.mode == "bridge":
        # An existing host bridge: libvirt owns no address, DHCP or DNS there.
        change.update(bridge=want.bridge, stp=None, delay=None, ips=(), dns=None, domain=None,
                      domain_local_only=None, dnsmasq_options=None, mtu=want.mtu)
    elif have.mode == "bridge":
        # From a host bridge to one libvirt creates: its name is picked on define.
        change.update(bridge=want.bridge, stp=True if want.stp is None else want.stp,
                      delay=0 if want.delay is None else want.delay)
    return dataclasses.replace(merged, **change)


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
            if mode == "bridge":
                raise ValidationError(opt + ".dhcp", "set", "DHCP needs a network libvirt runs dnsmasq on; "
                                      "forward.mode=bridge uses an existing host bridge")
            if net.version in dhcp_families:
                raise ValidationError(opt + ".dhcp", "set", "libvirt allows DHCP on only one IPv%d address of "
                                      "a network" % net.version)
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
        out.append(Ip(address=str(net), ranges=tuple(sorted(ranges, key=_range_key)),
                      hosts=tuple(sorted(hosts, key=_host_key)), dhcp=dhcp is not None))
    return tuple(out)


def _range_key(r: tuple) -> tuple:
    return (int(netaddr.IPAddress(r[0])), int(netaddr.IPAddress(r[1])))


def _host_key(h: Host) -> tuple:
    return (int(netaddr.IPAddress(h.ip)), h.mac or "", h.name or "")


def _hostname(option: str, value: Any) -> str:
    text = str(value)
    labels = text.split(".")
    if not text or len(text) > 253 or not all(
            lab and len(lab) <= 63 and lab[0] != "-" and lab[-1] != "-"
            and all(c.isalnum() or c == "-" for c in lab) for lab in labels):
        raise ValidationError(option, value, "not a valid host name")
    return text.lower()


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
            txt.append((name, str(t["value"])))
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
        if mode not in ("nat", "route"):
            raise ValidationError("forward.dev", dev, "restricting to a device only works with forward.mode "
                                  "nat or route (forward.mode=%s)" % mode)
    nat_address = nat_port = None
    nat = fwd.get("nat")
    if nat:
        if mode != "nat":
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


def check_against_host(net: Network, others: list, routes: list, links: dict | None = None) -> None:
    """Cross-checks that need the host: subnets overlapping another libvirt
    network (``others``: [(name, Network)]) or a host route (``routes``:
    [(IPNetwork, device)]), libvirt accepts both and then misroutes; and
    host interfaces that must exist (``links``: {name: is_bridge}, None when
    the host cannot be seen): libvirt starts a bridge-mode network on a
    missing bridge and only fails when a guest plugs in."""
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
                theirs = netaddr.IPNetwork(oip.address).cidr
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


def export(net: Network | None) -> dict:
    """JSON view of a network model (for diff and return values)."""
    if net is None:
        return {}
    out: dict = {"name": net.name, "forward": {"mode": net.mode}}
    if net.dev:
        out["forward"]["dev"] = net.dev
    if net.nat_address or net.nat_port:
        out["forward"]["nat"] = {}
        if net.nat_address:
            out["forward"]["nat"]["address"] = {"start": net.nat_address[0], "end": net.nat_address[1]}
        if net.nat_port:
            out["forward"]["nat"]["port"] = {"start": net.nat_port[0], "end": net.nat_port[1]}
    out["bridge"] = {k: val for k, val in (("name", net.bridge), ("stp", net.stp), ("delay", net.delay))
                     if val is not None}
    out["mtu"] = net.mtu
    out["domain"] = {"name": net.domain, "local_only": net.domain_local_only} if net.domain else None
    out["ips"] = []
    for ip in net.ips or ():
        entry: dict = {"address": ip.address, "family": "ipv%d" % ip.family}
        if ip.dhcp:
            entry["dhcp"] = {
                "ranges": [{"start": s, "end": e} for s, e in ip.ranges],
                "hosts": [{k: val for k, val in (("mac", h.mac), ("ip", h.ip), ("name", h.name)) if val is not None}
                          for h in ip.hosts],
            }
        out["ips"].append(entry)
    dns = net.dns or Dns()
    out["dns"] = {
        "enable": dns.enable,
        "forwarders": [{k: val for k, val in (("addr", a), ("domain", d)) if val} for a, d in dns.forwarders or ()],
        "hosts": [{"ip": ip, "hostnames": list(names)} for ip, names in dns.hosts or ()],
        "srv": [dict(rec) for rec in dns.srv or ()],
        "txt": [{"name": n, "value": val} for n, val in dns.txt or ()],
    }
    out["dnsmasq_options"] = list(net.dnsmasq_options or ())
    return out

