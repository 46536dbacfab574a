"""A fleet of sandbox hypervisors reached over real SSH (sandbox/fleet.py):
each its own libvirtd and sshd in its own namespaces, ansible-playbook's ssh
connection through a ProxyCommand, an inventory with different host_vars
per host, the modules using the default qemu:///system of the host they run
on. VIRTNET_FLEET_SIZE hypervisors (3 here, 8 with `./dev test-fleet`).

What a fleet operator would notice:
* every host is reached over SSH and is the hypervisor it claims to be;
* check mode changes nothing and predicts, per host and per item, what the
  real run then changes; the real run converges every host to its own
  variables; a second run changes nothing; verify.yml reports per host;
* with libvirtd stopped on one host only that host fails, with a message
  naming what is wrong, and the others converge; after libvirtd is back the
  re-run converges it;
* `fleet.py down` leaves no process, namespace, key or file behind.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetlib as fx  # noqa: E402

pytestmark = pytest.mark.sandbox   # needs root and the sandbox packages, like the sandbox fixtures

NAME = "sf%d" % (os.getpid() % 100000)   # parallel sessions never share a fleet

TIMES: dict = {}


@pytest.fixture(scope="module")
def fleet():
    reason = fx.vnsb.missing_requirements(False)
    if reason:
        pytest.skip(reason)
    if not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("openssh-server missing (run sandbox/install-packages.sh)")
    t0 = time.monotonic()
    fl, timings = fx.start(NAME, fx.size())
    TIMES["up_s"] = round(time.monotonic() - t0, 1)
    TIMES["idle_rss_mb"] = fx.fleet_rss_mb(fl)
    try:
        yield fl
    finally:
        if os.environ.get("VIRTNET_SANDBOX_KEEP") != "1":
            fl.down()
        print(f"\nfleet of {fl.size}: {TIMES}")


def test_every_host_is_reached_over_ssh_and_is_its_own_hypervisor(fleet):
    """Catches hosts sharing one ssh master connection (all are 127.0.0.1 in
    their namespace) or a ProxyCommand landing in the wrong namespace."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(fx.ROOT / ".build"), ANSIBLE_NOCOLOR="1")
    for _ in range(2):   # the second time through the ssh control masters
        cp = fx.subprocess.run(
            [str(fx.BIN / "ansible"), "-i", str(fleet.inventory_dir), "hypervisors", "-f", str(fleet.size),
             "-o", "-m", "ansible.builtin.command",
             "-a", "sh -c 'echo $(hostname) \"$SSH_CONNECTION\" $(readlink /proc/self/ns/net)'"],
            env=env, capture_output=True, text=True, timeout=300)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        lines = {ln.split(" | ")[0]: ln for ln in cp.stdout.splitlines() if " | " in ln}
        assert sorted(lines) == sorted(fleet.hosts), cp.stdout
        netns = set()
        for h in fleet.hosts:
            out = lines[h].split("(stdout) ")[-1].split()
            assert out[0] == f"{h}-hv", lines[h]               # the host's own UTS namespace
            assert out[1:5] == ["127.0.0.1", out[2], "127.0.0.1", "22"], lines[h]   # an sshd session
            netns.add(out[-1])
        assert len(netns) == fleet.size


def test_check_predicts_apply_converges_again_changes_nothing_verify_reports(fleet):
    hv = fx.all_host_vars(fleet)
    before = fx.snapshot(fleet)
    check = fx.play(fleet, "site.yml", "--check")
    TIMES["check_s"] = round(check.seconds, 1)
    for h in fleet.hosts:
        assert check.recap(h)["failed"] == 0 and check.recap(h)["unreachable"] == 0, (h, str(check))
        assert check.changes(h), (h, str(check))
    assert fx.snapshot(fleet) == before, "check mode changed a host"

    applied = fx.play(fleet, "site.yml")
    TIMES["converge_s"] = round(applied.seconds, 1)
    TIMES["converged_rss_mb"] = fx.fleet_rss_mb(fleet)
    for h in fleet.hosts:
        assert applied.recap(h)["failed"] == 0, (h, applied.failures(h), str(applied))
        # check mode predicted exactly this host's changes, item by item
        assert applied.changes(h) == check.predicted(h), h
        assert fx.net_rows(fleet, h) == fx.want_rows(hv[h]), h
    # the host-specific DHCP reservation landed on its own host only
    for i, h in enumerate(fleet.hosts, 1):
        xml = fleet.sandbox(h).virsh("net-dumpxml", "fl-nat").stdout
        assert f"mac='{fx.vm_mac(i)}'" in xml and f"ip='192.0.2.{10 + i}'" in xml, (h, xml)
        if i % 2 == 0:
            assert fx.vm_mac(i) in fleet.sandbox(h).virsh("domiflist", fx.VM, "--inactive").stdout

    again = fx.play(fleet, "site.yml")
    TIMES["noop_s"] = round(again.seconds, 1)
    for h in fleet.hosts:
        assert again.recap(h)["changed"] == 0 and again.recap(h)["failed"] == 0, (h, again.changes(h))

    converged = fx.snapshot(fleet)
    verify = fx.play(fleet, "verify.yml")
    TIMES["verify_s"] = round(verify.seconds, 1)
    for h in fleet.hosts:
        assert verify.recap(h) == dict(verify.recap(h), failed=0, changed=0), (h, verify.failures(h))
        report = verify.fact(h, "Show what the RHEL Verification steps show", "virtnet_verify_report")
        # `virsh net-list` of this host as verify.yml shows it: its own networks only
        assert sorted(r.split()[0] for r in report["net_list"]) == \
            sorted(n["name"] for n in hv[h]["virtnet_networks"]), (h, report["net_list"])
        assert (fx.VM in report["vm_interfaces"]) == (fleet.hosts.index(h) % 2 == 1), (h, report)
    assert fx.snapshot(fleet) == converged


