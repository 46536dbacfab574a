# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hypervisor as the modules see it: is libvirt local, its routes, its
links.  Shared by the component engines, so none imports another's engine."""

from __future__ import annotations

from urllib.parse import urlparse
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr


def is_local(uri: str) -> bool:
    """True when libvirt runs on the machine the module runs on (so the
    module can read the hypervisor's routes)."""
    return not urlparse(uri).hostname


def read_routes(fs: FsRoot) -> list:
    """[(IPNetwork, device)] from /proc/net/route and /proc/net/ipv6_route."""
    routes = []
    for line in (fs.read("/proc/net/route", "") or "").splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        dest = netaddr.IPAddress(int.from_bytes(bytes.fromhex(f[1]), "little"))
        mask = netaddr.IPAddress(int.from_bytes(bytes.fromhex(f[7]), "little"))
        routes.append((netaddr.IPNetwork("%s/%d" % (dest, mask.netmask_bits())), f[0]))
    for line in (fs.read("/proc/net/ipv6_route", "") or "").splitlines():
        f = line.split()
        if len(f) < 10 or f[9] == "lo":
            continue
        dest = netaddr.IPAddress(int(f[0], 16), 6)
        plen = int(f[1], 16)
        if dest.is_link_local() or dest.is_multicast() or plen == 128:
            continue
        routes.append((netaddr.IPNetwork("%s/%d" % (dest, plen)), f[9]))
    return routes


def read_links(fs: FsRoot) -> dict | None:
    """{interface name: is a bridge} from /sys/class/net (None without sysfs)."""
    names = fs.net_interfaces()
    if not names:
        return None
    return {name: fs.exists("/sys/class/net/%s/bridge" % name) for name in names}
