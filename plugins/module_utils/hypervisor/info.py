# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``hypervisor_info`` returns: the whole virtual networking of a host
in the input shape of ``hypervisor`` (each item holds the options of one
single module: nm_bond_bridge, sriov_vf, virt_network, pxe_network,
virt_iface), so that feeding it back changes nothing.

Nothing here parses libvirt XML, nmcli output or sysfs a second time: each
list comes from the reader its own module plans against (network.engine,
pxe.model, iface.engine, sriov.sysfs, nm.info), and is only mapped onto
that module's options.  Options that say how to run (restart, verify,
timeouts...) are left out, and so are options whose value is the module's
default or that the module leaves alone when unset.

What an item cannot say without changing the host when fed back (a
hand-written udev rule, a TFTP root with another mode, an interface type
virt_iface does not manage) is left out of the item or the list, and a note
says what and why.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as im
from ansible_collections.virtnet.networking.plugins.module_utils.iface.engine import DomainXml
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.conn import libvirt_error
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt.host import is_local
from ansible_collections.virtnet.networking.plugins.module_utils.network import model as netm
from ansible_collections.virtnet.networking.plugins.module_utils.network.engine import LIBVIRT_ERRORS, read_network
from ansible_collections.virtnet.networking.plugins.module_utils.nm import info as nm_info
from ansible_collections.virtnet.networking.plugins.module_utils.nm.nmcli import Nmcli
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import files as pfiles
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import model as pm
from ansible_collections.virtnet.networking.plugins.module_utils.runner import CommandRunner
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import model as sm
from ansible_collections.virtnet.networking.plugins.module_utils.sriov.sysfs import Sysfs

LISTS = ("bridges", "sriov_vfs", "networks", "pxe_networks", "vm_interfaces")
# Bonding modes nm_bond_bridge refuses under a VM bridge unless allowed.
_UNSAFE_BOND_MODES = ("balance-rr", "broadcast", "balance-tlb", "balance-alb")


def read_host(module: Any, lv: Any, *, fs: FsRoot | None = None, include: Any = None, notes: list | None = None,
              files: FsRoot | None = None, nmcli: Nmcli | None = None) -> dict:
    """The host as ``{bridges, sriov_vfs, networks, pxe_networks, vm_interfaces}``.

    ``fs`` is the root SR-IOV sysfs is read under (a fake tree in tests),
    ``files`` the one the TFTP root and NetworkManager's kernel state are read
    under (default ``/``); ``include`` limits which lists are read (the
    others are returned empty); what could not be read or exported goes to
    ``notes``, in words.
    """
    wanted = set(LISTS if include is None else include)
    unknown = wanted - set(LISTS)
    if unknown:
        raise VirtnetError("include: unknown list(s) %s; choose from %s"
                           % (", ".join(sorted(unknown)), ", ".join(LISTS)))
    notes = notes if notes is not None else []
    files = files or FsRoot("/")
    out: dict = {name: [] for name in LISTS}
    if "bridges" in wanted:
        out["bridges"] = _bridges(module, files, nmcli, notes)
    if "sriov_vfs" in wanted:
        out["sriov_vfs"] = _sriov_vfs(module, fs or FsRoot("/"), notes)
    try:
        if wanted & {"networks", "pxe_networks"}:
            nets, pxes = _networks(lv, files, notes)
            out["networks"] = nets if "networks" in wanted else []
            out["pxe_networks"] = pxes if "pxe_networks" in wanted else []
        if "vm_interfaces" in wanted:
            out["vm_interfaces"] = _vm_interfaces(lv, notes)
    except LIBVIRT_ERRORS as err:
        raise libvirt_error("reading the host's networks and domains", err)
    return out


# --------------------------------------------------------------------------
# bridges (nm_bond_bridge)
# --------------------------------------------------------------------------

