# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner for one libvirt network: pure functions from (desired, host
state) to a :class:`engine.Plan`.  Check mode and the real run both call it.

Each difference is classified by the least disruptive way libvirt can make
it:

* DHCP hosts and ranges, DNS hosts, TXT and SRV records: ``virNetworkUpdate``
  on the live and the persistent config (``update``, no disruption);
* anything else: a redefine (``define``); on an active network the change
  only takes effect after a restart, which happens only with
  ``restart: true`` (``restart``, guests reconnected) and is otherwise
  reported as pending.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree

from ansible_collections.virtnet.networking.plugins.module_utils.network import bridge as nh
from ansible_collections.virtnet.networking.plugins.module_utils.network import model as netm
from ansible_collections.virtnet.networking.plugins.module_utils.network import validate as nv
from ansible_collections.virtnet.networking.plugins.module_utils.network import xml as nx
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import claim as pxe_claim
from ansible_collections.virtnet.networking.plugins.module_utils.engine import CONFIG, NONE, RESTART, Plan

# virNetworkUpdate commands and sections (libvirt's enum values).
CMD_DELETE = 2
CMD_ADD_LAST = 3
SECTION_IP_DHCP_HOST = 4
SECTION_IP_DHCP_RANGE = 5   # not 9: that is VIR_NETWORK_SECTION_PORTGROUP
SECTION_DNS_HOST = 10
SECTION_DNS_TXT = 11
SECTION_DNS_SRV = 12


@dataclass
class Update:
    """One virNetworkUpdate call."""

    command: int
    section: int
    parent: int
    xml: str


def export_state(state: netm.HostState) -> dict:
    if not state.exists:
        return {}
    out = netm.export(state.config)
    out.update(active=state.active, autostart=state.autostart, persistent=state.persistent)
    return out


def pick_bridge(others: list, links: dict | None = None) -> str:
    """The bridge name libvirt's own template (virbr%d) would pick: the
    lowest not used by another network (or a host interface, when the host
    is visible).  Chosen here so that check mode can predict it."""
    used = {other.bridge for _name, other in others} | set(links or ())
    n = 0
    while "virbr%d" % n in used:
        n += 1
    return "virbr%d" % n


# --------------------------------------------------------------------------
# live-updatable sections
# --------------------------------------------------------------------------

def _live_sections(net: netm.Network) -> dict:
    """The parts of ``net`` virNetworkUpdate can change, keyed by section."""
    out: dict = {}
    for ip in net.ips or ():
        if ip.dhcp:
            out[("range", ip.address)] = set(ip.ranges)
            out[("host", ip.address)] = set(ip.hosts)
    dns = net.dns or netm.Dns()
    out[("dns_host",)] = set(dns.hosts or ())
    out[("txt",)] = set(dns.txt or ())
    out[("srv",)] = set(dns.srv or ())
    return out


def _with_sections_of(net: netm.Network, src: netm.Network) -> netm.Network:
    """``net`` with its live-updatable sections taken from ``src`` (for the
    IPs both have with DHCP)."""
    src_ips = {ip.address: ip for ip in src.ips or ()}
    ips = []
    for ip in net.ips or ():
        s = src_ips.get(ip.address)
        if s is not None and s.dhcp and ip.dhcp:
            ip = dataclasses.replace(ip, ranges=s.ranges, hosts=s.hosts)
        ips.append(ip)
    dns = net.dns or netm.Dns()
    sdns = src.dns or netm.Dns()
    dns = dataclasses.replace(dns, hosts=sdns.hosts or (), txt=sdns.txt or (), srv=sdns.srv or ())
    return dataclasses.replace(net, ips=tuple(ips), dns=dns)


def _updates(want: netm.Network, have: netm.Network) -> list:
    """(summary, Update) for every live-updatable difference, in the order
    libvirt accepts them."""
    index = {ip.address: i for i, ip in enumerate(have.ips or ())}
    old, new = _live_sections(have), _live_sections(want)
    deletes: list = []
    adds: list = []
    for key in new:
        if key not in old:
            continue  # a new IP or new DHCP element: that is a redefine
        gone = sorted(old[key] - new[key], key=repr)
        came = sorted(new[key] - old[key], key=repr)
        kind = key[0]
        parent = index[key[1]] if len(key) > 1 else -1
        for items, cmd, verb, bucket in ((gone, CMD_DELETE, "remove", deletes), (came, CMD_ADD_LAST, "add", adds)):
            for item in items:
                section, el, label = _section(kind, key, item)
                bucket.append(("%s %s" % (verb, label),
                               Update(cmd, section, parent, etree.tostring(el, encoding="unicode"))))
    # Deletes first (a host keeps its MAC when its address changes), except
    # the ranges: removed last, so <dhcp> never runs empty in between, as
    # libvirt then drops what else it holds (pxe_network's <bootp>).
    ranges_gone = [d for d in deletes if d[1].section == SECTION_IP_DHCP_RANGE]
    return [d for d in deletes if d[1].section != SECTION_IP_DHCP_RANGE] + adds + ranges_gone


