"""Faults on the real sandbox hypervisor (instance `evidnm`), each a test.

- libvirtd is SIGKILLed while a loop of virt_network runs converges many
  networks: the run in flight and the ones after it fail with a message (no
  traceback), nothing else on the host changes, and once libvirtd is back a
  re-run converges and a third run changes nothing.
- a network restart under two running guests: both are reconnected and
  answer again (HTTP from the host, ping between them), neither rebooted.
  (tests/integration/virt_network covers one guest on a NAT network.)
- NetworkManager activation failing: a bond under the existing bridge cannot
  be created (this kernel has no bonding), NM is rolled back to the
  checkpoint, and the host is identical down to the keyfiles on disk, the
  routes and libvirt.  (tests/integration/nm_bond_bridge checks the profiles'
  settings and addresses after the same kind of failure; this adds the files,
  routes, links and nftables of the whole host.)
- two runs against the same host at once: virt_network on two new networks,
  on the same network with the same and with different declarations, and
  nm_bond_bridge on two bridges: no corruption, every failure is a clean
  one, and a later run converges with changed=false.
"""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from evidence_lib import BASE_BRIDGE, BASE_NET, clean_failure, diff_states, host_state, mod

N_NETS = 10


def _net(i: int, **extra) -> dict:
    """Network ev-fNN on 203.0.113.(8i)/29 (clear of ev-base's .128/27)."""
    base = 8 * i
    return dict({"name": "ev-f%02d" % i, "forward": {"mode": "nat" if i % 2 else "isolated"},
                 "bridge": {"stp": False},
                 "ips": [{"address": "203.0.113.%d/29" % (base + 1),
                          "dhcp": {"ranges": [{"start": "203.0.113.%d" % (base + 2),
                                               "end": "203.0.113.%d" % (base + 6)}]}}],
                 "dnsmasq_options": ["no-ping"]}, **extra)


def _remove(sb, prefix: str) -> None:
    for name in sb.virsh("net-list", "--all", "--name").stdout.split():
        if name.startswith(prefix):
            sb.virsh("net-destroy", name, check=False)
            sb.virsh("net-undefine", name, check=False)


def _libvirt_only(state: dict, prefix: str) -> dict:
    """The parts of a host state outside the networks named ``prefix*`` (and
    their bridges, addresses, routes and firewall rules)."""
    return {k: {n: x for n, x in state[k].items() if not n.startswith(prefix)}
            for k in ("networks", "networks_inactive", "autostart", "domains", "domains_inactive")}


# --------------------------------------------------------------------------
# libvirtd killed in the middle of a run
# --------------------------------------------------------------------------

def test_libvirtd_killed_mid_run_fails_cleanly_and_a_rerun_converges(base):
    sb = base
    _remove(sb, "ev-f")
    before = host_state(sb)
    try:
        _kill_libvirtd_mid_run_and_rerun(sb, before)
    finally:
        if not sb.healthy():
            sb.restart_libvirtd()
        _remove(sb, "ev-f")
    after = host_state(sb)
    assert after == before, diff_states(before, after)


def _kill_libvirtd_mid_run_and_rerun(sb, before: dict) -> None:
    results: list = []

    def converge_all():
        for i in range(N_NETS):
            results.append(mod(sb, "virt_network", _net(i), timeout=120))

    worker = threading.Thread(target=converge_all)
    worker.start()
    pid = sb.meta["pids"]["libvirtd"]["pid"]
    killed_at = None
    try:
        # Kill as soon as the 4th network shows up: its module is then
        # between defining it and starting it (dnsmasq, firewall rules).
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and worker.is_alive():
            if "ev-f03" in sb.virsh("net-list", "--all", "--name", check=False).stdout.split():
                os.kill(pid, signal.SIGKILL)
                killed_at = len(results)
                break
            time.sleep(0.02)
    finally:
        worker.join(300)
        t_restart = sb.restart_libvirtd()
    assert killed_at is not None, "the 4th network never appeared: %s" % results
    # Runs before the kill converged; the one in flight and every later one
    # failed with a message a user can read.
    assert all(not r.get("failed") for r in results[:killed_at]), results[:killed_at]
    failed = [r for r in results[killed_at:] if r.get("failed")]
    assert failed, "no run saw libvirtd die"
    print("libvirtd killed during run %d of %d, back in %.1f s; failures: %s"
          % (killed_at + 1, N_NETS, t_restart, [r["msg"][:150] for r in failed]))
    for r in failed:
        clean_failure(r)
        assert r["msg"].startswith(("libvirt:", "cannot connect to libvirt at uri=")), r["msg"]
    # The rest of the host (ev-base, the domains) is as before.  The
    # half-converged ev-f* networks may be defined, inactive, or missing.
    assert _libvirt_only(host_state(sb), "ev-f") == _libvirt_only(before, "ev-f")
    # A re-run converges every network, and a third changes nothing.
    for i in range(N_NETS):
        res = mod(sb, "virt_network", _net(i))
        assert not res.get("failed"), res
        assert res["network"]["active"] is True
    again = [mod(sb, "virt_network", _net(i)) for i in range(N_NETS)]
    assert [r["changed"] for r in again] == [False] * N_NETS, [r["actions"] for r in again if r["changed"]]
    bridges = [r["network"]["bridge"]["name"] for r in again]
    assert len(set(bridges)) == N_NETS, bridges


