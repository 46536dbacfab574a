# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``hypervisor`` works with: the items of a declaration, and the host
as the plans so far would leave it (check mode's view of a fresh host)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Item:
    """One object of the declaration: ``networks[2]`` and its options (the
    single module's parameters, defaults filled in)."""

    list: str
    index: int | None          # None: a removal ``state: overridden`` added
    params: dict
    label: str = ""

    @property
    def where(self) -> str:
        if self.index is None:
            return "%s (%s, not declared: removed by state=overridden)" % (self.list, self.label)
        return "%s[%d]" % (self.list, self.index)


@dataclass
class SimNetwork:
    """A libvirt network as an earlier plan of this run leaves it."""

    name: str
    xml: str
    active: bool
    autostart: bool = False
    persistent: bool = True


@dataclass
class SimHost:
    """What the plans of this run add to or take from the host, so a later
    plan sees the bridge, the network or the VF an earlier one creates.

    ``links``: {ifname: is a bridge} the bridges/bonds planned so far;
    ``gone_links``: the ones planned away; ``networks``: {name: SimNetwork};
    ``gone_networks``: networks planned away; ``new_networks``: the ones
    this run defines (no guest can be on them before its interfaces are)."""

    links: dict = field(default_factory=dict)
    gone_links: set = field(default_factory=set)
    networks: dict = field(default_factory=dict)
    gone_networks: set = field(default_factory=set)
    new_networks: set = field(default_factory=set)     # defined by this run: nothing runs on them yet

    def add_link(self, name: str, is_bridge: bool) -> None:
        self.links[name] = is_bridge
        self.gone_links.discard(name)

    def remove_link(self, name: str) -> None:
        self.links.pop(name, None)
        self.gone_links.add(name)

    def add_network(self, net: SimNetwork) -> None:
        self.networks[net.name] = net
        self.gone_networks.discard(net.name)

    def remove_network(self, name: str) -> None:
        self.networks.pop(name, None)
        self.gone_networks.add(name)

    def overlay_links(self, links: Any) -> Any:
        """{ifname: is_bridge} of the host with this run's plans applied
        (None stays None: the host's links are not visible)."""
        if links is None:
            return None
        out = {k: v for k, v in links.items() if k not in self.gone_links}
        out.update(self.links)
        return out
