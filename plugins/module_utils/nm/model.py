# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model of a VM bridge managed through NetworkManager, and its rules.

``Topology`` is what the user declares (*want*) and what is read back from
NetworkManager (*have*): the same dataclasses on both sides, normalized the
same way (addresses as ``netaddr`` text with prefix, bond modes by name,
bond options as a dict), so comparing them is a plain ``==``.

The bonding rules of Configuring virtual machine network connections, 15.3.3 (bridged mode) live in
nm/validate.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import netaddr


# The kernel's bonding modes: number -> name, as NetworkManager stores them.
BOND_MODES = {"0": "balance-rr", "1": "active-backup", "2": "balance-xor", "3": "broadcast",
              "4": "802.3ad", "5": "balance-tlb", "6": "balance-alb"}
BOND_MODE_NUMBER = {name: num for num, name in BOND_MODES.items()}


@dataclass
class IPConfig:
    method: str = "disabled"
    addresses: list = field(default_factory=list)   # "192.0.2.1/24", sorted
    gateway: str | None = None
    dns: list = field(default_factory=list)          # order kept: it is the resolver order
    dns_search: list = field(default_factory=list)


@dataclass
class Bond:
    name: str
    mode: str = "active-backup"
    miimon: int = 100
    options: dict = field(default_factory=dict)     # other bond options, str -> str
    ports: list = field(default_factory=list)       # ethernet ifnames, sorted


@dataclass
class Topology:
    name: str
    stp: bool = False
    autoconnect_ports: bool = True
    ipv4: IPConfig = field(default_factory=IPConfig)
    ipv6: IPConfig = field(default_factory=IPConfig)
    ports: list = field(default_factory=list)        # ethernet ifnames directly on the bridge
    bond: Bond | None = None
    zone: str | None = None     # firewalld zone (connection.zone); "" the default zone, None not managed

    @property
    def ethernet_ports(self) -> list:
        """Every physical interface involved, with the master it belongs to."""
        pairs = [(p, self.name) for p in self.ports]
        if self.bond:
            pairs += [(p, self.bond.name) for p in self.bond.ports]
        return pairs

    def as_dict(self) -> dict:
        return asdict(self)


def split_list(value: str) -> list:
    """A multi-valued NetworkManager property (``a, b`` or ``a,b``) into its items."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def port_profile_name(master: str, ifname: str) -> str:
    """Our name for the profile that makes ``ifname`` a port of ``master``."""
    return "%s-port-%s" % (master, ifname)


# -- want: parameters -> validated Topology -------------------------------


# -- have: NetworkManager properties -> the same model ---------------------

def ip_from_props(props: dict, version: int) -> IPConfig:
    p = "ipv%d." % version
    method = props.get(p + "method", "disabled") or "disabled"
    if method == "link-local":
        method = "auto"
    addrs = sorted(str(netaddr.IPNetwork(a)) for a in split_list(props.get(p + "addresses", "")))
    gateway = props.get(p + "gateway") or None
    dns = split_list(props.get(p + "dns", ""))
    search = split_list(props.get(p + "dns-search", ""))
    return IPConfig(method=method, addresses=addrs, gateway=gateway, dns=dns, dns_search=search)


def bond_options_from_text(text: str) -> tuple:
    """``mode=active-backup,miimon=100,x=y`` -> (mode, miimon, {x: y})."""
    opts = {}
    for item in (text or "").split(","):
        key, sep, value = item.partition("=")
        if sep:
            opts[key.strip()] = value.strip()
    raw = opts.pop("mode", "balance-rr")
    mode = BOND_MODES.get(raw, raw)
    miimon = int(opts.pop("miimon", "0") or 0)
    return mode, miimon, opts


def bond_options_text(bond: Bond) -> str:
    items = ["mode=%s" % bond.mode, "miimon=%d" % bond.miimon]
    items += ["%s=%s" % (k, bond.options[k]) for k in sorted(bond.options)]
    return ",".join(items)