# --------------------------------------------------------------------------
# network restart under running guests
# --------------------------------------------------------------------------

RS = {"name": "ev-rs", "forward": {"mode": "isolated"}, "bridge": {"stp": False},
      "ips": [{"address": "203.0.113.97/28", "dhcp": {"ranges": [{"start": "203.0.113.100", "end": "203.0.113.110"}]}}],
      "dnsmasq_options": ["no-ping"]}


def _http(sb, ip: str) -> str:
    cp = sb.run_hv(["curl", "-s", "--max-time", "3", "http://%s/" % ip], timeout=20)
    return cp.stdout if cp.returncode == 0 else ""


def _answers(sb, ip: str, name: str, tries: int = 20) -> bool:
    for _try in range(tries):
        if "VNSB-HOST %s" % name in _http(sb, ip):
            return True
        time.sleep(0.5)
    return False


def test_network_restart_brings_running_guests_back(base):
    sb = base
    _remove(sb, "ev-rs")
    res = mod(sb, "virt_network", RS)
    assert not res.get("failed"), res
    guests = {}
    try:
        for name in ("ev-g1", "ev-g2"):
            guests[name] = sb.start_guest(name, nics=[{"source": "ev-rs"}])
        ips = {name: g.wait_for_lease(timeout=120) for name, g in guests.items()}
        for name, ip in ips.items():
            assert _answers(sb, ip, name), (name, ip)
        boots = {name: len(g.events("BOOTED")) for name, g in guests.items()}
        # mtu needs a restart: without restart=true it is only pending ...
        pending = mod(sb, "virt_network", dict(RS, mtu=1400))
        assert pending["restart_required"] is True and pending["pending"] == ["mtu"], pending
        # ... with it, the network is recreated and both guests reconnected.
        check = mod(sb, "virt_network", dict(RS, mtu=1400, restart=True), check=True)
        applied = mod(sb, "virt_network", dict(RS, mtu=1400, restart=True))
        assert not applied.get("failed"), applied
        assert [a["kind"] for a in applied["actions"]] == ["restart"] == [a["kind"] for a in check["actions"]]
        assert applied["reconnected"] == ["ev-g1", "ev-g2"]
        bridge = applied["network"]["bridge"]["name"]
        assert "mtu 1400" in sb.run_hv(["ip", "-o", "link", "show", bridge]).stdout
        # What a user checks: the guests answer again, from the host and to
        # each other, and were not rebooted.
        for name, ip in ips.items():
            assert _answers(sb, ip, name), ("no answer after the restart", name, ip)
        rc, out = guests["ev-g1"].run("ping -c 2 -W 2 %s" % ips["ev-g2"], timeout=30)
        assert rc == 0, out
        assert {name: len(g.events("BOOTED")) for name, g in guests.items()} == boots
        assert mod(sb, "virt_network", dict(RS, mtu=1400, restart=True))["changed"] is False
    finally:
        for g in guests.values():
            g.destroy()
        _remove(sb, "ev-rs")


# --------------------------------------------------------------------------
# NetworkManager activation failing -> rolled back
# --------------------------------------------------------------------------

def test_failed_activation_is_rolled_back_down_to_the_keyfiles(base):
    sb = base
    before = host_state(sb)
    bad = dict(BASE_BRIDGE, ports=[], bond={"name": "evbond0", "ports": ["lan2"]})
    t0 = time.monotonic()
    res = mod(sb, "nm_bond_bridge", bad)
    elapsed = time.monotonic() - t0
    clean_failure(res)
    assert "rolled back to the checkpoint" in res["msg"], res["msg"]
    assert "evbond0" in res["msg"], res["msg"]
    assert res["rollback"] and set(res["rollback"].values()) == {"ok"}, res["rollback"]
    # Profiles, keyfiles (names, modes, contents), links, addresses, routes,
    # nftables and libvirt: as before.
    deadline = time.monotonic() + 10
    after = host_state(sb)
    while after != before and time.monotonic() < deadline:
        time.sleep(0.5)
        after = host_state(sb)
    assert after == before, diff_states(before, after)
    assert elapsed < 60, elapsed   # rolled back by the module, not NM's timer
    assert sb.run_out(["ping", "-c", "1", "-W", "2", "198.51.100.41"]).returncode == 0
    assert mod(sb, "nm_bond_bridge", BASE_BRIDGE, check=True)["changed"] is False


# --------------------------------------------------------------------------
# two runs at once
# --------------------------------------------------------------------------

