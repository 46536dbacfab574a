# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The normalized model of one libvirt network, and its validator.

Both sides are expressed in this model: the task's parameters (*want*, see
network.validate) and libvirt's XML (*have*, see network.xml).  Normalization makes them
comparable: lowercase MACs, canonical addresses, prefixes instead of
netmasks, repeated children as sorted tuples keyed by identity, and the
values libvirt fills in by itself treated as "unset".

A field left ``None`` in *want* is not managed: :func:`merge` takes it from
the host, so values libvirt picks (uuid, bridge MAC, bridge name, STP) never
show up as a difference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr

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


def range_key(r: tuple) -> tuple:
    return (int(netaddr.IPAddress(r[0])), int(netaddr.IPAddress(r[1])))


def host_key(h: Host) -> tuple:
    return (int(netaddr.IPAddress(h.ip)), h.mac or "", h.name or "")


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


@dataclass
class HostState:
    """What libvirt has for the network (and around it)."""

    name: str
    exists: bool = False
    active: bool = False
    autostart: bool = False
    persistent: bool = False
    config: Network | None = None     # parsed inactive XML
    live: Network | None = None       # parsed live XML (active only)
    config_xml: str | None = None
    others: list = field(default_factory=list)   # [(name, Network)] other networks
    routes: list = field(default_factory=list)   # [(IPNetwork, dev)] host routes
    links: dict | None = None                    # {ifname: is_bridge}; None: host not visible
    link_info: dict | None = None                # {ifname: network.bridge.Link}; None: host not visible
    guests: list = field(default_factory=list)   # running guests plugged into it