def _section(kind: str, key: tuple, item: Any) -> tuple:
    if kind == "host":
        what = " ".join(x for x in (item.mac, item.name) if x)
        return SECTION_IP_DHCP_HOST, nx.host_element(None, item), "DHCP host %s -> %s on %s" % (what, item.ip, key[1])
    if kind == "range":
        return SECTION_IP_DHCP_RANGE, nx.range_element(item), "DHCP range %s-%s on %s" % (item[0], item[1], key[1])
    if kind == "dns_host":
        return SECTION_DNS_HOST, nx.dns_host_element(item), "DNS host %s (%s)" % (item[0], ", ".join(item[1]))
    if kind == "txt":
        return SECTION_DNS_TXT, nx.txt_element(item), "DNS TXT %s" % item[0]
    return SECTION_DNS_SRV, nx.srv_element(item), "DNS SRV %s" % dict(item).get("service")


# --------------------------------------------------------------------------
# the planner
# --------------------------------------------------------------------------

def _differences(a: dict, b: dict, prefix: str = "") -> list:
    """Dotted names of the top-level fields that differ between exports."""
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            if isinstance(a.get(key), dict) and isinstance(b.get(key), dict) and key in ("forward", "bridge", "dns"):
                out.extend(_differences(a[key], b[key], prefix + key + "."))
            else:
                out.append(prefix + key)
    return out


def target(desired: netm.Desired, have: netm.HostState) -> netm.Network:
    """The network model the host should end up with."""
    merged = netm.merge(desired.network, have.config if have.exists else None)
    if merged.mode in netm.OWN_BRIDGE and not merged.bridge:
        merged = dataclasses.replace(merged, bridge=pick_bridge(have.others, have.links))
    if have.exists:
        # A DHCP range pxe_network claims is not this task's to remove (pxe.claim).
        merged = pxe_claim.keep_claimed_ranges(desired.network.ips, merged, have.config, have.config_xml)
    return merged


def plan(desired: netm.Desired, have: netm.HostState) -> tuple:
    """(Plan, predicted netm.HostState)."""
    p = Plan()
    name = desired.network.name
    if desired.state == "absent":
        if have.exists and have.active:
            p.add("stop", "stop network %s" % name, RESTART)
        if have.exists and have.persistent:
            p.add("undefine", "undefine network %s" % name, CONFIG)
        return p, netm.HostState(name=name)

    want = target(desired, have)
    # the routes of the running network's own bridge are its own, whatever
    # bridge name the task gives it now
    own = have.live.bridge if have.exists and have.active and have.live is not None else None
    routes = [(route, dev) for route, dev in have.routes if not (own and dev == own)]
    nv.check_against_host(want, others=have.others, routes=routes, links=have.links)
    # Before any define: a bridge name taken by a host link is refused (libvirt
    # would delete that link when its start fails); only a leftover bridge of
    # this very network may be removed, right before the start.
    stale = nh.check_bridge(want, have=have, links=have.link_info)
    start = desired.state == "running" and not (have.exists and have.active)
    stop = desired.state == "stopped" and have.exists and have.active
    active_after = (have.exists and have.active and not stop) or start
    autostart = have.autostart if desired.autostart is None else desired.autostart

    if not have.exists:
        xml = nx.build(want)
        p.add("define", "define network %s" % name, CONFIG, payload=xml)
    else:
        old = netm.export(have.config)
        masked = _with_sections_of(want, have.config)
        redefine = netm.export(masked) != old or not have.persistent
        live_ok = have.active and not stop
        if live_ok:
            for summary, upd in _updates(want, have.config):
                p.add("update", summary + " (live, no restart)", NONE, payload=upd)
        if redefine:
            changed = ", ".join(_differences(netm.export(masked), old)) or "persistent definition"
            p.add("define", "redefine network %s (%s)" % (name, changed), CONFIG,
                  payload=nx.build(want, base=have.config_xml))
        elif not live_ok:
            for summary, upd in _updates(want, have.config):
                p.add("update", summary + " (config)", CONFIG, payload=upd)
        if live_ok:
            live = _with_sections_of(have.live or have.config, want)
            pending = _differences(netm.export(want), netm.export(live))
            if pending:
                if desired.restart:
                    p.add("restart", "restart network %s to apply %s (%s)"
                          % (name, ", ".join(pending), "reconnects running guests: " + ", ".join(have.guests)
                             if have.guests else "no running guests"), RESTART)
                else:
                    p.pending.extend(pending)
    if stop:
        p.add("stop", "stop network %s" % name, RESTART)
    if start and stale:
        p.add("remove_bridge", "remove stale bridge %s (a leftover of network %s: no ports, no other addresses)"
              % (stale, name), NONE, payload=stale)
    if start:
        p.add("start", "start network %s" % name, NONE)
    if autostart != (have.autostart if have.exists else False):
        p.add("autostart", "%s autostart of network %s" % ("enable" if autostart else "disable", name), NONE,
              payload=autostart)
    predicted = netm.HostState(name=name, exists=True, active=active_after, autostart=autostart, persistent=True,
                               config=want, live=want)
    return p, predicted
