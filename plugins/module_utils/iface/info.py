# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the iface _info module returns: read only, never changes the host."""

from __future__ import annotations

from typing import Any
from ansible_collections.virtnet.networking.plugins.module_utils.iface.engine import DomainXml
from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as im
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


def info(lv: Libvirt, domain: str | None = None) -> dict:
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
            entry.update(
                host_dev=tgt.get("dev") if (tgt is not None and d.running) else None,
                device_alias=alias.get("name") if alias is not None else None,
                addresses=addrs.get(m.mac, []),
                in_config=m.mac in config_macs if d.persistent else False,
            )
            ifaces.append(entry)
        # NICs only in the config (added while running, restart pending).
        pending = [im.export(m, with_address=True) for m, _el in d.config_ifaces
                   if d.running and m.mac not in live_macs]
        result.append({"name": d.name, "running": d.running, "persistent": d.persistent,
                       "interfaces": ifaces, "config_only": pending})
    return {"domains": result}
