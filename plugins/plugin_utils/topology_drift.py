# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hypervisor's drift from its inventory: what playbooks/verify.yml
asserts, as a list of items a report can show and the topology graph can
mark (each names the node it concerns, see topology.node_id)."""
from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.plugin_utils.topology import (
    all_ifaces, dhcp_hosts, dhcp_ranges, fmt_ranges, node_id, norm_ip,
)


# -- drift -----------------------------------------------------------------

def _item(ids, component: str, name: str, node: str, short: str, message: str, parent: str | None = None) -> dict:
    return {"component": component, "name": name, "node": node, "short": short, "message": message,
            "parent": parent}


def _network_drift(ids, facts: dict, declared: list) -> list:
    have = {n["name"]: n for n in facts.get("networks") or []}
    out = []
    for want in declared:
        name = want["name"]
        node = ids("net", name)
        state = want.get("state") or "running"
        got = have.get(name)
        if state == "absent":
            if got is not None:
                out.append(_item(ids, "network", name, node, "should be absent",
                                 "network %s: exists, inventory wants state=absent" % name))
            continue
        if got is None:
            out.append(_item(ids, "network", name, node, "missing", "network %s: missing, inventory declares it" % name))
            continue

        def diff(short, what, have_v, want_v):
            out.append(_item(ids, "network", name, node, "%s %s (want %s)" % (short, have_v, want_v),
                             "network %s: %s is %s, inventory wants %s" % (name, what, have_v, want_v)))
        if state == "running" and not got.get("active"):
            diff("state", "state", "inactive", "running")
        if want.get("autostart") is not None and bool(want["autostart"]) != bool(got.get("autostart")):
            diff("autostart", "autostart", "yes" if got.get("autostart") else "no", "yes" if want["autostart"] else "no")
        wmode = (want.get("forward") or {}).get("mode")
        hmode = (got.get("forward") or {}).get("mode")
        if wmode and wmode != hmode:
            diff("forward mode", "forward mode", hmode, wmode)
        wbr = (want.get("bridge") or {}).get("name")
        hbr = (got.get("bridge") or {}).get("name")
        if wbr and wbr != hbr:
            diff("bridge", "bridge", hbr, wbr)
        if want.get("ips") is not None:
            wips = {norm_ip(i["address"]): i for i in want["ips"]}
            hips = {norm_ip(i["address"]): i for i in got.get("ips") or []}
            if set(wips) != set(hips):
                diff("addresses", "addresses", ", ".join(sorted(hips)) or "none", ", ".join(sorted(wips)) or "none")
            for addr in sorted(set(wips) & set(hips)):
                if dhcp_ranges(wips[addr]) != dhcp_ranges(hips[addr]):
                    diff("DHCP range", "DHCP range on %s" % addr, fmt_ranges(dhcp_ranges(hips[addr])),
                         fmt_ranges(dhcp_ranges(wips[addr])))
                if dhcp_hosts(wips[addr]) != dhcp_hosts(hips[addr]):
                    diff("DHCP hosts", "DHCP hosts on %s" % addr,
                         ", ".join("%s=%s" % h[:2] for h in dhcp_hosts(hips[addr])) or "none",
                         ", ".join("%s=%s" % h[:2] for h in dhcp_hosts(wips[addr])) or "none")
        if got.get("restart_pending"):
            out.append(_item(ids, "network", name, node, "restart pending",
                             "network %s: the running network differs from its definition (needs a restart)" % name))
    return out


def _bridge_drift(ids, facts: dict, declared: list) -> list:
    have = facts.get("bridges") or {}
    out = []
    for want in declared:
        name = want["name"]
        node = ids("bridge", name)
        got = have.get(name)
        status = ((got or {}).get("status") or {}).get("bridge")
        if (want.get("state") or "present") == "absent":
            if got and got.get("present", True):
                out.append(_item(ids, "bridge", name, node, "should be absent",
                                 "bridge %s: exists, inventory wants state=absent" % name))
            continue
        if not got or not status:
            out.append(_item(ids, "bridge", name, node, "missing", "bridge %s: missing, inventory declares it" % name))
            continue
        if status.get("operstate") != "up":
            out.append(_item(ids, "bridge", name, node, "not up", "bridge %s: operstate is %s, inventory wants up"
                             % (name, status.get("operstate"))))
        bond = want.get("bond") or {}
        wports = list(want.get("ports") or []) + ([bond["name"]] if bond.get("name") else [])
        missing = sorted(set(wports) - set(status.get("ports") or {}))
        if missing:
            out.append(_item(ids, "bridge", name, node, "ports missing", "bridge %s: not attached: %s"
                             % (name, ", ".join(missing))))
    return out


def _iface_drift(ids, facts: dict, declared: list) -> list:
    doms = {d["name"]: d for d in facts.get("domains") or []}
    out = []
    for want in declared:
        vm = want["domain"]
        key = want.get("alias") or (want.get("mac") or "?").lower()
        name = "%s/%s" % (vm, key)
        cands = all_ifaces(doms.get(vm) or {})
        if want.get("alias"):
            found = [i for i in cands if i.get("alias") == want["alias"]]
        else:
            found = [i for i in cands if (i.get("mac") or "") == (want.get("mac") or "").lower()]
        if (want.get("state") or "present") == "absent":
            if found:
                out.append(_item(ids, "vm_interface", name, ids("vnic", vm, found[0].get("mac")), "should be absent",
                                 "VM %s interface %s: present, inventory wants state=absent" % (vm, key)))
            continue
        if not found:
            parent = None
            if want.get("source") and want.get("type") in ("network", "bridge"):
                parent = ids("net" if want["type"] == "network" else "bridge", want["source"])
            out.append(_item(ids, "vm_interface", name, ids("vnic", vm, key), "missing",
                             "VM %s interface %s: missing%s, inventory declares it"
                             % (vm, key, "" if vm in doms else " (no VM %s)" % vm), parent))
            continue
        got = found[0]
        node = ids("vnic", vm, got.get("mac"))
        for field in ("type", "source", "mac", "model", "link"):
            w = want.get(field)
            if w is None:
                continue
            w = str(w).lower() if field == "mac" else w
            if got.get(field) != w:
                out.append(_item(ids, "vm_interface", name, node, "%s" % field,
                                 "VM %s interface %s: %s is %s, inventory wants %s"
                                 % (vm, key, field, got.get(field), w)))
    return out


def _pxe_drift(ids, facts: dict, declared: list) -> list:
    have = {}
    for p in facts.get("pxe_networks") or []:
        have.setdefault(p["network"], p)
    out = []
    for want in declared:
        name = want["name"]
        node = ids("pxe", name)
        got = have.get(name)
        if (want.get("state") or "present") == "absent":
            if got is not None and (got.get("tftp_root") or got.get("bootp")):
                out.append(_item(ids, "pxe_network", name, node, "should be absent",
                                 "PXE network %s: still serves, inventory wants state=absent" % name))
            continue
        if got is None:
            out.append(_item(ids, "pxe_network", name, node, "missing",
                             "PXE network %s: no <tftp>/<bootp>, inventory declares a PXE server" % name,
                             ids("net", name)))
            continue
        if want.get("tftp_root") and got.get("tftp_root") != want["tftp_root"]:
            out.append(_item(ids, "pxe_network", name, node, "TFTP root", "PXE network %s: TFTP root is %s, "
                             "inventory wants %s" % (name, got.get("tftp_root"), want["tftp_root"])))
        boot = (got.get("bootp") or {}).get("file")
        if want.get("bootp_file") and boot != want["bootp_file"]:
            out.append(_item(ids, "pxe_network", name, node, "boot file", "PXE network %s: boot file is %s, "
                             "inventory wants %s" % (name, boot, want["bootp_file"])))
        if got.get("restart_pending"):
            out.append(_item(ids, "pxe_network", name, node, "restart pending",
                             "PXE network %s: dnsmasq does not use these settings yet (needs a restart)" % name))
        served = got.get("served")
        if served is not None and not (served.get("served") and served.get("match") is not False):
            out.append(_item(ids, "pxe_network", name, node, "not served", "PXE network %s: boot file %s" % (
                name, "differs from the file on disk" if served.get("served") else
                "not served: %s" % (served.get("error") or "no answer"))))
    return out


def _sriov_drift(ids, facts: dict, declared: list) -> list:
    have = {p["pf"]: p for p in facts.get("pfs") or []}
    out = []
    for want in declared:
        pf = want["pf"]
        node = ids("nic", pf)
        got = have.get(pf)
        if got is None:
            out.append(_item(ids, "sriov_vf", pf, node, "missing", "PF %s: no SR-IOV interface of that name" % pf))
            continue
        absent = (want.get("state") or "present") == "absent"
        wvfs = 0 if absent else want.get("num_vfs")
        if wvfs is not None and int(got.get("numvfs") or 0) != int(wvfs):
            out.append(_item(ids, "sriov_vf", pf, node, "VF count", "PF %s: %s VFs, inventory wants %s"
                             % (pf, got.get("numvfs"), wvfs)))
        attach = want.get("attach") or {}
        if attach.get("vm") and not absent and (attach.get("state") or "present") == "present":
            users = {u.get("vm") for v in got.get("vfs") or [] for u in v.get("vms") or []}
            if attach["vm"] not in users:
                out.append(_item(ids, "sriov_vf", pf, node, "VF not given",
                                 "PF %s: no VF given to VM %s, inventory wants one" % (pf, attach["vm"])))
    return out


def drift(facts: dict, declared: dict) -> list:
    """Every difference between the host (facts) and its inventory (declared),
    in the order site.yml converges the components."""
    ids = node_id
    facts = facts or {}
    declared = declared or {}
    out = []
    out += _bridge_drift(ids, facts, declared.get("bridges") or [])
    out += _sriov_drift(ids, facts, declared.get("sriov_vfs") or [])
    out += _network_drift(ids, facts, declared.get("networks") or [])
    out += _pxe_drift(ids, facts, declared.get("pxe_networks") or [])
    out += _iface_drift(ids, facts, declared.get("vm_interfaces") or [])
    return out
