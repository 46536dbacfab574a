"""The prerequisites role on a sandbox hypervisor over real SSH, with the
host's platform Python (/usr/bin/python3, which has the apt binding but not
libvirt-python, lxml or netaddr on this machine). The hypervisor shares the
machine's filesystem, so nothing may be installed for real here: check mode
reports what it would install (computed independently from dpkg), the dpkg
database is unchanged, and a real run whose packages are all present changes
nothing. A full install on a Debian 12 guest is not run here (see the report)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetlib as fx  # noqa: E402

pytestmark = pytest.mark.sandbox   # needs root and the sandbox packages, like the sandbox fixtures

NAME = "sp%d" % (os.getpid() % 100000)   # parallel sessions never share a fleet
PLATFORM_PY = "/usr/bin/python3"
PLAY = """\
- hosts: hypervisors
  gather_facts: false
  roles:
    - role: virtnet.networking.prerequisites
"""


@pytest.fixture(scope="module")
def fleet():
    reason = fx.vnsb.missing_requirements(False)
    if reason:
        pytest.skip(reason)
    if subprocess.run([PLATFORM_PY, "-c", "import apt"], capture_output=True).returncode != 0:
        pytest.skip("the platform Python has no apt binding (python3-apt)")
    fl = fx.fleetmod.Fleet(NAME, 1)
    fl.up()
    try:
        yield fl
    finally:
        fl.down()


def installed(pkgs: list[str]) -> set[str]:
    cp = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *pkgs],
                        capture_output=True, text=True)
    return {ln.split()[0] for ln in cp.stdout.splitlines() if ln.split()[1:2] == ["ii"]}


def dpkg_state() -> str:
    return hashlib.sha256(Path("/var/lib/dpkg/status").read_bytes()).hexdigest()


def run_role(fl, tmp_path, *extra: str) -> fx.Run:
    pb = tmp_path / "prereq.yml"
    pb.write_text(PLAY)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(fx.ROOT / ".build"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    t0 = fx.time.monotonic()
    cp = subprocess.run([str(fx.BIN / "ansible-playbook"), "-i", str(fl.inventory_dir), str(pb),
                         "-e", f"ansible_python_interpreter={PLATFORM_PY}", *extra],
                        env=env, capture_output=True, text=True, timeout=600)
    return fx.Run(cp, fx.time.monotonic() - t0)


def test_check_mode_reports_what_this_host_lacks_and_installs_nothing(fleet, tmp_path):
    host = fleet.hosts[0]
    want = ["python3-apt", "python3-libvirt", "python3-lxml", "python3-netaddr", "network-manager",
            "libvirt-daemon-system", "libvirt-daemon-driver-network"]
    missing = [p for p in want if p not in installed(want)]
    if not missing:
        pytest.skip("this machine has every package already: nothing to predict")
    before = dpkg_state()
    r = run_role(fleet, tmp_path, "--check", "-e", "prerequisites_debian_backports=true")
    assert r.recap(host)["failed"] == 0, (r.failures(host), str(r))
    assert sorted(r.fact(host, "List the packages the modules need on this host",
                         "ansible_facts")["prerequisites_packages"]) == sorted(want)
    said = r.fact(host, "Report what this host lacks", "msg")
    assert said == f"{host}: would install " + ", ".join(p for p in want if p in missing), said
    assert r.recap(host)["changed"] > 0
    assert dpkg_state() == before
    print(f"\n{said} (check mode, {r.seconds:.1f}s)")


def test_a_host_that_has_everything_is_left_alone(fleet, tmp_path):
    """A real run (not check mode): every package asked for is installed
    already, so no package task runs and nothing changes."""
    host = fleet.hosts[0]
    have = ["network-manager", "dnsmasq-base", "openssh-server"]
    if installed(have) != set(have):
        pytest.skip("needs network-manager, dnsmasq-base and openssh-server installed")
    before = dpkg_state()
    r = run_role(fleet, tmp_path, "-e", "prerequisites_libvirt=false",
                 "-e", '{"prerequisites_extra_packages": ["openssh-server", "dnsmasq-base"]}')
    assert r.recap(host) == dict(r.recap(host), failed=0, changed=0), (r.failures(host), str(r))
    assert r.fact(host, "Report what this host lacks", "msg") == f"{host}: has every package the modules need"
    assert not any("Install the missing" in t and not res.get("skipped")
                   for t, _, res in r.results(host))
    assert not any("Enable and start" in t and not res.get("skipped")
                   for t, _, res in r.results(host))
    assert dpkg_state() == before


def test_a_module_without_its_library_names_the_host_and_the_library(fleet):
    """What a user sees before running the role: Ansible's standard message
    naming the host's Python and the missing library, not a traceback."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(fx.ROOT / ".build"), ANSIBLE_NOCOLOR="1")
    cp = subprocess.run([str(fx.BIN / "ansible"), "-i", str(fleet.inventory_dir), "hypervisors",
                         "-e", f"ansible_python_interpreter={PLATFORM_PY}",
                         "-m", "virtnet.networking.virt_network_info"],
                        env=env, capture_output=True, text=True, timeout=300)
    assert cp.returncode != 0
    out = cp.stdout + cp.stderr
    assert f"Failed to import the required Python library (libvirt-python) on {fleet.hosts[0]}-hv's Python " \
        f"{PLATFORM_PY}" in out, out[-3000:]
    assert "Traceback" not in cp.stdout, cp.stdout[-3000:]
