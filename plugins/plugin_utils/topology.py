# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hypervisor's virtual networking as a graph (Graphviz DOT), and its drift
from the inventory.

Both work on what the collection's _info modules return, gathered into one
dict (``facts``): ``networks`` (virt_network_info), ``domains``
(virt_iface_info), ``bridges`` (nm_bond_bridge_info), ``pxe_networks``
(pxe_network_info) and ``pfs`` (sriov_vf_info, the PFs of every call). The
declared side (``declared``) holds the variables playbooks/site.yml converges
from, without their ``virtnet_`` prefix: ``networks``, ``bridges``,
``pxe_networks``, ``sriov_vfs``, ``vm_interfaces``.

The graph reads left to right, the way a frame travels: host NICs -> bonds ->
host bridges -> libvirt networks -> the VMs' NICs (one cluster per VM), with
PXE servers beside their network and SR-IOV VFs between their PF and the VM
that holds one. Node IDs are stable and readable (``net:default``,
``vnic:web1/52:54:00:00:71:01``) so a report or a test can find a node by its
SVG <title>.
"""
from __future__ import annotations

import hashlib
import ipaddress
import re

# -- DOT text --------------------------------------------------------------

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/@+-]")


def dot_text(value) -> str:
    """One label line as the inside of a DOT quoted string. Graphviz reads
    backslash escapes (\\n, \\l, \\N) and HTML entities in ordinary labels, so
    a name like ``a\\nb`` or ``x&lt;y`` must be escaped to show as written; a
    double quote would end the string."""
    text = " ".join(str(value).splitlines())
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")


def node_id(kind: str, *parts) -> str:
    """A readable, stable DOT node ID, ``kind:part/part``. Anything outside a
    safe set is replaced by ``_`` (a VM name may hold quotes, < or &), and a
    part that had to change gets a short hash of its real text, so two names
    never share a node."""
    out = []
    for p in parts:
        p = str(p)
        safe = _ID_UNSAFE.sub("_", p)
        if safe != p:
            safe += "~" + hashlib.sha1(p.encode("utf-8")).hexdigest()[:6]
        out.append(safe)
    return kind + ":" + "/".join(out)


# -- normalizing -----------------------------------------------------------

def norm_ip(text):
    try:
        return str(ipaddress.ip_interface(str(text)))
    except ValueError:
        return str(text)


def norm_addr(text):
    try:
        return str(ipaddress.ip_address(str(text)))
    except ValueError:
        return str(text)


def dhcp_ranges(ip: dict) -> list:
    return sorted((norm_addr(r.get("start")), norm_addr(r.get("end"))) for r in ((ip.get("dhcp") or {}).get("ranges") or []))


def dhcp_hosts(ip: dict) -> list:
    return sorted(((h.get("mac") or "").lower(), norm_addr(h.get("ip")), h.get("name") or "")
                  for h in ((ip.get("dhcp") or {}).get("hosts") or []))


def fmt_ranges(rs: list) -> str:
    return ", ".join("%s-%s" % r for r in rs) or "none"


def all_ifaces(dom: dict) -> list:
    return list(dom.get("interfaces") or []) + list(dom.get("config_only") or [])


# -- the graph -------------------------------------------------------------

# Fill colours per kind of node; drift is red (outline, text and a class the
# report's stylesheet and tests can find: <g class="node drift">).
_STYLE = {
    "nic": 'shape=box, fillcolor="#fff4d6"',
    "bond": 'shape=box, fillcolor="#ffe2c2"',
    "bridge": 'shape=box, fillcolor="#dbeafe"',
    "net": 'shape=box, fillcolor="#dcfce7"',
    "pxe": 'shape=note, fillcolor="#f3e8ff"',
    "vf": 'shape=box, fillcolor="#fef3c7"',
    "vnic": 'shape=box, fillcolor="#ffffff"',
}
_RED = "#d00000"
_TAPS = re.compile(r"^(vnet|tap|macvtap|vif)\d+$")


class _Graph:
    def __init__(self) -> None:
        self.nodes: dict = {}      # id -> {"kind", "lines", "cluster", "extra"}
        self.edges: list = []
        self.clusters: dict = {}   # cluster id -> label

    def node(self, nid: str, kind: str, lines: list, cluster: str | None = None) -> str:
        if nid not in self.nodes:
            self.nodes[nid] = {"kind": kind, "lines": [str(x) for x in lines if x not in (None, "")],
                               "cluster": cluster, "extra": ""}
        return nid

    def edge(self, a: str, b: str, attrs: str = "") -> None:
        if (a, b, attrs) not in self.edges:
            self.edges.append((a, b, attrs))

    def render(self, host: str) -> str:
        out = ['digraph "%s" {' % dot_text(host),
               '  graph [rankdir=LR, nodesep=0.25, ranksep=0.6, fontname="Helvetica", fontsize=12, '
               'labelloc=t, label="%s"];' % dot_text(host),
               '  node [style="rounded,filled", fontname="Helvetica", fontsize=10, penwidth=1, margin="0.2,0.06"];',
               '  edge [color="#555555", arrowsize=0.6];']

        def emit(nid, n, indent):
            label = "\\n".join(dot_text(x) for x in n["lines"])
            out.append('%s"%s" [%s, label="%s"%s];' % (indent, nid, _STYLE[n["kind"]], label, n["extra"]))

        for nid, n in self.nodes.items():
            if n["cluster"] is None:
                emit(nid, n, "  ")
        for cid, clabel in self.clusters.items():
            out.append('  subgraph "%s" {' % cid)
            out.append('    graph [label="%s", style="rounded", color="#888888"];' % dot_text(clabel))
            for nid, n in self.nodes.items():
                if n["cluster"] == cid:
                    emit(nid, n, "    ")
            out.append("  }")
        for a, b, attrs in self.edges:
            out.append('  "%s" -> "%s"%s;' % (a, b, " [%s]" % attrs if attrs else ""))
        out.append("}")
        return "\n".join(out) + "\n"


def _net_lines(n: dict) -> list:
    fwd = n.get("forward") or {}
    br = (n.get("bridge") or {}).get("name")
    lines = ["network %s" % n["name"],
             "mode %s%s" % (fwd.get("mode") or "isolated", ", bridge %s" % br if br else "")]
    for ip in n.get("ips") or []:
        rs = dhcp_ranges(ip)
        lines.append("%s DHCP %s" % (ip.get("address"), fmt_ranges(rs)) if rs or dhcp_hosts(ip)
                     else "%s no DHCP" % ip.get("address"))
        for h in dhcp_hosts(ip):
            lines.append("  host %s = %s" % (h[0] or h[2], h[1]))
    state = "active" if n.get("active") else "INACTIVE"
    if n.get("autostart"):
        state += ", autostart"
    if not n.get("persistent", True):
        state += ", transient"
    lines.append(state)
    return lines


def _vnic_lines(i: dict, config_only: bool) -> list:
    addrs = ["%s/%s" % (a.get("address"), a.get("prefix")) for a in i.get("addresses") or []]
    first = " ".join(x for x in (i.get("alias"), i.get("host_dev")) if x)
    return [i.get("mac"), first, "%s %s" % (i.get("type"), i.get("model") or ""),
            ", ".join(addrs) or "no address",
            "link %s" % (i.get("link") or "up") if (i.get("link") or "up") == "up" else "link DOWN",
            "config only (after a restart)" if config_only else None]


def to_dot(facts: dict, drift_items: list | None = None, host: str = "hypervisor") -> str:
    """The host's topology as a DOT digraph; the nodes named by drift items
    are marked red, and a declared object the host does not have is drawn as
    a dashed red placeholder."""
    facts = facts or {}
    g = _Graph()
    bridges = facts.get("bridges") or {}
    nets = sorted(facts.get("networks") or [], key=lambda n: n["name"])
    pfs = sorted(facts.get("pfs") or [], key=lambda p: p["pf"])
    doms = sorted(facts.get("domains") or [], key=lambda d: d["name"])

    def bridge_node(name, lines=None):
        return g.node(node_id("bridge", name), "bridge", lines or ["bridge %s" % name])

    def nic_node(name):
        return g.node(node_id("nic", name), "nic", ["NIC %s" % name])

    # host NICs -> bonds -> bridges (NetworkManager's, as the kernel has them)
    for name in sorted(bridges):
        b = bridges[name]
        st = (b.get("status") or {}).get("bridge") or {}
        bond = b.get("bond") or {}
        bst = (b.get("status") or {}).get("bond") or {}
        bnode = bridge_node(name, ["bridge %s" % name, "%s, STP %s" % (st.get("operstate") or "absent",
                                                                       "on" if st.get("stp") else "off")])
        ports = sorted(set(st.get("ports") or {}) | set(b.get("ports") or []))
        for p in ports:
            if p == bond.get("name") or _TAPS.match(p):
                continue
            g.edge(nic_node(p), bnode)
        if bond.get("name"):
            bn = bond["name"]
            onode = g.node(node_id("bond", bn), "bond", [
                "bond %s" % bn, "%s, MII %s" % (bst.get("mode") or bond.get("mode"), bst.get("mii_status") or "?"),
                "active %s" % bst["active_port"] if bst.get("active_port") else None])
            for p in sorted(set(bst.get("ports") or {}) | set(bond.get("ports") or [])):
                g.edge(nic_node(p), onode)
            g.edge(onode, bnode)

    # SR-IOV: PF -> its VFs (their VMs are joined below)
    vf_by_pci = {}
    for p in pfs:
        pnode = g.node(node_id("nic", p["pf"]), "nic", [
            "NIC %s (SR-IOV PF)" % p["pf"], "%s, %s of %s VFs" % (p.get("driver"), p.get("numvfs"), p.get("totalvfs"))])
        for v in sorted(p.get("vfs") or [], key=lambda v: v.get("index") or 0):
            vnode = g.node(node_id("vf", p["pf"], v.get("index")), "vf", [
                "VF %s %s" % (v.get("index"), v.get("pci")), v.get("netdev")])
            vf_by_pci[v.get("pci")] = vnode
            g.edge(pnode, vnode)

    # bridges / uplinks -> libvirt networks -> PXE servers
    for n in nets:
        nnode = g.node(node_id("net", n["name"]), "net", _net_lines(n))
        fwd = n.get("forward") or {}
        if fwd.get("mode") == "bridge" and (n.get("bridge") or {}).get("name"):
            g.edge(bridge_node(n["bridge"]["name"]), nnode)
        elif fwd.get("dev"):
            dev = fwd["dev"]
            g.edge(bridge_node(dev) if dev in bridges else nic_node(dev), nnode)
    for p in sorted(facts.get("pxe_networks") or [], key=lambda p: (p["network"], p.get("address") or "")):
        served = p.get("served")
        seen = ("not checked" if served is None else "served by TFTP" if served.get("served") and
                served.get("match") is not False else "boot file differs" if served.get("served") else "NOT served")
        pnode = g.node(node_id("pxe", p["network"]), "pxe", [
            "PXE on %s" % p["network"], "TFTP root %s" % p.get("tftp_root"),
            "boot file %s" % ((p.get("bootp") or {}).get("file")), seen])
        g.edge(node_id("net", p["network"]), pnode, 'style=dashed, arrowhead=none')

    # libvirt networks / bridges / NICs / VFs -> the VMs' NICs, one cluster per VM
    for d in doms:
        cid = node_id("cluster_vm", d["name"])
        g.clusters[cid] = "VM %s (%s)" % (d["name"], "running" if d.get("running") else "shut off")
        for i in all_ifaces(d):
            config_only = i in (d.get("config_only") or [])
            vnode = g.node(node_id("vnic", d["name"], i.get("mac")), "vnic", _vnic_lines(i, config_only), cid)
            src, kind = i.get("source"), i.get("type")
            attrs = "style=dashed" if (i.get("link") or "up") != "up" or config_only else ""
            if kind == "network" and src:
                g.edge(g.node(node_id("net", src), "net", ["network %s" % src, "not defined"]), vnode, attrs)
            elif kind == "bridge" and src:
                g.edge(bridge_node(src), vnode, attrs)
            elif kind == "direct" and src:
                g.edge(nic_node(src), vnode, attrs)
            elif kind == "hostdev" and src in vf_by_pci:
                g.edge(vf_by_pci[src], vnode, attrs)
    for p in pfs:
        for v in p.get("vfs") or []:
            for u in v.get("vms") or []:
                cid = node_id("cluster_vm", u.get("vm"))
                g.clusters.setdefault(cid, "VM %s" % u.get("vm"))
                vnode = g.node(node_id("vnic", u.get("vm"), u.get("mac")), "vnic",
                               [u.get("mac"), "VF %s (%s)" % (v.get("index"), u.get("kind"))], cid)
                g.edge(node_id("vf", p["pf"], v.get("index")), vnode)

    # drift: red marks, and placeholders for what the host lacks
    for item in drift_items or []:
        nid = item["node"]
        if nid not in g.nodes:
            kind = nid.split(":", 1)[0]
            cluster = None
            if kind == "vnic":
                vm = item["name"].split("/", 1)[0]
                cluster = node_id("cluster_vm", vm)
                g.clusters.setdefault(cluster, "VM %s (missing)" % vm)
            g.node(nid, kind, ["%s %s" % ({"net": "network", "nic": "NIC", "vnic": "NIC", "pxe": "PXE on"}.get(
                kind, kind), item["name"])], cluster)
            g.nodes[nid]["extra"] = ', style="rounded,dashed"'
            if item.get("parent") and item["parent"] in g.nodes:
                g.edge(item["parent"], nid, 'style=dashed, color="%s"' % _RED)
        n = g.nodes[nid]
        # "what is (want what)" on two lines: browsers' fonts run wider than Graphviz measures
        first, sep, want = item["short"].partition(" (want ")
        n["lines"].append("DRIFT: %s" % first)
        if sep:
            n["lines"].append("(want " + want)
        if "class=" not in n["extra"]:
            n["extra"] += ', color="%s", fontcolor="%s", penwidth=2, class="drift"' % (_RED, _RED)
    return g.render(host)
