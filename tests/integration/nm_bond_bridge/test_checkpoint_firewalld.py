"""The NetworkManager checkpoint on a host that runs firewalld (issue 16).

On a RHEL 9 hypervisor firewalld is running, and NetworkManager tells it
about every device it activates: a bridge profile without
``connection.zone`` (what nm_bond_bridge creates) and its ports land in
firewalld's default zone at runtime.  So a change that is rolled back must
also take them out again, or the host's firewall is left different from
before the failed task.  Runs only in a shape with firewalld
(``VIRTNET_SANDBOX_SHAPE=rhel9``); skipped elsewhere with that reason.
"""

from __future__ import annotations

import difflib
import os
import re
import time

import pytest
import vnsb

from virtnet_testlib import converge, run_module

NAME = "fw%d" % (os.getpid() % 100000)   # per session: never shared
UNREACHABLE = "192.0.2.250"               # nothing answers there: verification fails

pytestmark = pytest.mark.skipif(
    not vnsb.SHAPES[vnsb.default_shape()]["firewalld"],
    reason="needs firewalld in the hypervisor: run with VIRTNET_SANDBOX_SHAPE=rhel9")


@pytest.fixture(scope="module")
def sb(sandbox_factory):
    return sandbox_factory.get(NAME, with_nm=True)


@pytest.fixture
def clean(sb):
    def wipe():
        for line in sb.nmcli("-t", "-f", "UUID,TYPE", "connection", "show").stdout.splitlines():
            uuid, ctype = line.split(":")[:2]
            if ctype != "loopback":
                sb.nmcli("connection", "delete", "uuid", uuid)
        sb.run_hv(["ip", "link", "del", "br0"])
        sb.run_hv(["ip", "addr", "flush", "dev", "lan1"])
    wipe()
    yield sb
    wipe()


def firewall(sb) -> dict:
    """firewalld's runtime configuration and the kernel rules it made
    (stateless: without counters, which change with every packet)."""
    zones = sb.run_hv(["firewall-cmd", "--list-all-zones"])
    rules = sb.run_hv(["nft", "-s", "list", "ruleset"])
    assert zones.returncode == 0 and rules.returncode == 0, (zones.stderr, rules.stderr)
    return {"zones": zones.stdout, "nft": _dispatch_sorted(rules.stdout)}


_DISPATCH = re.compile(r'^\s+(iif|oif)name "[^"]+" goto ')


def _dispatch_sorted(ruleset: str) -> str:
    """firewalld's *_ZONES chains send each interface to its zone with one
    `iifname "X" goto ...` rule; the rules match distinct interfaces, so
    their order means nothing, and it changes when NetworkManager registers
    the devices again in another order (measured after a rollback: lan1
    before br0). Sort each run of them; every other line keeps its place."""
    out, run = [], []
    for line in ruleset.splitlines(True):
        if _DISPATCH.match(line):
            run.append(line)
            continue
        out += sorted(run) + [line]
        run = []
    return "".join(out + sorted(run))


def fw_diff(a: dict, b: dict) -> str:
    return "".join(difflib.unified_diff((a["zones"] + a["nft"]).splitlines(True),
                                        (b["zones"] + b["nft"]).splitlines(True), "before", "after"))


def zone_of(sb, ifname: str) -> str:
    return sb.run_hv(["firewall-cmd", "--get-zone-of-interface=" + ifname]).stdout.strip()


def profiles(sb) -> list:
    return sorted(sb.nmcli("-t", "-f", "UUID,NAME,DEVICE", "connection", "show").stdout.splitlines())


def mod(sb, args):
    return run_module("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]))


def test_new_bridge_that_fails_verification_leaves_firewalld_as_it_was(clean):
    sb = clean
    assert "running" in sb.run_hv(["firewall-cmd", "--state"]).stdout
    default = sb.run_hv(["firewall-cmd", "--get-default-zone"]).stdout.strip()
    before_fw, before_nm = firewall(sb), profiles(sb)
    res = mod(sb, {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["198.51.100.20/24"]},
                   "verify_target": UNREACHABLE, "verify_timeout": 5})
    assert res.get("failed"), res
    assert "%s is not reachable after the change" % UNREACHABLE in res["msg"], res["msg"]
    assert "rolled back to the checkpoint" in res["msg"], res["msg"]
    assert set(res["rollback"].values()) == {"ok"}, res["rollback"]
    # NetworkManager did register the bridge with firewalld during the change
    # (it is in the checkpoint's log as active), and the rollback took it out:
    # the runtime zones and rules are exactly as before.
    deadline = time.monotonic() + 10
    while firewall(sb) != before_fw and time.monotonic() < deadline:
        time.sleep(0.5)
    after_fw = firewall(sb)
    assert after_fw == before_fw, fw_diff(before_fw, after_fw)
    assert profiles(sb) == before_nm
    assert sb.run_hv(["ip", "link", "show", "br0"]).returncode != 0
    # The same bridge, verified: NetworkManager puts it and its port into the
    # default zone (the profile sets no connection.zone), not libvirt's zone.
    ok = converge("nm_bond_bridge", {"name": "br0", "ports": ["lan1"],
                                     "ipv4": {"addresses": ["198.51.100.20/24"]},
                                     "verify_target": "198.51.100.1"}, argv_prefix=sb.hv_argv([]))[1]
    assert ok["checkpoint"][-1].endswith("destroyed: the new state is kept")
    assert zone_of(sb, "br0") == default and zone_of(sb, "lan1") == default
    assert zone_of(sb, "br0") != "libvirt"