def _nm_running(module: Any, nmcli: Nmcli | None, notes: list) -> bool:
    if nmcli is None and module.get_bin_path("nmcli", required=False) is None:
        notes.append("bridges: not read, nmcli is not installed (NetworkManager manages no bridge here)")
        return False
    runner = nmcli.runner if nmcli is not None else CommandRunner(module, "nmcli")
    res = runner.run(["-t", "-f", "RUNNING", "general"], check=False)
    if not res.ok or res.out.strip() != "running":
        notes.append("bridges: not read, NetworkManager is not running (nmcli general: %s)"
                     % (res.err or res.out).strip())
        return False
    return True


def _ip_item(cfg: dict) -> dict:
    out = {"method": cfg["method"]}
    for key in ("addresses", "dns", "dns_search"):
        if cfg.get(key):
            out[key] = list(cfg[key])
    if cfg.get("gateway"):
        out["gateway"] = cfg["gateway"]
    return out


def bridge_item(view: dict, notes: list) -> dict:
    """An nm_bond_bridge_info bridge -> nm_bond_bridge's options."""
    item: dict = {"name": view["name"], "stp": view["stp"], "autoconnect_ports": view["autoconnect_ports"],
                  "ports": list(view["ports"]), "ipv4": _ip_item(view["ipv4"]), "ipv6": _ip_item(view["ipv6"])}
    if view.get("zone"):
        item["zone"] = view["zone"]         # the firewalld zone its profile names
    bond = view.get("bond")
    if bond:
        item["bond"] = {"name": bond["name"], "mode": bond["mode"], "miimon": bond["miimon"],
                        "options": dict(bond["options"]), "ports": list(bond["ports"])}
        if bond["mode"] in _UNSAFE_BOND_MODES:
            # The bridge exists with this mode: exporting it must not make the item refused.
            item["bond"]["allow_unsafe_mode"] = True
    if not item["ports"] and not bond:
        notes.append("bridges[%s]: has no ports and no bond; nm_bond_bridge refuses such a bridge" % view["name"])
    for name, prof in sorted((view.get("standalone_profiles") or {}).items()):
        if prof.get("autoconnect") or prof.get("active"):
            notes.append("bridges[%s]: the standalone profile %r of port %s still autoconnects or is active; "
                         "nm_bond_bridge would deactivate it" % (view["name"], name, prof.get("ifname")))
    return item


def _bridges(module: Any, files: FsRoot, nmcli: Nmcli | None, notes: list) -> list:
    if not _nm_running(module, nmcli, notes):
        return []
    views = nm_info.read_info(module, fs=files, nmcli=nmcli or Nmcli(module))["bridges"]
    return [bridge_item(view, notes) for _name, view in sorted(views.items()) if view.get("present", True)]


# --------------------------------------------------------------------------
# sriov_vfs (sriov_vf)
# --------------------------------------------------------------------------

def _sriov_vfs(module: Any, fs: FsRoot, notes: list) -> list:
    uri = module.params.get("uri")
    if uri and not is_local(uri):
        notes.append("sriov_vfs: not read, the VFs are those of the host the module runs on, and uri %r is "
                     "another host's libvirt" % uri)
        return []
    sysfs = Sysfs(fs)
    out = []
    for name in sysfs.netdevs():
        pf = sysfs.pf(name)
        if not pf.totalvfs:
            continue
        count = pf.numvfs or 0
        item: dict = {"pf": name, "num_vfs": count}
        path = sm.udev_rule_path(name)
        rule = fs.read(path)
        expected = sm.udev_rule(name, pf.driver, count) if (count and pf.driver) else None
        if count and rule is None:
            item["persistent"] = False
        elif count and not (rule == expected and fs.mode(path) == 0o644):
            notes.append("sriov_vfs[%s]: %s is not the rule sriov_vf writes for %d VFs (or its mode is not 0644); "
                         "the item would rewrite it" % (name, path, count))
        elif not count and rule is not None:
            notes.append("sriov_vfs[%s]: no VFs, but %s exists; the item would remove it" % (name, path))
        if count and sysfs.iommu_groups() == 0:
            notes.append("sriov_vfs[%s]: the IOMMU is off, so sriov_vf refuses a VF count; the item fails until "
                         "it is on" % name)
        out.append(item)
    return out


