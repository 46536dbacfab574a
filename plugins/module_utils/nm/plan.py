# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a VM bridge's NetworkManager profiles into the model, and plan the
``nmcli`` commands that converge it.

Every command is an argv list (``connection add/modify/delete/up``), built
here and nowhere else, so the unit tests can assert them exactly and check
mode shows exactly what a real run executes.  Profiles are addressed by UUID
when they exist (names may be ambiguous) and by our own names for the
profiles this plan creates.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass, field

from ansible_collections.virtnet.networking.plugins.module_utils.engine import CONFIG, NONE, RESTART, Plan
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.nm.model import (
    Bond, IPConfig, Topology, bond_options_from_text, bond_options_text, ip_from_props, port_profile_name)
from ansible_collections.virtnet.networking.plugins.module_utils.nm.nmcli import Names, Profile


@dataclass
class HaveState:
    """What NetworkManager holds for one bridge, plus what surrounds it."""

    topology: Topology | None = None
    bridge: Profile | None = None
    bond: Profile | None = None
    # ifname -> our port profile (under the bridge or the bond)
    ports: dict = field(default_factory=dict)
    # profiles under our bridge / bond that the user no longer lists
    strays: list = field(default_factory=list)
    # profile name -> Profile: standalone profiles on the wanted ports' interfaces
    standalone: dict = field(default_factory=dict)
    devices: dict = field(default_factory=dict)
    profiles: list = field(default_factory=list)


def _refs(p: Profile) -> set:
    """Every spelling by which a port profile may name ``p`` as its controller."""
    return {x for x in (p.uuid, p.name, p.ifname) if x}


def controller_of(p: Profile, names: Names) -> str:
    return p.props.get(names.controller, "") or ""


def read_have(profiles: list, devices: dict, names: Names, name: str, want_ports: list) -> HaveState:
    """Build the HaveState of bridge ``name`` from all NM profiles."""
    have = HaveState(devices=devices, profiles=profiles)
    bridges = [p for p in profiles if p.type == "bridge" and (p.ifname == name or (not p.ifname and p.name == name))]
    # Prefer the one we would have created (con-name == name), then an active one.
    bridges.sort(key=lambda p: (p.name != name, not p.active, p.uuid))
    have.bridge = bridges[0] if bridges else None
    under_bridge = [p for p in profiles if have.bridge and controller_of(p, names) in _refs(have.bridge)]
    bonds = [p for p in under_bridge if p.type == "bond"]
    have.bond = bonds[0] if bonds else None
    under_bond = [p for p in profiles if have.bond and controller_of(p, names) in _refs(have.bond)]
    wanted = set(want_ports)
    for p in under_bridge + under_bond:
        if p.type == "ethernet" and p.ifname and p.ifname not in have.ports:
            have.ports[p.ifname] = p
        elif p is not have.bond:
            have.strays.append(p)
    for p in bonds[1:]:
        have.strays.append(p)
    ours = {p.uuid for p in have.ports.values()}
    for p in profiles:
        if p.uuid in ours or p.type != "ethernet" or controller_of(p, names):
            continue
        if (p.ifname in wanted) or (p.device in wanted and p.device):
            have.standalone[p.name] = p
    if have.bridge:
        bp = have.bridge.props
        bond = None
        if have.bond:
            mode, miimon, opts = bond_options_from_text(have.bond.props.get("bond.options", ""))
            bond = Bond(name=have.bond.ifname or have.bond.name, mode=mode, miimon=miimon, options=opts,
                        ports=sorted(i for i, p in have.ports.items() if controller_of(p, names) in _refs(have.bond)))
        have.topology = Topology(
            name=name, stp=bp.get("bridge.stp") == "yes",
            autoconnect_ports=bp.get(names.autoconnect_ports) in ("1", "yes", "true"),
            ipv4=ip_from_props(bp, 4), ipv6=ip_from_props(bp, 6),
            ports=sorted(i for i, p in have.ports.items() if controller_of(p, names) in _refs(have.bridge)),
            bond=bond, zone=bp.get("connection.zone", ""))
    return have


def carried_addresses(p: Profile) -> str:
    """The IP configuration an active profile gives its interface, as text ("" if none)."""
    parts = []
    for version in (4, 6):
        pre = "ipv%d." % version
        method = p.props.get(pre + "method", "")
        addrs = p.props.get(pre + "addresses", "")
        if method == "manual" and addrs:
            parts.append("ipv%d %s" % (version, addrs))
        elif version == 4 and method == "auto":
            parts.append("ipv4 DHCP")
    return ", ".join(parts)


