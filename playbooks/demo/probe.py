"""Measure what each libvirt connection type lets a guest reach.

For every network of the reference lab (bridged, NAT, routed, isolated,
open) this boots two tiny test guests with one NIC per network and measures,
with real packets:

* guest -> host          ping from the guest's NIC on that network to the
                         host's address on it (the network's gateway
                         address; the hypervisor's LAN address for bridged)
* guest -> other guest   ping from guest A to guest B over that network
* guest -> outside       ping from the NIC to the "world" address 203.0.113.10
                         in the sandbox's outside namespace
* outside -> guest       HTTP GET from the outside namespace to the guest's
                         address on that network (the guest serves a page
                         naming itself, so an answer from anything else does
                         not count)

Nothing is assumed: every cell of the table comes from a probe's exit
status.  To make a "no" mean "the host refused" rather than "nobody knew the
way", every guest NIC gets its own policy-routing table with a default route
via its network's gateway, and the outside is given a route to the subnet
under test while it probes visibility (removed afterwards).  Routed and open
networks need that LAN route permanently (seed 15.3.2), so lan_routes() adds
it as part of the lab.

Stdlib + the sandbox library; importable by the tests.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "sandbox"))

import vnsb  # noqa: E402  (the sandbox library, found through sys.path)

MODES = ("bridged", "nat", "routed", "isolated", "open")
COLUMNS = (("host", "to host"), ("guests", "to other VMs"), ("outside", "to outside"),
           ("visible", "visible from outside"))

# Seed 15.5, Table 15.1 "Virtual machine connection types": the reference the
# measurements are printed beside (never used to compute them).
SEED_TABLE_15_1 = {
    "bridged": {"host": "YES", "guests": "YES", "outside": "YES", "visible": "YES"},
    "nat": {"host": "YES", "guests": "YES", "outside": "YES", "visible": "no"},
    "routed": {"host": "YES", "guests": "YES", "outside": "YES", "visible": "YES"},
    "isolated": {"host": "YES", "guests": "YES", "outside": "no", "visible": "no"},
    "open": {"host": "depends", "guests": "depends", "outside": "depends", "visible": "depends"},
}

# The reference lab's network per mode (playbooks/inventory/demo/host_vars).
DEFAULT_NETWORKS = {"bridged": "lab-bridged", "nat": "lab-nat", "routed": "lab-routed",
                    "isolated": "lab-isolated", "open": "lab-open"}
GUESTS = ("probe-a", "probe-b")


@dataclass
class LabNet:
    mode: str
    name: str
    forward: str                 # libvirt forward mode ('' when isolated)
    host: str                    # the host's address a guest on it talks to
    subnet: str | None           # None for bridged (the LAN itself)
    gateway: str | None = None   # default gateway a guest NIC uses


@dataclass
class Nic:
    mode: str
    mac: str
    iface: str = ""
    ip: str = ""
    dhcp: bool = True            # False: no lease came, a static address stands in (open mode)


@dataclass
class ProbeGuest:
    guest: "vnsb.Guest"
    nics: dict[str, Nic] = field(default_factory=dict)   # mode -> Nic


def read_lab(sb: "vnsb.Sandbox", networks: dict[str, str] | None = None) -> dict[str, LabNet]:
    """Read each mode's network back from libvirt (its XML, not our config)."""
    networks = networks or DEFAULT_NETWORKS
    lab = {}
    for mode in MODES:
        name = networks[mode]
        root = ET.fromstring(sb.virsh("net-dumpxml", name).stdout)
        fwd = root.find("forward")
        forward = fwd.get("mode", "nat") if fwd is not None else ""
        ip = root.find("ip")
        if forward == "bridge":
            # The hypervisor keeps its LAN address; the guest joins the LAN.
            host = _hv_lan_address(sb)
            lab[mode] = LabNet(mode, name, forward, host=host.split("/")[0], subnet=None,
                               gateway=vnsb.LAN_GW)
            continue
        if ip is None:
            raise RuntimeError(f"network {name!r} ({mode}) has no <ip>: nothing to probe")
        prefix = ip.get("prefix") or str(ipaddress.IPv4Network(f"0.0.0.0/{ip.get('netmask')}").prefixlen)
        iface = ipaddress.ip_interface(f"{ip.get('address')}/{prefix}")
        lab[mode] = LabNet(mode, name, forward, host=str(iface.ip), subnet=str(iface.network),
                           gateway=str(iface.ip))
    return lab