# --------------------------------------------------------------------------
# networks (virt_network) and pxe_networks (pxe_network)
# --------------------------------------------------------------------------

def _drop_none(d: dict) -> dict:
    return {k: val for k, val in d.items() if val is not None}


def network_item(state: netm.HostState) -> dict:
    """A network's definition -> virt_network's options.  The PXE elements
    (``<tftp>``, ``<bootp>``) are not virt_network's and keep as they are
    across its runs, so they are in the pxe_networks item only."""
    e = netm.export(state.config)
    item: dict = {"name": e["name"], "state": "running" if state.active else "present",
                  "autostart": state.autostart, "forward": e["forward"]}
    if e["bridge"]:
        item["bridge"] = e["bridge"]
    if e["mtu"] is not None:
        item["mtu"] = e["mtu"]
    if e["domain"]:
        item["domain"] = _drop_none(e["domain"])
    ips = []
    for ip in e["ips"]:
        entry: dict = {"address": ip["address"]}
        if "dhcp" in ip:
            entry["dhcp"] = ip["dhcp"]
        ips.append(entry)
    if ips:
        item["ips"] = ips
    dns = e["dns"]
    dns_item = {k: val for k, val in dns.items() if k != "enable" and val}
    if dns["enable"] is not None:
        dns_item["enable"] = dns["enable"]
    if dns_item.get("srv"):
        dns_item["srv"] = [_drop_none(rec) for rec in dns_item["srv"]]
    if dns_item:
        item["dns"] = dns_item
    if e["dnsmasq_options"]:
        item["dnsmasq_options"] = e["dnsmasq_options"]
    return item


def _tftp_root_ok(files: FsRoot, pxe: pm.Pxe, where: str, notes: list) -> dict | None:
    """tftp_root, owner, group (and the boot file as a boot_files entry to
    check) when pxe_network would find them as they are; else None and a note."""
    root = pfiles.stat_entry(files, pxe.tftp_root)
    why = None
    if not root.exists:
        why = "does not exist (pxe_network would create it)"
    elif files.islink(pxe.tftp_root) or root.kind != "dir":
        why = "is not a directory (pxe_network refuses it)"
    elif root.mode != pm.ROOT_MODE:
        why = "has mode %04o (pxe_network would set 0755)" % root.mode
    if why is None:
        user, group = pfiles.names(files, root)
        try:
            owner = pfiles.resolve_owner(files, user, group)
        except VirtnetError:
            owner, why = None, "is owned by %s:%s, which are not names on the host" % (user, group)
    if why is None:
        out: dict = {"tftp_root": pxe.tftp_root, "owner": owner.user, "group": owner.group}
        if pxe.bootp_file and not pxe.bootp_server:
            link = pfiles.symlink_below(files, pxe.tftp_root, pxe.bootp_file)
            f = pfiles.stat_entry(files, pxe.tftp_root.rstrip("/") + "/" + pxe.bootp_file)
            if link or not f.exists or f.kind != "file":
                why = "does not hold the boot file %s as a regular file" % pxe.bootp_file
            elif (f.mode, f.uid, f.gid) != (pm.FILE_MODE, owner.uid, owner.gid):
                why = "holds the boot file %s with another mode or owner (pxe_network would set 0644, %s:%s)" % (
                    pxe.bootp_file, owner.user, owner.group)
            else:
                out["boot_files"] = [{"name": pxe.bootp_file}]
        if why is None:
            return out
    notes.append("%s: tftp_root %s left out of the item: it %s" % (where, pxe.tftp_root, why))
    return None


