# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hypervisor's own links, as far as a libvirt network's bridge name is
concerned.

libvirt creates the bridge of a nat / route / isolated / open network itself
when the network starts.  If a link of that name already exists the start
fails ("error creating bridge interface X: File exists") and libvirt's
cleanup of the failed start then *deletes the link of that name*: a host NIC,
a bond, an NM bridge or another network's bridge.  So the name is checked
against the host before anything is defined or started, in check mode too;
and a stale bridge that an interrupted libvirtd left behind for our own
network is recognised (and only then removed) so the network can start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.network.model import OWN_BRIDGE, Network

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr


@dataclass
class Link:
    """One host link: what it is, its bridge ports, its addresses."""

    name: str
    kind: str                                   # bridge, bond, vlan, tap, nic, veth, other
    master: str | None = None                   # the bridge / bond it is a port of
    ports: tuple = ()                           # ports, for a bridge
    addresses: tuple | None = None              # "addr/prefix"; None: not read
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        what = {
            "bridge": "an existing bridge on the host (made by NetworkManager, by hand or by another tool)",
            "bond": "a bond on the host",
            "vlan": "a VLAN interface on the host",
            "tap": "a tap device (a running guest's NIC)",
            "nic": "a network card of the host",
            "veth": "a veth interface of the host",
        }.get(self.kind, "an existing interface of the host")
        if self.master:
            what += ", a port of %s" % self.master
        if self.kind == "bridge" and self.ports:
            what += ", with ports %s" % ", ".join(self.ports)
        return what


def _kind(fs: FsRoot, name: str) -> str:
    base = "/sys/class/net/%s" % name
    if fs.exists(base + "/bridge"):
        return "bridge"
    if fs.exists(base + "/bonding"):
        return "bond"
    if fs.exists(base + "/tun_flags"):
        return "tap"
    uevent = fs.read(base + "/uevent", "") or ""
    devtype = dict(line.split("=", 1) for line in uevent.splitlines() if "=" in line).get("DEVTYPE")
    if devtype in ("vlan", "bond", "bridge"):
        return devtype
    if fs.exists("/proc/net/vlan/%s" % name):
        return "vlan"
    if fs.exists(base + "/device"):
        return "nic"
    if fs.exists(base + "/iflink") and (fs.read(base + "/iflink", "") or "").strip() \
            != (fs.read(base + "/ifindex", "") or "").strip():
        return "veth"
    return "other"


def read_link(fs: FsRoot, name: str, addresses: dict | None = None) -> Link | None:
    """The link ``name`` of the host (sysfs under ``fs``), or None."""
    base = "/sys/class/net/%s" % name
    if not fs.isdir(base):   # absent, or bonding.ko's bonding_masters file
        return None
    master = None
    if fs.exists(base + "/master"):
        try:
            master = os.path.basename(fs.readlink(base + "/master"))
        except OSError:
            master = "another interface"
    ports = tuple(sorted(fs.listdir(base + "/brif") or ()))
    addrs = None if addresses is None else tuple(addresses.get(name, ()))
    return Link(name=name, kind=_kind(fs, name), master=master, ports=ports, addresses=addrs)


def parse_ip_addr_json(doc: list) -> dict:
    """{ifname: ["addr/prefix", ...]} from ``ip -j addr show``."""
    out: dict = {}
    for entry in doc or ():
        out[entry.get("ifname")] = ["%s/%s" % (a.get("local"), a.get("prefixlen"))
                                    for a in entry.get("addr_info") or () if a.get("local")]
    return out


def foreign_addresses(link: Link, ours: Network | None) -> list:
    """The addresses of ``link`` that the definition ``ours`` does not give
    its bridge (IPv6 link-local ones the kernel adds by itself are fine)."""
    given = {str(netaddr.IPNetwork(ip.address)) for ip in (ours.ips if ours is not None else ()) or ()}
    out = []
    for addr in link.addresses or ():
        a = netaddr.IPNetwork(addr)
        if a.version == 6 and a.ip.is_link_local():
            continue
        if str(a) not in given:
            out.append(addr)
    return out


def check_bridge(want: Network, *, have: Any, links: dict | None) -> str | None:
    """Refuse a bridge name libvirt would fail to create and then delete.

    ``have`` is the network's HostState; ``links``: {name: Link} of the
    host (None when the host cannot be seen).  Returns the name of a stale
    bridge of our own network that may be removed before the start, or None.
    """
    if links is None or want.mode not in OWN_BRIDGE or not want.bridge:
        return None
    link = links.get(want.bridge)
    if link is None:
        return None
    live = have.live if have.exists and have.active else None
    if live is not None and live.bridge == want.bridge:
        return None   # the running network's own bridge
    for oname, other in have.others:
        if other.bridge == want.bridge:
            raise ValidationError("bridge.name", want.bridge, "is the bridge of libvirt network %r" % oname)
    ours = have.config if have.exists else None
    stale = (ours is not None and not have.active and ours.bridge == want.bridge and link.kind == "bridge"
             and not link.ports and link.addresses is not None and not foreign_addresses(link, ours))
    if stale:
        return want.bridge
    reason = "is %s. libvirt creates the bridge of a %s network itself: it would fail to create it and then " \
             "delete the existing interface of that name; choose a name no interface has" \
             % (link.describe(), want.mode)
    if ours is not None and ours.bridge == want.bridge and link.kind == "bridge":
        bad = foreign_addresses(link, ours) if link.addresses is not None else []
        why = ("it has ports (%s)" % ", ".join(link.ports) if link.ports
               else "it has addresses the network does not give it (%s)" % ", ".join(bad) if bad
               else "its addresses cannot be read")
        reason = ("exists on the host although network %r is not running, and is not a leftover of it that is "
                  "safe to remove: %s. Remove or rename that bridge yourself" % (have.name, why)
                  if not have.active else reason)
    raise ValidationError("bridge.name", want.bridge, reason)