def test_failed_change_of_an_existing_bridge_is_rolled_back_with_its_zone(clean):
    sb = clean
    args = {"name": "br0", "ports": ["lan1"], "ipv4": {"addresses": ["198.51.100.20/24"]},
            "verify_target": "198.51.100.1"}
    converge("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]))
    # An administrator put the bridge into another zone the way that lasts on
    # a NetworkManager host: in the profile (`firewall-cmd --permanent
    # --zone=internal --change-interface=br0` does the same for an
    # NM-managed interface). NetworkManager moves it at once.
    # (A runtime-only `firewall-cmd --zone=internal --change-interface=br0`
    # does not survive a reactivation of br0, this module's or anyone's:
    # NetworkManager registers the device again with the profile's zone.)
    assert sb.nmcli("connection", "modify", "br0", "connection.zone", "internal").returncode == 0
    deadline = time.monotonic() + 10
    while zone_of(sb, "br0") != "internal" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert zone_of(sb, "br0") == "internal"
    # The module leaves the zone alone: nothing to change for the same declaration.
    assert mod(sb, args)["changed"] is False
    before_fw, before_nm = firewall(sb), profiles(sb)
    addrs = sb.run_hv(["ip", "-o", "-4", "addr", "show", "dev", "br0"]).stdout
    res = mod(sb, dict(args, ipv4={"addresses": ["198.51.100.21/24"]}, verify_target=UNREACHABLE,
                       verify_timeout=5))
    assert res.get("failed") and "rolled back to the checkpoint" in res["msg"], res
    deadline = time.monotonic() + 10
    while firewall(sb) != before_fw and time.monotonic() < deadline:
        time.sleep(0.5)
    after_fw = firewall(sb)
    assert after_fw == before_fw, fw_diff(before_fw, after_fw)
    assert zone_of(sb, "br0") == "internal"
    assert profiles(sb) == before_nm
    assert sb.run_hv(["ip", "-o", "-4", "addr", "show", "dev", "br0"]).stdout == addrs


def test_move_ip_from_keeps_the_address_in_its_zone_and_zone_sets_it(clean):
    """15.9 on a host with firewalld: the uplink's profile puts its address
    in the `internal` zone; the bridge that takes the address takes the
    zone too (without it, NetworkManager would register the bridge in the
    default zone and the host's address would change zone). zone= sets it."""
    sb = clean
    assert sb.nmcli("connection", "add", "type", "ethernet", "con-name", "uplink", "ifname", "lan1",
                    "ipv4.method", "manual", "ipv4.addresses", "198.51.100.20/24", "ipv6.method", "disabled",
                    "connection.zone", "internal").returncode == 0
    assert sb.nmcli("connection", "up", "uplink").returncode == 0
    assert zone_of(sb, "lan1") == "internal"
    args = {"name": "br0", "ports": ["lan1"], "move_ip_from": "lan1", "verify_target": "198.51.100.1"}
    applied = converge("nm_bond_bridge", args, argv_prefix=sb.hv_argv([]))[1]
    assert applied["bridge"]["zone"] == "internal"
    deadline = time.monotonic() + 10
    while zone_of(sb, "br0") != "internal" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert zone_of(sb, "br0") == "internal"
    assert "198.51.100.20/24" in sb.run_hv(["ip", "-o", "-4", "addr", "show", "dev", "br0"]).stdout
    # zone= moves it, and the module reports the change by name
    moved = converge("nm_bond_bridge", dict(args, zone="trusted"), argv_prefix=sb.hv_argv([]))[1]
    assert any("zone" in a["summary"] for a in moved["actions"]), moved["actions"]
    deadline = time.monotonic() + 10
    while zone_of(sb, "br0") != "trusted" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert zone_of(sb, "br0") == "trusted"