def pxe_items(name: str, config_xml: str, files: FsRoot, notes: list) -> list:
    """The PXE part of a network's definition -> pxe_network's options, one
    item per IPv4 address that has a ``<tftp>`` or a ``<bootp>``."""
    out = []
    for pxe in pm.read_all(config_xml):
        if pxe.tftp_root is None and pxe.bootp_file is None:
            continue
        item: dict = {"name": name, "address": pxe.address}
        if pxe.tftp_root is not None:
            item.update(_tftp_root_ok(files, pxe, "pxe_networks[%s %s]" % (name, pxe.address), notes) or {})
        if pxe.bootp_file:
            item["bootp_file"] = pxe.bootp_file
            if pxe.bootp_server:
                item["bootp_server"] = pxe.bootp_server
        if pxe.claimed:
            item["dhcp_range"] = {"start": pxe.claimed[0], "end": pxe.claimed[1]}
        out.append(item)
    return out


def _networks(lv: Any, files: FsRoot, notes: list) -> tuple:
    nets, pxes = [], []
    for net in sorted(lv.networks(), key=lambda n: n.name()):
        state = read_network(lv, net)
        if not state.persistent:
            notes.append("networks[%s]: transient (no persistent definition); virt_network would define it, so "
                         "it is left out" % state.name)
            continue
        nets.append(network_item(state))
        if state.live is not None and netm.export(state.live) != netm.export(state.config):
            notes.append("networks[%s]: runs an older definition than it has; the item is the definition (the "
                         "module would report restart_required)" % state.name)
        pxes.extend(pxe_items(state.name, state.config_xml, files, notes))
    return nets, pxes


# --------------------------------------------------------------------------
# vm_interfaces (virt_iface)
# --------------------------------------------------------------------------

def iface_item(domain: str, m: im.Interface) -> dict:
    """A parsed domain ``<interface>`` -> virt_iface's options."""
    e = im.export(m)
    item: dict = {"domain": domain, "mac": m.mac}
    if m.alias:
        item["alias"] = m.alias
    item["type"] = m.type
    if m.source is not None:
        item["source"] = m.source
    for key in ("mode", "model", "link", "boot_order", "vlan", "managed"):
        if e.get(key) is not None:
            item[key] = e[key]
    if m.type == "user":
        item["port_forwards"] = e["port_forwards"]
        item["ips"] = e["ips"]
    return item


def _vm_interfaces(lv: Any, notes: list) -> list:
    out = []
    for dom in sorted(lv.domains(), key=lambda d: d.name()):
        d = DomainXml(lv, dom)
        if not d.persistent:
            notes.append("vm_interfaces[%s]: a transient domain; virt_iface changes persistent domains only, so its "
                         "interfaces are left out" % d.name)
            continue
        live = {m.mac: m for m, _el in d.live_ifaces}
        for m, _el in d.config_ifaces:
            where = "vm_interfaces[%s %s]" % (d.name, m.mac)
            if m.type not in im.TYPES:
                notes.append("%s: type %r is not one virt_iface manages; left out" % (where, m.type))
                continue
            if m.type == "user" and m.backend != "passt":
                notes.append("%s: type user without the passt backend (qemu's SLIRP); virt_iface's type=user is "
                             "passt, so it is left out" % where)
                continue
            if not m.mac:
                notes.append("%s: has no MAC address to identify it by; left out" % where)
                continue
            out.append(iface_item(d.name, m))
            running = live.get(m.mac)
            if d.running and running is not None and im.differences(m, running):
                notes.append("%s: the running domain differs from its definition (%s); the item is the definition"
                             % (where, ", ".join(im.differences(m, running))))
        config_macs = {m.mac for m, _el in d.config_ifaces}
        for mac in sorted(set(live) - config_macs):
            notes.append("vm_interfaces[%s %s]: only in the running domain (hot-plugged, not in its definition); "
                         "virt_iface would add it to the definition, so it is left out" % (d.name, mac))
    return out