def check_ports(want: Topology, have: HaveState, names: Names, move_ip_from: str | None = None) -> None:
    """Refuse ports that do not exist, are unmanaged, or belong to another master."""
    known = sorted(d for d, info in have.devices.items() if info.get("type") == "ethernet")
    ours = set()
    if have.bridge:
        ours |= _refs(have.bridge)
    if have.bond:
        ours |= _refs(have.bond)
    bond_names = {want.bond.name} if want.bond else set()
    for i, (ifn, master) in enumerate(want.ethernet_ports):
        opt = "ports" if master == want.name else "bond.ports"
        idx = (want.ports if master == want.name else want.bond.ports).index(ifn)
        option = "%s[%d]" % (opt, idx)
        info = have.devices.get(ifn)
        if info is None:
            raise ValidationError(option, ifn, "no such network interface on the host (ethernet interfaces: %s)"
                                  % (", ".join(known) or "none"))
        if info.get("type") != "ethernet":
            raise ValidationError(option, ifn, "is a %s device; only ethernet interfaces can be ports here"
                                  % info.get("type"))
        if info.get("state") == "unmanaged":
            raise ValidationError(option, ifn, "is not managed by NetworkManager; it cannot be made a port")
        for p in have.profiles:
            ctl = controller_of(p, names)
            if p.ifname == ifn and ctl and ctl not in ours and ctl not in bond_names | {want.name}:
                raise ValidationError(option, ifn, "is already a port of %s (profile %r); remove it there first"
                                      % (ctl, p.name))
    for pname, p in sorted(have.standalone.items()):
        # Making an interface a port removes its addresses: refuse when it
        # carries the host's IP configuration right now, unless it moves to
        # the bridge (Configuring virtual machine network connections, 15.9).  This is the change that cuts a host off.
        ifn = p.ifname or p.device
        addrs = carried_addresses(p)
        if p.state and addrs and ifn != move_ip_from:
            opt, idx = ("ports", want.ports) if ifn in want.ports else ("bond.ports", want.bond.ports)
            raise ValidationError("%s[%d]" % (opt, idx.index(ifn)), ifn,
                                  "carries the host's IP configuration (active profile %r: %s); as a port it "
                                  "would lose it and the host could drop off the network. Set "
                                  "move_ip_from=%s to move it to the bridge, or deactivate that profile first"
                                  % (pname, addrs, ifn))
    for p in have.profiles:
        if p.ifname == want.name and p.type != "bridge":
            raise ValidationError("name", want.name, "a %s profile (%r) already uses this interface name"
                                  % (p.type, p.name))
        if want.bond and p.ifname == want.bond.name and p.type != "bond":
            raise ValidationError("bond.name", want.bond.name, "a %s profile (%r) already uses this interface "
                                  "name" % (p.type, p.name))


# -- argv builders ---------------------------------------------------------

def ip_args(version: int, ip: IPConfig) -> list:
    p = "ipv%d." % version
    return [p + "method", ip.method, p + "addresses", ",".join(ip.addresses),
            p + "gateway", ip.gateway or "", p + "dns", ",".join(ip.dns),
            p + "dns-search", ",".join(ip.dns_search)]


def bridge_args(want: Topology, names: Names) -> list:
    zone = ["connection.zone", want.zone] if want.zone is not None else []
    return (["bridge.stp", "yes" if want.stp else "no",
             names.autoconnect_ports, "1" if want.autoconnect_ports else "0"]
            + ip_args(4, want.ipv4) + ip_args(6, want.ipv6) + zone)


def bond_args(want: Topology, names: Names) -> list:
    return ["bond.options", bond_options_text(want.bond), names.controller, want.name,
            names.port_type, "bridge", names.autoconnect_ports, "1" if want.autoconnect_ports else "0"]


def port_args(master: str, port_type: str, names: Names) -> list:
    return [names.controller, master, names.port_type, port_type]


def _zone(want: Topology, have: Topology | None) -> str | None:
    """The zone the bridge is to have: the task's, or (not managed) the one it has."""
    if want.zone is not None:
        return want.zone
    return have.zone if have is not None else None


def _ref(p: Profile | None, fallback: str) -> list:
    return ["uuid", p.uuid] if p else ["id", fallback]


# -- the planner -----------------------------------------------------------