SITE_TASK = "The virtual networking of the host (hypervisor)"


def _defined(sb) -> list[str]:
    """Network definitions libvirtd keeps on disk (readable while it is down)."""
    d = sb.state_dir / "etc/libvirt/qemu/networks"
    return sorted(p.name for p in d.glob("*.xml")) if d.is_dir() else []


def test_libvirtd_down_on_one_host_fails_only_that_host(fleet):
    victim = fleet.hosts[len(fleet.hosts) // 2]
    hv = fx.all_host_vars(fleet, extra=True)     # one more network everywhere
    fleet.write_inventory(hv)
    sb = fleet.sandbox(victim)
    fx.kill_libvirtd(sb)
    before = {"victim_nets": _defined(sb)}
    try:
        run = fx.play(fleet, "site.yml")
        TIMES["one_down_s"] = round(run.seconds, 1)
        assert run.recap(victim)["failed"] == 1 and run.recap(victim)["unreachable"] == 0, str(run)
        msg = " ".join(run.failures(victim))
        # what is wrong, not a traceback
        assert "libvirt" in msg and "Traceback" not in msg, msg
        print(f"\n{victim} with libvirtd stopped: {msg}")
        for h in fleet.hosts:
            if h == victim:
                continue
            assert run.recap(h)["failed"] == 0, (h, run.failures(h))
            assert run.changes(h) == {(SITE_TASK, '"fl-extra"')}, (h, run.changes(h))
            assert fx.net_rows(fleet, h) == fx.want_rows(hv[h]), h
        assert _defined(sb) == before["victim_nets"]
    finally:
        TIMES["libvirtd_restart_s"] = round(sb.restart_libvirtd(), 1)
    rerun = fx.play(fleet, "site.yml")
    for h in fleet.hosts:
        assert rerun.recap(h)["failed"] == 0, (h, rerun.failures(h))
        assert (rerun.recap(h)["changed"] > 0) == (h == victim), (h, rerun.changes(h))
        assert fx.net_rows(fleet, h) == fx.want_rows(hv[h]), h
    fleet.write_inventory(fx.all_host_vars(fleet))


def test_down_leaves_no_trace():
    """A fleet of its own (2 hosts), so the module's fleet is not torn down early."""
    reason = fx.vnsb.missing_requirements(False)
    if reason:
        pytest.skip(reason)
    fl, _ = fx.start(NAME + "x", 2)
    try:
        # leaves ssh control masters behind, as any run does
        r = fx.play(fl, "verify.yml", "-e", '{"virtnet_networks": [], "virtnet_vm_interfaces": []}')
        assert all(r.recap(h)["failed"] == 0 for h in fl.hosts), str(r)
        assert fx.fleet_processes(fl), "the test cannot see the fleet's processes"
        sshd = [sb.meta["pids"]["sshd"]["pid"] for sb in fl.sandboxes]
        # a host that cannot be reached is named as unreachable; the other one runs
        # sshd and its live sessions (the control master of the run above holds one)
        fx.vnsb._kill_pids([p for p in fx.vnsb._netns_pids(fl.sandboxes[1].hv_ns)
                            if Path(f"/proc/{p}/comm").read_text().strip() == "sshd"])
        r = fx.play(fl, "verify.yml", "-e", '{"virtnet_networks": [], "virtnet_vm_interfaces": []}')
        assert r.recap(fl.hosts[1])["unreachable"] == 1 and r.recap(fl.hosts[0])["failed"] == 0, str(r)
        assert r.recap(fl.hosts[0])["unreachable"] == 0
        assert f'Data could not be sent to remote host "{fl.hosts[1]}"' in str(r.data), str(r)
    finally:
        fl.down()
    assert fx.fleet_processes(fl) == []
    assert not any(fx.vnsb._alive(p) for p in sshd)
    assert not fl.dir.exists()
    for sb in fl.sandboxes:
        assert not sb.state_dir.exists()
        assert not os.path.exists(f"/run/netns/{sb.hv_ns}")
    assert not os.path.exists("/run/ansible-tmp")
