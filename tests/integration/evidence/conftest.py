"""The evidence suite's one sandbox (instance `evidnm`: libvirtd + NetworkManager)
and the state every test starts from: a running NAT network `ev-base` with a
static DHCP host and a TXT record, and an active NM bridge `evbr0` on lan2
carrying 198.51.100.41/24.  Bad input must leave exactly that behind."""
from __future__ import annotations

import os
import time

import pytest

from evidence_lib import BASE_BRIDGE, BASE_NET, BASE_VM, BASE_VM_MAC, SANDBOX, mod


def _settle(sb) -> None:
    """A fresh namespace's IPv6 link-local addresses finish DAD a moment
    later; wait so snapshots compare only what a module might touch."""
    deadline = time.monotonic() + 15
    while "tentative" in sb.run_hv(["ip", "-o", "addr"]).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.3)


@pytest.fixture(scope="session")
def evsb(sandbox_factory):
    sb = sandbox_factory.get(SANDBOX, with_nm=True)
    # libvirt refuses IPv6 forwarding while the uplink's router adverts
    # configure routes (accept_ra must be 2); inside the sandbox only.  Not on
    # lan1/lan2: SLAAC there makes NetworkManager generate an "external"
    # profile for the port some time later, which is not a change we made.
    sb.run_hv(["sysctl", "-qw", "net.ipv6.conf.lan0.accept_ra=2"])
    return sb


@pytest.fixture(scope="session")
def base(evsb):
    """Converge the base objects (idempotent: a reused sandbox keeps them)."""
    for name, args in (("virt_network", BASE_NET), ("nm_bond_bridge", BASE_BRIDGE)):
        res = mod(evsb, name, args)
        assert not res.get("failed"), res
        again = mod(evsb, name, args)
        assert again["changed"] is False, again
    if BASE_VM not in evsb.virsh("list", "--all", "--name").stdout.split():
        # defined, never started: the NIC modules' bad input must leave its XML alone
        path = evsb.state_dir / ("%s.xml" % BASE_VM)
        path.write_text(evsb.guest_xml(BASE_VM, [{"source": BASE_NET["name"], "mac": BASE_VM_MAC}]))
        evsb.virsh("define", str(path))
    _settle(evsb)
    return evsb


@pytest.fixture(scope="session")
def tftp_root(base):
    """A TFTP root with one file in it, under the sandbox's state dir."""
    root = base.state_dir / "evid-tftp"
    root.mkdir(exist_ok=True)
    (root / "keep.ipxe").write_text("#!ipxe\necho evidence\n")
    os.chmod(root / "keep.ipxe", 0o644)
    return str(root)


@pytest.fixture(scope="session")
def fake_kernel(base):
    """The SR-IOV helper's fake kernel tree (no SR-IOV hardware here): PF
    eth1 with up to 7 VFs, eth0 without SR-IOV."""
    from fakesysfs import FakeKernel
    root = base.state_dir / "evid-fakeroot"
    if not root.exists():
        k = FakeKernel(root)
        k.add_pf("eth1", driver="ixgbe", total=7, slot=3)
        k.add_pf("eth0", driver="e1000e", total=None, slot=2)
    return str(root)