def plan_present(want: Topology, have: HaveState, names: Names) -> Plan:
    plan = Plan()
    t = have.topology
    changed_profiles = False
    if have.bridge is None:
        plan.add("nmcli", "create bridge profile %s" % want.name, RESTART,
                 ["connection", "add", "type", "bridge", "con-name", want.name, "ifname", want.name]
                 + bridge_args(want, names))
        changed_profiles = True
    elif (t.stp, t.autoconnect_ports, t.ipv4, t.ipv6, t.zone) != \
            (want.stp, want.autoconnect_ports, want.ipv4, want.ipv6, _zone(want, t)):
        pairs = (("stp", t.stp, want.stp), ("autoconnect_ports", t.autoconnect_ports, want.autoconnect_ports),
                 ("ipv4", t.ipv4, want.ipv4), ("ipv6", t.ipv6, want.ipv6), ("zone", t.zone, _zone(want, t)))
        what = [k for k, a, b in pairs if a != b]
        plan.add("nmcli", "modify bridge %s: %s" % (want.name, ", ".join(what)), RESTART,
                 ["connection", "modify", "uuid", have.bridge.uuid] + bridge_args(want, names))
        changed_profiles = True
    # Remove what is no longer declared first, so no interface has two masters.
    for p in have.strays:
        plan.add("nmcli", "delete profile %s (no longer a declared port)" % p.name, RESTART,
                 ["connection", "delete", "uuid", p.uuid])
    if have.bond and (not want.bond or (have.bond.ifname or have.bond.name) != want.bond.name):
        plan.add("nmcli", "delete bond profile %s (not declared)" % have.bond.name, RESTART,
                 ["connection", "delete", "uuid", have.bond.uuid])
        changed_profiles = True
    for ifn, p in sorted(have.ports.items()):
        if ifn not in dict(want.ethernet_ports):
            plan.add("nmcli", "delete port profile %s (%s is no longer a port)" % (p.name, ifn), RESTART,
                     ["connection", "delete", "uuid", p.uuid])
            changed_profiles = True
    bond_p = have.bond if (have.bond and want.bond and (have.bond.ifname or have.bond.name) == want.bond.name) else None
    if want.bond:
        if bond_p is None:
            plan.add("nmcli", "create bond profile %s (%s, miimon %d ms) under %s"
                     % (want.bond.name, want.bond.mode, want.bond.miimon, want.name), RESTART,
                     ["connection", "add", "type", "bond", "con-name", want.bond.name, "ifname", want.bond.name]
                     + bond_args(want, names))
            changed_profiles = True
        else:
            hb = t.bond
            if (hb.mode, hb.miimon, hb.options) != (want.bond.mode, want.bond.miimon, want.bond.options) \
                    or bond_p.props.get(names.autoconnect_ports) != ("1" if want.autoconnect_ports else "0"):
                plan.add("nmcli", "modify bond %s options to %s" % (want.bond.name, bond_options_text(want.bond)),
                         RESTART, ["connection", "modify", "uuid", bond_p.uuid] + bond_args(want, names))
                changed_profiles = True
    refs = {want.name: _refs(have.bridge) if have.bridge else {want.name},
            (want.bond.name if want.bond else None): _refs(bond_p) if bond_p else {want.bond.name if want.bond else None}}
    for ifn, master in want.ethernet_ports:
        ptype = "bridge" if master == want.name else "bond"
        p = have.ports.get(ifn)
        if p is not None and p.props.get(names.port_type) != ptype:
            # A bridge port carries a bridge-port setting that a bond port
            # must not have (and vice versa): replace the profile.
            plan.add("nmcli", "delete port profile %s (%s moves from a %s to a %s)"
                     % (p.name, ifn, p.props.get(names.port_type) or "standalone", ptype), RESTART,
                     ["connection", "delete", "uuid", p.uuid])
            changed_profiles = True
            p = None
        if p is None:
            pname = port_profile_name(master, ifn)
            plan.add("nmcli", "create port profile %s: %s into %s" % (pname, ifn, master), RESTART,
                     ["connection", "add", "type", "ethernet", "con-name", pname, "ifname", ifn]
                     + port_args(master, ptype, names))
            changed_profiles = True
        elif controller_of(p, names) not in refs[master]:
            plan.add("nmcli", "move port %s into %s" % (ifn, master), RESTART,
                     ["connection", "modify", "uuid", p.uuid] + port_args(master, ptype, names))
            changed_profiles = True
    # Standalone profiles of the ports would take the interface back at the
    # next boot: keep them (nothing is lost) but stop them autoconnecting.
    for pname, p in sorted(have.standalone.items()):
        if p.props.get("connection.autoconnect") != "no":
            plan.add("nmcli", "stop standalone profile %s autoconnecting (%s becomes a port)" % (pname, p.ifname
                     or p.device), CONFIG, ["connection", "modify", "uuid", p.uuid, "connection.autoconnect", "no"])
    inactive = []
    if have.bridge is None or not have.bridge.active:
        inactive.append(want.name)
    if want.bond and (bond_p is None or not bond_p.active):
        inactive.append(want.bond.name)
    inactive += [ifn for ifn, _m in want.ethernet_ports if ifn not in have.ports or not have.ports[ifn].active]
    inactive += [p.name for p in have.standalone.values() if p.state]
    if changed_profiles or inactive:
        why = "profiles changed" if changed_profiles else "not active: " + ", ".join(inactive)
        plan.add("activate", "activate bridge %s and its ports (%s)" % (want.name, why), RESTART,
                 {"bridge": _ref(have.bridge, want.name),
                  "bond": _ref(bond_p, want.bond.name) if want.bond else None,
                  # masters this plan creates: NM may bring them up by itself
                  "new": ([["id", want.name]] if have.bridge is None else [])
                  + ([["id", want.bond.name]] if want.bond and bond_p is None else []),
                  "ports": [_port_name(have, names, i, m, want) for i, m in want.ethernet_ports]})
    return plan