def _hv_lan_address(sb: "vnsb.Sandbox") -> str:
    """The hypervisor's IPv4 address on the LAN (wherever it lives now: lan0,
    or a bridge it was moved to)."""
    out = sb.run_hv(["ip", "-4", "-o", "addr", "show", "scope", "global"]).stdout
    lan = ipaddress.ip_network(f"{vnsb.LAN_GW}/{vnsb.LAN_PREFIX}", strict=False)
    for line in out.splitlines():
        addr = line.split()[3]
        if ipaddress.ip_interface(addr).ip in lan:
            return addr
    raise RuntimeError(f"the hypervisor has no address in {lan}:\n{out}")


def lan_routes(sb: "vnsb.Sandbox", lab: dict[str, LabNet]) -> list[str]:
    """Routed and open networks need the LAN to route their subnet to the
    hypervisor (seed 15.3.2: 'requires extra routing-table entries for systems
    on the external network'). Returns the routes added."""
    added = []
    for net in lab.values():
        if net.forward in ("route", "open") and net.subnet:
            sb.add_out_route(net.subnet, via=vnsb.LAN_HV)
            added.append(f"{net.subnet} via {vnsb.LAN_HV}")
    return added


# Open mode: libvirt adds no firewall rule and puts the bridge in no firewalld
# zone, so the host's own firewall decides even whether the guest's DHCP
# request reaches libvirt's dnsmasq (measured: firewalld's default zone
# refuses it). Without a lease there, the NIC gets a static address in the
# subnet instead, so the four cells still measure what the firewall lets
# through; the result says which NICs had no lease.
NO_LEASE_OK = ("open",)
NO_LEASE_WAIT = 30


def start_guests(sb: "vnsb.Sandbox", lab: dict[str, LabNet], names=GUESTS,
                 timeout: float = 90) -> list[ProbeGuest]:
    """Boot the probe guests (one NIC per mode, in MODES order) and wait for a
    DHCP lease on every NIC (see NO_LEASE_OK for the one exception)."""
    out = []
    for gname in names:
        nics, spec = {}, []
        for i, mode in enumerate(MODES):
            mac = vnsb.random_mac(f"{sb.name}/{gname}/{mode}")
            nics[mode] = Nic(mode, mac)
            spec.append({"type": "network", "source": lab[mode].name, "mac": mac})
        sb.virsh("destroy", gname, check=False)
        g = sb.start_guest(gname, nics=spec)
        out.append(ProbeGuest(g, nics))
    t0 = time.monotonic()
    for gi, pg in enumerate(out):
        by_mac = {n.mac: n for n in pg.nics.values()}
        while True:
            for ev in pg.guest.events("LEASE"):
                iface, mac, ip = ev[1:4]
                if mac.lower() in by_mac:
                    by_mac[mac.lower()].iface, by_mac[mac.lower()].ip = iface, ip
            missing = [m for m, n in pg.nics.items() if not n.ip]
            if not missing:
                break
            waited = time.monotonic() - t0
            if set(missing) <= set(NO_LEASE_OK) and waited > NO_LEASE_WAIT \
                    and all(pg.nics[m].ip for m in MODES if m not in NO_LEASE_OK):
                for m in missing:
                    _static_address(pg, lab[m], pg.nics[m], gi)
                break
            if waited > timeout:
                raise TimeoutError(f"guest {pg.guest.name}: no DHCP lease on {missing} in {timeout}s;"
                                   f" console tail:\n{pg.guest.console_log()[-1500:]}")
            time.sleep(0.2)
        _policy_routes(pg, lab)
    return out


