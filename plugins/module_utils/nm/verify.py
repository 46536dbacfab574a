# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Verification steps of Configuring virtual machine network connections, 15.9 and 15.10, as data, read from the kernel through an
injectable root (:class:`FsRoot`):

* the ports of a bridge and their STP port states (what ``ip link show
  master br0`` and ``bridge link show`` print): ``/sys/class/net/<br>/brif``;
* a bond's mode, MII status, active port and each port's link (what
  ``cat /proc/net/bonding/<bond>`` prints).
"""

from __future__ import annotations

from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot

# include/uapi/linux/if_bridge.h BR_STATE_*
PORT_STATES = {"0": "disabled", "1": "listening", "2": "learning", "3": "forwarding", "4": "blocking"}


def bridge_status(fs: FsRoot, bridge: str) -> dict | None:
    base = "/sys/class/net/%s" % bridge
    if not fs.isdir(base + "/bridge"):
        return None
    ports = {}
    for port in fs.listdir(base + "/brif"):
        state = fs.read_value("%s/brif/%s/state" % (base, port))
        ports[port] = {"state": PORT_STATES.get(state, state),
                       "operstate": fs.read_value("/sys/class/net/%s/operstate" % port)}
    return {"operstate": fs.read_value(base + "/operstate"),
            "stp": fs.read_value(base + "/bridge/stp_state") not in (None, "0"),
            "ports": ports}


def parse_proc_bonding(text: str) -> dict:
    """``/proc/net/bonding/<bond>`` into a dict (the fields a user checks)."""
    result: dict = {"mode": None, "mii_status": None, "active_port": None, "miimon": None, "ports": {}}
    current = None
    for raw in text.splitlines():
        key, sep, value = raw.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Slave Interface":
            current = {"mii_status": None, "link_failure_count": None, "hw_addr": None}
            result["ports"][value] = current
        elif current is not None:
            if key == "MII Status":
                current["mii_status"] = value
            elif key == "Link Failure Count":
                current["link_failure_count"] = int(value) if value.isdigit() else value
            elif key == "Permanent HW addr":
                current["hw_addr"] = value.lower()
        elif key == "Bonding Mode":
            # "fault-tolerance (active-backup)" -> "active-backup"
            result["mode"] = value.rsplit("(", 1)[-1].rstrip(")") if "(" in value else value
        elif key == "MII Status":
            result["mii_status"] = value
        elif key == "Currently Active Slave":
            result["active_port"] = None if value == "None" else value
        elif key == "MII Polling Interval (ms)":
            result["miimon"] = int(value) if value.isdigit() else value
    return result


def bond_status(fs: FsRoot, bond: str) -> dict | None:
    text = fs.read("/proc/net/bonding/%s" % bond)
    return None if text is None else parse_proc_bonding(text)


def status(fs: FsRoot, bridge: str, bond: str | None) -> dict:
    return {"bridge": bridge_status(fs, bridge), "bond": bond_status(fs, bond) if bond else None}


def problems(st: dict, *, bridge: str, ports: list, bond: str | None, bond_ports: list) -> list:
    """What is not as declared; empty when the kernel agrees with the plan."""
    issues = []
    br = st.get("bridge")
    if br is None:
        return ["bridge %s does not exist in the kernel" % bridge]
    expected = set(ports) | ({bond} if bond else set())
    missing = sorted(expected - set(br["ports"]))
    if missing:
        issues.append("not attached to bridge %s: %s" % (bridge, ", ".join(missing)))
    if bond:
        bs = st.get("bond")
        if bs is None:
            issues.append("bond %s does not exist in the kernel" % bond)
        else:
            absent = sorted(set(bond_ports) - set(bs["ports"]))
            if absent:
                issues.append("not enslaved to bond %s: %s" % (bond, ", ".join(absent)))
            if bs["mii_status"] != "up":
                issues.append("bond %s MII status is %s (no port has link)" % (bond, bs["mii_status"]))
    return issues
