# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the network _info module returns: read only, never changes the host."""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.network.engine import LIBVIRT_ERRORS, read_network
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree
from ansible_collections.virtnet.networking.plugins.module_utils.network import model as netm
from ansible_collections.virtnet.networking.plugins.module_utils.network import plan as npl
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import Libvirt, libvirt_error


def _attached(lv: Libvirt) -> dict:
    """network name -> [{guest, mac, tap, active}] from every domain's XML."""
    out: dict = {}
    for dom in lv.domains():
        active = bool(dom.isActive())
        root = etree.fromstring(dom.XMLDesc(0).encode())
        # Not only type='network': after a live update-device that moved a NIC
        # onto a network, libvirt (11.3) shows the running NIC with its actual
        # type ('bridge') and still names the network in <source network=>.
        for iface in root.xpath("devices/interface[source/@network]"):
            src = iface.find("source")
            mac = iface.find("mac")
            tgt = iface.find("target")
            out.setdefault(src.get("network"), []).append({
                "guest": dom.name(), "active": active,
                "mac": mac.get("address") if mac is not None else None,
                "tap": tgt.get("dev") if (tgt is not None and active) else None,
            })
    return out


def info(lv: Libvirt, name: str | None = None) -> dict:
    try:
        return _info(lv, name)
    except LIBVIRT_ERRORS as err:
        raise libvirt_error("reading networks", err)


def _info(lv: Libvirt, name: str | None = None) -> dict:
    if name is not None and ("/" in name or not name.strip()):
        # libvirt itself refuses such names: no network can have one.
        raise ValidationError("name", name, "not a possible libvirt network name (empty, or contains '/')")
    nets = lv.networks()
    if name is not None:
        nets = [n for n in nets if n.name() == name]
    attached = _attached(lv)
    result = []
    for net in sorted(nets, key=lambda n: n.name()):
        state = read_network(lv, net)
        entry = npl.export_state(state)
        entry["live"] = netm.export(state.live) if state.live is not None else None
        entry["restart_pending"] = bool(state.live is not None and netm.export(state.live) != netm.export(state.config))
        entry["leases"] = []
        if state.active:
            for lease in lv.call("reading DHCP leases of %r" % net.name(), net.DHCPLeases):
                entry["leases"].append({
                    "mac": lease.get("mac"), "ip": lease.get("ipaddr"), "prefix": lease.get("prefix"),
                    "hostname": lease.get("hostname"), "expiry": lease.get("expirytime"),
                    "family": "ipv6" if lease.get("type") == 1 else "ipv4",
                })
        entry["guests"] = attached.get(net.name(), [])
        entry["ports"] = []
        if state.active and hasattr(net, "listAllPorts"):
            for port in lv.call("listing ports of %r" % net.name(), net.listAllPorts, 0):
                root = etree.fromstring(port.XMLDesc(0).encode())
                owner = root.find("owner")
                mac = root.find("mac")
                entry["ports"].append({
                    "uuid": root.findtext("uuid"),
                    "owner": owner.findtext("name") if owner is not None else None,
                    "mac": mac.get("address") if mac is not None else None,
                })
        result.append(entry)
    return {"networks": result}