def _static_address(pg: ProbeGuest, net: LabNet, nic: Nic, index: int) -> None:
    """The guest's NIC without a lease gets the subnet's last-but-N address
    (outside libvirt's usual DHCP ranges), its DHCP client stopped."""
    for ev in pg.guest.events("NIC"):
        if ev[2].lower() == nic.mac:
            nic.iface = ev[1]
    subnet = ipaddress.ip_network(net.subnet)
    nic.ip = str(subnet.broadcast_address - 1 - index)
    nic.dhcp = False
    rc, text = pg.guest.run(f"kill $(cat /run/udhcpc.{nic.iface}) 2>/dev/null; "
                            f"ip addr add {nic.ip}/{subnet.prefixlen} dev {nic.iface}", timeout=30)
    if rc != 0:
        raise RuntimeError(f"guest {pg.guest.name}: static address on {nic.iface} failed: {text}")


def _policy_routes(pg: ProbeGuest, lab: dict[str, LabNet]) -> None:
    """Give every NIC its own routing table (source-based), so each NIC
    behaves like a separate single-homed machine: replies leave by the NIC
    the request came in on, and a probe bound to a NIC can only use it."""
    cmds = []
    for i, mode in enumerate(MODES):
        nic, net = pg.nics[mode], lab[mode]
        table = 100 + i
        cmds += [
            f"ip rule add from {nic.ip} table {table} priority {table}",
            f"ip route replace default via {net.gateway} dev {nic.iface} table {table}",
        ]
        onlink = net.subnet or str(ipaddress.ip_network(f"{vnsb.LAN_GW}/{vnsb.LAN_PREFIX}", strict=False))
        cmds.append(f"ip route replace {onlink} dev {nic.iface} src {nic.ip} table {table}")
    rc, text = pg.guest.run(" && ".join(cmds), timeout=30)
    if rc != 0:
        raise RuntimeError(f"guest {pg.guest.name}: policy routing failed: {text}")


def _guest_pings(pg: ProbeGuest, targets: dict[str, tuple[str, str]], timeout: float = 60) -> dict:
    """targets: key -> (iface, address). All pings run at once in the guest;
    a target counts as reached when one of 3 echo requests is answered."""
    jobs = []
    for key, (iface, addr) in targets.items():
        jobs.append(f"( if ping -q -c 3 -W 1 -w 4 -I {iface} {addr} >/dev/null 2>&1; "
                    f"then echo \"R {key} yes\"; else echo \"R {key} no\"; fi ) &")
    rc, text = pg.guest.run(" ".join(jobs) + " wait", timeout=timeout)
    res = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "R" and parts[1] in targets:
            res[parts[1]] = parts[2] == "yes"
    missing = set(targets) - set(res)
    if missing:
        raise RuntimeError(f"guest {pg.guest.name}: no result for {sorted(missing)}: {text!r}")
    return res


_FETCH = ("import sys, urllib.request\n"
          "try:\n"
          "    print(urllib.request.urlopen('http://%s/' % sys.argv[1], timeout=3).read().decode())\n"
          "except OSError as e:\n"
          "    print('FETCH-FAILED', e)\n"
          "    sys.exit(1)\n")


def outside_fetch(sb: "vnsb.Sandbox", ip: str, expect: str) -> bool:
    """HTTP GET from the outside namespace (a TCP connection, like the seed's
    ssh check); only the right guest's page counts."""
    cp = sb.run_out([sys.executable, "-c", _FETCH, ip], timeout=15)
    return cp.returncode == 0 and f"VNSB-HOST {expect}" in cp.stdout


