# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a whole host, made of the component planners' plans: what
``state: overridden`` removes, in which order the steps run, and how one
step's plan changes the host the next step plans against.  Pure: the engine
reads the host and runs the component planners."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor.model import Item, SimHost, SimNetwork

# Removals run after every declared item (an interface moves off a network
# before the network goes), dependents first.
REMOVAL_ORDER = ("vm_interfaces", "pxe_networks", "networks", "bridges")


@dataclass
class Inventory:
    """What the host has, by the keys of the lists ``overridden`` prunes."""

    networks: dict = field(default_factory=dict)       # name -> [running guests using it]
    pxe_networks: list = field(default_factory=list)   # networks with TFTP / BOOTP settings
    vm_interfaces: list = field(default_factory=list)  # (domain, mac, alias or None)
    bridges: list = field(default_factory=list)        # NetworkManager bridge profile names


def _declared(items: list, name: str) -> list:
    return [i.params for i in items if i.list == name]


def removals(items: list, inventory: Inventory, *, lists: list, prefix: str | None, force: bool) -> list:
    """The removal items of ``state: overridden``: what the host has in the
    managed ``lists`` (and, with ``prefix``, whose name starts with it) that
    the declaration does not list.  Refuses to remove a network running
    guests use unless ``force``."""
    def managed(name: str) -> bool:
        return not prefix or name.startswith(prefix)

    out: list = []
    if "vm_interfaces" in lists:
        declared = _declared(items, "vm_interfaces")
        for domain, mac, alias in inventory.vm_interfaces:
            if not managed(domain):
                continue
            if any(p["domain"] == domain and ((p.get("mac") and p["mac"].lower() == mac.lower())
                                              or (p.get("alias") and p["alias"] == alias)) for p in declared):
                continue
            out.append(Item(list="vm_interfaces", index=None, label="%s %s" % (domain, mac),
                            params={"domain": domain, "mac": mac, "state": "absent"}))
    if "pxe_networks" in lists:
        declared_pxe = {p["name"] for p in _declared(items, "pxe_networks")}
        for name in inventory.pxe_networks:
            if managed(name) and name not in declared_pxe:
                out.append(Item(list="pxe_networks", index=None, label=name, params={"name": name, "state": "absent"}))
    if "networks" in lists:
        declared_nets = {p["name"] for p in _declared(items, "networks")}
        for name, guests in sorted(inventory.networks.items()):
            if not managed(name) or name in declared_nets:
                continue
            # the interfaces this run moves off it or removes are not using it any more
            staying = sorted(set(guests) - _leaving(items, out, name))
            if staying and not force:
                raise ValidationError("state", "overridden", "would remove libvirt network %r, which running guests "
                                      "use (%s); move them first, list the network, or set force=true"
                                      % (name, ", ".join(staying)))
            out.append(Item(list="networks", index=None, label=name, params={"name": name, "state": "absent"}))
    if "bridges" in lists:
        declared_br = {p["name"] for p in _declared(items, "bridges")}
        for name in inventory.bridges:
            if managed(name) and name not in declared_br:
                out.append(Item(list="bridges", index=None, label=name, params={"name": name, "state": "absent"}))
    out.sort(key=lambda i: REMOVAL_ORDER.index(i.list))
    return out


def _leaving(items: list, removed: list, network: str) -> set:
    """Domains whose every interface on ``network`` this run moves or removes
    (approximation by domain: a declared interface of that domain on another
    source, or a removal of one)."""
    leaving = set()
    for item in items + removed:
        if item.list != "vm_interfaces":
            continue
        p = item.params
        if p.get("state") == "absent" or (p.get("source") and p.get("source") != network):
            leaving.add(p["domain"])
    return leaving


def record(sim: SimHost, item: Item, plan: Any, predicted: Any, current_xml: str | None) -> None:
    """What step ``item`` (planned as ``plan``, predicted as ``predicted``)
    leaves on the host, for the steps after it."""
    p = item.params
    if item.list == "bridges":
        if p.get("state") == "absent":
            sim.remove_link(p["name"])
        else:
            sim.add_link(p["name"], True)
            if p.get("bond"):
                sim.add_link(p["bond"]["name"], False)
    elif item.list == "networks":
        if p.get("state") == "absent":
            sim.remove_network(p["name"])
            return
        if not plan.actions:
            return
        defines = plan.of_kind("define")
        xml = defines[-1].payload if defines else current_xml
        if xml is None:
            return
        sim.add_network(SimNetwork(name=p["name"], xml=xml, active=bool(getattr(predicted, "active", False)),
                                   autostart=bool(getattr(predicted, "autostart", False))))
        if current_xml is None:
            sim.new_networks.add(p["name"])


def restart_is_free(item: Item, sim: SimHost) -> bool:
    """A PXE item on a network this run creates: restarting it to serve the
    TFTP root and boot file now disturbs nobody (no guest is on it yet), so
    the run does, instead of leaving the settings for the next start."""
    return item.list == "pxe_networks" and item.params.get("name") in sim.new_networks \
        and not item.params.get("restart")