def _together(*calls) -> list:
    """Run the callables at the same moment; results in order."""
    out: list = [None] * len(calls)
    go = threading.Barrier(len(calls))

    def runner(i, fn):
        go.wait()
        out[i] = fn()

    threads = [threading.Thread(target=runner, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return out


def _ok_or_clean(res: dict) -> bool:
    if res.get("failed"):
        clean_failure(res)
        return False
    return True


def test_two_virt_network_runs_at_once(base):
    sb = base
    _remove(sb, "ev-c")
    before = host_state(sb)
    a = dict(_net(1), name="ev-c1")
    b = dict(_net(2), name="ev-c2")
    try:
        # Four new networks at once, none names its bridge: each run picks
        # the first free virbrN, so they race for the same name (a run that
        # loses libvirt's "already in use" picks again).
        news = [a, b] + [dict(_net(i), name="ev-c%d" % i) for i in (4, 5)]
        first = _together(*[(lambda d=d: mod(sb, "virt_network", d)) for d in news])
        assert [r.get("msg") for r in first] == [None] * 4, [r.get("msg") for r in first]
        assert len({r["network"]["bridge"]["name"] for r in first}) == 4, [r["network"] for r in first]
        # The same network, the same declaration, twice at once.
        c = dict(_net(3), name="ev-c3")
        rc = _together(lambda: mod(sb, "virt_network", c), lambda: mod(sb, "virt_network", c))
        oks = [_ok_or_clean(r) for r in rc]
        assert any(oks), rc
        print("same network at once:", [r.get("msg", "changed=%s" % r.get("changed"))[:100] for r in rc])
        # The same network, two different DHCP host lists at once (live updates).
        hosts = [[{"mac": "52:54:00:cc:00:%02x" % n, "ip": "203.0.113.%d" % (28 + n)}] for n in (1, 2)]
        decl = [dict(c, ips=[dict(c["ips"][0], dhcp=dict(c["ips"][0]["dhcp"], hosts=h))]) for h in hosts]
        rd = _together(lambda: mod(sb, "virt_network", decl[0]), lambda: mod(sb, "virt_network", decl[1]))
        for r in rd:
            _ok_or_clean(r)
        print("two host lists at once:", [r.get("msg", "changed=%s" % r.get("changed"))[:100] for r in rd])
        # No corruption: each network is defined once, parses, and a later
        # run of each declaration converges and then changes nothing.
        names = sb.virsh("net-list", "--all", "--name").stdout.split()
        assert sorted(n for n in names if n.startswith("ev-c")) == ["ev-c1", "ev-c2", "ev-c3", "ev-c4", "ev-c5"]
        for decl_ in news + [decl[1]]:
            assert not mod(sb, "virt_network", decl_).get("failed")
            assert mod(sb, "virt_network", decl_)["changed"] is False
        xml = sb.virsh("net-dumpxml", "ev-c3").stdout
        assert xml.count("<host ") == 1 and "52:54:00:cc:00:02" in xml, xml
    finally:
        _remove(sb, "ev-c")
    after = host_state(sb)
    assert after == before, diff_states(before, after)


def test_two_nm_bond_bridge_runs_at_once(base):
    """Each change runs under a checkpoint over every device: a second run
    that starts while the first holds one must refuse cleanly (and change
    nothing), never interleave; run again, it converges."""
    sb = base
    before = host_state(sb)
    a = dict(BASE_BRIDGE, ipv4={"addresses": ["198.51.100.41/24", "198.51.100.42/24"]})
    b = {"name": "evbr1", "ports": ["lan1"], "verify_target": "198.51.100.1"}
    try:
        ra, rb = _together(lambda: mod(sb, "nm_bond_bridge", a), lambda: mod(sb, "nm_bond_bridge", b))
        print("nm_bond_bridge at once:", [r.get("msg", "ok")[:100] for r in (ra, rb)])
        for r in (ra, rb):
            if r.get("failed"):
                clean_failure(r)
                assert "could not create a NetworkManager checkpoint, so nothing was changed" in r["msg"], r["msg"]
        for args in (a, b):
            res = mod(sb, "nm_bond_bridge", args)
            assert not res.get("failed"), res
            assert mod(sb, "nm_bond_bridge", args)["changed"] is False
        assert sb.run_out(["ping", "-c", "1", "-W", "2", "198.51.100.42"]).returncode == 0
    finally:
        mod(sb, "nm_bond_bridge", {"name": "evbr1", "state": "absent", "release_ports": False})
        mod(sb, "nm_bond_bridge", BASE_BRIDGE)
    deadline = time.monotonic() + 10
    after = host_state(sb)
    while after != before and time.monotonic() < deadline:
        time.sleep(0.5)
        after = host_state(sb)
    assert after == before, diff_states(before, after)


@pytest.fixture(autouse=True, scope="module")
def _base_net_unchanged(base):
    """ev-base (and its running dnsmasq) goes through every fault untouched."""
    xml = base.virsh("net-dumpxml", "ev-base").stdout
    yield
    assert base.virsh("net-dumpxml", "ev-base").stdout == xml
    assert mod(base, "virt_network", BASE_NET, check=True)["changed"] is False
