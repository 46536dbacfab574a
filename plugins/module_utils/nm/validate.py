# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parameters of ``nm_bond_bridge`` turned into the wanted Topology: the
only place that refuses bad input (``option=value: reason``)."""

from __future__ import annotations

import re

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr
from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.nm.model import BOND_MODES, Bond, IPConfig, Topology


# Configuring virtual machine network connections, 15.3.3 ("bridged mode"): only these work with a VM on the bridge.
SAFE_BOND_MODES = ("active-backup", "balance-xor", "802.3ad")
UNSAFE_MODE_REASON = ("with a bridge used by virtual machines only bonding modes 1 (active-backup), "
                      "2 (balance-xor) and 4 (802.3ad) work; modes 0, 3, 5 and 6 are likely to make "
                      "the guests' connections fail. Set bond.allow_unsafe_mode=true to override")
ARP_REASON = ("ARP monitoring does not work correctly for a bond under a bridge used by virtual "
              "machines; use MII monitoring (bond.miimon) instead")


# bond.options we model ourselves, or that the rules forbid.
ARP_OPTIONS = ("arp_interval", "arp_ip_target", "arp_validate", "arp_all_targets", "arp_missed_max")


IP_METHODS = {4: ("disabled", "auto", "manual"), 6: ("disabled", "ignore", "auto", "manual", "dhcp")}


# A search domain as NetworkManager takes it: "example.com", "~example.com"
# (routing only), "~." (all queries).
_SEARCH_RE = re.compile(r"~\.|~?[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?")


# bond options whose value is one of the bond's ports
IFNAME_BOND_OPTIONS = ("primary", "active_slave")


def _ip(option: str, params: dict | None, version: int) -> IPConfig:
    params = params or {}
    method = params.get("method") or ("manual" if params.get("addresses") else "disabled")
    v.one_of(option + ".method", method, IP_METHODS[version])
    addrs = []
    for i, text in enumerate(params.get("addresses") or []):
        opt = "%s.addresses[%d]" % (option, i)
        net = v.ip_interface(opt, text, version=version)
        if version == 4 and net.prefixlen < 32 and net.prefixlen != 31 and net.ip in (net.network, net.broadcast):
            raise ValidationError(opt, text, "is the network or broadcast address of its subnet, not a host address")
        if net.prefixlen == 0:
            raise ValidationError(opt, text, "a prefix length of 0 is not a host address")
        addrs.append(str(net))
    gateway = params.get("gateway")
    if gateway:
        gw = v.ip_address(option + ".gateway", gateway, version=version)
        if addrs and not any(gw in netaddr.IPNetwork(a) for a in addrs):
            raise ValidationError(option + ".gateway", gateway,
                                  "is outside the subnets of %s.addresses (%s); the host could not reach it"
                                  % (option, ", ".join(addrs)))
        gateway = str(gw)
    dns = [str(v.ip_address("%s.dns[%d]" % (option, i), d, version=version))
           for i, d in enumerate(params.get("dns") or [])]
    search = []
    for i, dom in enumerate(params.get("dns_search") or []):
        if not isinstance(dom, str) or not _SEARCH_RE.fullmatch(dom):
            # NetworkManager stores (and writes to resolv.conf) whatever it is
            # given, quotes and slashes included: only domain names pass.
            raise ValidationError("%s.dns_search[%d]" % (option, i), dom,
                                  "not a DNS domain name (letters, digits, '-' and '_' in dot-separated labels; "
                                  "a leading '~' makes it a routing-only domain)")
        search.append(dom)
    if method == "manual" and not addrs:
        raise ValidationError(option + ".addresses", [], "method manual needs at least one address")
    if method != "manual":
        for key, value in (("addresses", addrs), ("gateway", gateway)):
            if value:
                raise ValidationError("%s.%s" % (option, key), params.get(key),
                                      "only valid with %s.method=manual (it is %s)" % (option, method))
    if method in ("disabled", "ignore") and (dns or search):
        raise ValidationError(option + ".dns", params.get("dns") or params.get("dns_search"),
                              "DNS settings need an IP method other than %s" % method)
    return IPConfig(method=method, addresses=sorted(addrs), gateway=gateway, dns=dns, dns_search=search)


def normalize_mode(option: str, mode) -> str:
    text = str(mode).strip().lower()
    text = BOND_MODES.get(text, text)
    v.one_of(option, text, list(BOND_MODES.values()))
    return text


def want_from_params(params: dict) -> tuple:
    """Return ``(Topology, warnings)`` or raise ValidationError."""
    warnings = []
    name = v.ifname("name", params["name"])
    ports = [v.ifname("ports[%d]" % i, p) for i, p in enumerate(params.get("ports") or [])]
    bond = None
    bp = params.get("bond")
    if bp:
        bname = v.ifname("bond.name", bp.get("name"))
        mode = normalize_mode("bond.mode", bp.get("mode") or "active-backup")
        if mode not in SAFE_BOND_MODES:
            if not bp.get("allow_unsafe_mode"):
                raise ValidationError("bond.mode", bp.get("mode"), UNSAFE_MODE_REASON)
            warnings.append("bond.mode=%s under a VM bridge: %s" % (mode, UNSAFE_MODE_REASON.split(". Set", maxsplit=1)[0]))
        miimon = bp.get("miimon", 100)
        try:
            miimon = int(miimon)
        except (TypeError, ValueError):
            raise ValidationError("bond.miimon", miimon, "not a number of milliseconds")
        if miimon <= 0:
            raise ValidationError("bond.miimon", miimon,
                                  "MII monitoring is required under a VM bridge; give an interval > 0 ms "
                                  "(100 is usual)")
        options = {}
        for key, value in (bp.get("options") or {}).items():
            k = str(key).strip().lower().replace("-", "_")
            if k in ARP_OPTIONS:
                raise ValidationError("bond.options.%s" % key, value, ARP_REASON)
            if k in ("mode", "miimon"):
                raise ValidationError("bond.options.%s" % key, value,
                                      "set it with bond.%s, not in bond.options" % k)
            if not k or any(c in k + str(value) for c in ",= \t\n"):
                raise ValidationError("bond.options.%s" % key, value,
                                      "bond option names and values may not contain ',', '=' or blanks")
            if k in IFNAME_BOND_OPTIONS:
                # NetworkManager refuses anything else only when the profile
                # is written, i.e. mid-change: refuse it before, in check mode too
                v.ifname("bond.options.%s" % key, value)
            options[k] = str(value).lower() if isinstance(value, bool) else str(value)
        bports = [v.ifname("bond.ports[%d]" % i, p) for i, p in enumerate(bp.get("ports") or [])]
        if not bports:
            raise ValidationError("bond.ports", bp.get("ports"), "a bond needs at least one ethernet port")
        if bname == name:
            raise ValidationError("bond.name", bname, "the bond and the bridge need different names")
        bond = Bond(name=bname, mode=mode, miimon=miimon, options=options, ports=sorted(set(bports)))
    seen: dict = {}
    for opt, ifn in ([("ports", p) for p in ports] + [("bond.ports", p) for p in (bond.ports if bond else [])]):
        if ifn in (name, bond.name if bond else None):
            raise ValidationError(opt, ifn, "a port cannot be the bridge or the bond itself")
        if ifn in seen:
            raise ValidationError(opt, ifn, "is listed twice (also in %s)" % seen[ifn])
        seen[ifn] = opt
    zone = params.get("zone")
    if zone is not None and not re.fullmatch(r"[A-Za-z0-9_+-]{0,17}", zone):
        raise ValidationError("zone", zone, "not a firewalld zone name (letters, digits, _ + -, at most 17; "
                                            "\"\" for the default zone)")
    topo = Topology(name=name, stp=bool(params.get("stp")),
                    autoconnect_ports=bool(params.get("autoconnect_ports", True)),
                    ipv4=_ip("ipv4", params.get("ipv4"), 4), ipv6=_ip("ipv6", params.get("ipv6"), 6),
                    ports=sorted(set(ports)), bond=bond, zone=zone)
    move = params.get("move_ip_from")
    if move:
        v.ifname("move_ip_from", move)
        if move not in seen:
            raise ValidationError("move_ip_from", move,
                                  "must be one of the bridge's ports (ports or bond.ports): its IP settings "
                                  "move to the bridge because a port cannot keep them")
        if params.get("ipv4") or params.get("ipv6"):
            raise ValidationError("move_ip_from", move,
                                  "cannot be combined with ipv4/ipv6: the bridge takes that interface's settings")
    return topo, warnings