def _port_name(have: HaveState, names: Names, ifn: str, master: str, want: Topology) -> str:
    p = have.ports.get(ifn)
    ptype = "bridge" if master == want.name else "bond"
    if p is None or p.props.get(names.port_type) != ptype:
        return port_profile_name(master, ifn)
    return p.name


def plan_absent(have: HaveState, release_ports: bool, names: Names) -> Plan:
    plan = Plan()
    if have.bridge is None:
        return plan
    ports = sorted(have.ports)
    for ifn in ports:
        p = have.ports[ifn]
        plan.add("nmcli", "delete port profile %s" % p.name, RESTART, ["connection", "delete", "uuid", p.uuid])
    for p in have.strays:
        plan.add("nmcli", "delete profile %s" % p.name, RESTART, ["connection", "delete", "uuid", p.uuid])
    if have.bond:
        plan.add("nmcli", "delete bond profile %s" % have.bond.name, RESTART,
                 ["connection", "delete", "uuid", have.bond.uuid])
    plan.add("nmcli", "delete bridge profile %s" % have.bridge.name, RESTART,
             ["connection", "delete", "uuid", have.bridge.uuid])
    if release_ports:
        by_if = {}
        for p in have.standalone.values():
            by_if.setdefault(p.ifname or p.device, p)
        for ifn in ports:
            p = by_if.get(ifn)
            if p is not None:
                if p.props.get("connection.autoconnect") == "no":
                    plan.add("nmcli", "let standalone profile %s autoconnect again" % p.name, NONE,
                             ["connection", "modify", "uuid", p.uuid, "connection.autoconnect", "yes"])
                plan.add("nmcli", "activate standalone profile %s on %s" % (p.name, ifn), RESTART,
                         ["connection", "up", "uuid", p.uuid])
            else:
                plan.add("nmcli", "create standalone profile %s (DHCP/SLAAC) and activate it" % ifn, RESTART,
                         ["connection", "add", "type", "ethernet", "con-name", ifn, "ifname", ifn,
                          "ipv4.method", "auto", "ipv6.method", "auto"])
    return plan


def export(want_or_have: Topology | None, *, active: dict | None = None, standalone: dict | None = None) -> dict:
    """The normalized view returned to the user and compared in diffs."""
    if want_or_have is None:
        return {"present": False}
    d = want_or_have.as_dict()
    d["present"] = True
    d["active"] = active or {}
    d["standalone_profiles"] = standalone or {}
    return d


def export_have(have: HaveState, want_ports: list) -> dict:
    if have.topology is None:
        return export(None)
    t = have.topology
    active = {t.name: bool(have.bridge and have.bridge.active)}
    if t.bond:
        active[t.bond.name] = bool(have.bond and have.bond.active)
    for ifn, p in have.ports.items():
        active[ifn] = p.active
    standalone = {n: {"ifname": p.ifname or p.device, "autoconnect": p.props.get("connection.autoconnect") != "no",
                      "active": bool(p.state)} for n, p in have.standalone.items()}
    return export(t, active=active, standalone=standalone)


def predict_present(want: Topology, have: HaveState) -> dict:
    if want.zone is None:
        want = dataclasses.replace(want, zone=have.topology.zone if have.topology is not None else "")
    active = {want.name: True}
    if want.bond:
        active[want.bond.name] = True
    for ifn, _m in want.ethernet_ports:
        active[ifn] = True
    standalone = {n: {"ifname": p.ifname or p.device, "autoconnect": False, "active": False}
                  for n, p in have.standalone.items()}
    return export(want, active=active, standalone=standalone)
