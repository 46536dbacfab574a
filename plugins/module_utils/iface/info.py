# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the iface _info module returns: read only, never changes the host."""

from __future__ import annotations

from typing import Any
from ansible_collections.virtnet.networking.plugins.module_utils.iface.engine import DomainXml
from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as im
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt, flag


_ADDR_SOURCES = (("lease", "VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE", 0),
                 ("agent", "VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT", 1),
                 ("arp", "VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP", 2))


def addresses(dom: Any) -> dict:
    """MAC -> [{address, prefix, family, origin}] from DHCP leases, the
    guest agent (when there is one) and the host's ARP table."""
    out: dict = {}
    for origin, name, default in _ADDR_SOURCES:
        try:
            found = dom.interfaceAddresses(flag(name, default), 0) or {}
        except Exception:  # noqa: BLE001 - no agent, no lease file: that source has nothing
            continue
        for val in found.values():
            mac = (val.get("hwaddr") or "").lower()
            for a in val.get("addrs") or ():
                entry = {"address": a.get("addr"), "prefix": a.get("prefix"),
                         "family": "ipv6" if a.get("type") == 1 else "ipv4", "origin": origin}
                if not any(e["address"] == entry["address"] for e in out.get(mac, ())):
                    out.setdefault(mac, []).append(entry)
    return out


def arp_devices(fs: FsRoot) -> dict:
    """(address, mac) -> device of every complete entry of the host's ARP
    table (/proc/net/arp)."""
    out = {}
    for line in (fs.read("/proc/net/arp", "") or "").splitlines()[1:]:
        f = line.split()
        if len(f) >= 6 and int(f[2], 16) & 0x2:  # ATF_COM: the entry is complete
            out[(f[0], f[3].lower())] = f[5]
    return out


def ipv4_subnet(name: str) -> Any:
    """The IPv4 subnet of host interface ``name`` (its primary address), or
    None when it has none or it cannot be read."""
    import fcntl
    import socket
    import struct

    req = struct.pack("256s", name.encode()[:15])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            addr = socket.inet_ntoa(fcntl.ioctl(sock.fileno(), 0x8915, req)[20:24])   # SIOCGIFADDR
            mask = socket.inet_ntoa(fcntl.ioctl(sock.fileno(), 0x891B, req)[20:24])   # SIOCGIFNETMASK
    except OSError:
        return None
    return netaddr.IPNetwork("%s/%s" % (addr, mask))


def _current_arp(entries: list, mac: str, bridge: str | None, arp: dict | None, subnet: Any = None) -> list:
    """Drop ARP-derived addresses the NIC does not have on its current
    bridge. libvirt's ARP source matches the MAC on any host interface, so
    after a guest moved from one network to another, the old network's
    address (still in the host's table, or announced by the guest while it
    renewed) was reported as the NIC's address. An IPv4 entry on the right
    bridge still counts only inside the bridge's own subnet when the bridge
    has one: a guest that moved keeps its old address until its new lease,
    and the host answers its ARP on the new bridge too."""
    if arp is None or not bridge:
        return entries
    kept = []
    for e in entries:
        if e["origin"] == "arp":
            if arp.get((e["address"], mac)) != bridge:
                continue
            if subnet is not None and e["family"] == "ipv4" and netaddr.IPAddress(e["address"]) not in subnet:
                continue
        kept.append(e)
    return kept


def info(lv: Libvirt, domain: str | None = None, *, fs: FsRoot | None = None, subnet_of: Any = None) -> dict:
    # The host's ARP table and bridges are readable only where libvirt runs on this host.
    arp = arp_devices(fs or FsRoot("/")) if lv.is_local else None
    subnet_of = subnet_of or ipv4_subnet
    doms = lv.domains()
    if domain is not None:
        doms = [d for d in doms if d.name() == domain]
    result = []
    for dom in sorted(doms, key=lambda x: x.name()):
        d = DomainXml(lv, dom)
        addrs = addresses(dom) if d.running else {}
        config_macs = {m.mac for m, _el in d.config_ifaces}
        live_macs = {m.mac for m, _el in d.live_ifaces}
        ifaces = []
        for m, el in (d.live_ifaces if d.running else d.config_ifaces):
            entry = im.export(m, with_address=True)
            if m.type not in im.TYPES:
                entry["source"] = None
            tgt = el.find("target")
            alias = el.find("alias")
            src = el.find("source")
            bridge = src.get("bridge") if (d.running and src is not None) else None
            entry.update(
                host_dev=tgt.get("dev") if (tgt is not None and d.running) else None,
                device_alias=alias.get("name") if alias is not None else None,
                addresses=_current_arp(addrs.get(m.mac, []), m.mac, bridge, arp,
                                       subnet_of(bridge) if (arp is not None and bridge) else None),
                in_config=m.mac in config_macs if d.persistent else False,
            )
            ifaces.append(entry)
        # NICs only in the config (added while running, restart pending).
        pending = [im.export(m, with_address=True) for m, _el in d.config_ifaces
                   if d.running and m.mac not in live_macs]
        result.append({"name": d.name, "running": d.running, "persistent": d.persistent,
                       "interfaces": ifaces, "config_only": pending})
    return {"domains": result}