def measure(sb: "vnsb.Sandbox", lab: dict[str, LabNet], guests: list[ProbeGuest]) -> dict:
    """The table: mode -> {host, guests, outside, visible: bool}, plus the
    addresses used (for the report)."""
    a, b = guests[0], guests[1]
    targets = {}
    for mode in MODES:
        nic = a.nics[mode]
        targets[f"{mode}.host"] = (nic.iface, lab[mode].host)
        targets[f"{mode}.guests"] = (nic.iface, b.nics[mode].ip)
        targets[f"{mode}.outside"] = (nic.iface, vnsb.WORLD)
    pings = _guest_pings(a, targets)
    table: dict[str, dict] = {m: {} for m in MODES}
    for key, ok in pings.items():
        mode, col = key.split(".")
        table[mode][col] = ok
    # Visibility: the outside gets a route to the subnet for the probe (so the
    # answer is the host's firewall speaking), then loses it again.
    have = sb.run_out(["ip", "-4", "route", "show"]).stdout
    for mode in MODES:
        net, ip = lab[mode], a.nics[mode].ip
        temp = net.subnet and net.subnet not in have.split()
        if temp:
            sb.add_out_route(net.subnet, via=vnsb.LAN_HV)
        try:
            table[mode]["visible"] = outside_fetch(sb, ip, a.guest.name)
        finally:
            if temp:
                sb.run_out(["ip", "route", "del", net.subnet], check=False)
    return {"table": table,
            "no_dhcp_lease": sorted(m for m in MODES if not a.nics[m].dhcp or not b.nics[m].dhcp),
            "addresses": {m: {"network": lab[m].name, "host": lab[m].host,
                              "guest_a": a.nics[m].ip, "guest_b": b.nics[m].ip} for m in MODES}}


def stop_guests(sb: "vnsb.Sandbox", names=GUESTS) -> None:
    for n in names:
        sb.virsh("destroy", n, check=False)


def _cell(measured: bool, seed: str) -> str:
    m = "YES" if measured else "no"
    if seed == "depends":
        note = "(RHEL: host firewall)"
    elif seed == m:
        note = f"(RHEL {seed})"
    else:
        note = f"(RHEL {seed}) <-- differs"
    return f"{m:<4}{note}"


def format_table(result: dict) -> str:
    table = result["table"]
    widths = [9] + [28] * len(COLUMNS)
    lines = ["mode".ljust(widths[0]) + "".join(title.ljust(w) for (_key, title), w in zip(COLUMNS, widths[1:]))]
    lines.append("-" * sum(widths))
    for mode in MODES:
        row = mode.ljust(widths[0])
        for (key, _title), w in zip(COLUMNS, widths[1:]):
            row += _cell(table[mode][key], SEED_TABLE_15_1[mode][key]).ljust(w)
        lines.append(row.rstrip())
    if result.get("no_dhcp_lease"):
        lines.append("no DHCP lease on %s: the host firewall refused the guests' requests; "
                     "measured with static addresses" % ", ".join(result["no_dhcp_lease"]))
    return "\n".join(lines)


def differences(result: dict) -> list[str]:
    """Cells where the measurement contradicts the seed's table."""
    out = []
    for mode in MODES:
        for key, title in COLUMNS:
            seed = SEED_TABLE_15_1[mode][key]
            if seed == "depends":
                continue
            if (seed == "YES") != result["table"][mode][key]:
                out.append(f"{mode} / {title}: measured {'YES' if result['table'][mode][key] else 'no'},"
                           f" RHEL says {seed}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--name", default=os.environ.get("VIRTNET_SANDBOX_NAME", "demo"))
    ap.add_argument("--json", action="store_true", help="print the raw result as JSON")
    ap.add_argument("--keep-guests", action="store_true")
    a = ap.parse_args(argv)
    sb = vnsb.Sandbox(a.name)
    lab = read_lab(sb)
    lan_routes(sb, lab)
    guests = start_guests(sb, lab)
    try:
        result = measure(sb, lab, guests)
    finally:
        if not a.keep_guests:
            stop_guests(sb)
    print(json.dumps(result, indent=2) if a.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
