"""hypervisor.info over the shared fakes: a host with networks (one with PXE),
guests, SR-IOV PFs and a NetworkManager bridge is read into the input shape
of ``hypervisor``, and each item, given back to its own module's engine in
check mode, plans nothing (the round trip the module promises)."""

import os
from types import SimpleNamespace

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import info as hinfo
from ansible_collections.virtnet.networking.plugins.module_utils.iface import engine as ie
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt import conn as lc
from ansible_collections.virtnet.networking.plugins.module_utils.network import engine as ne
from ansible_collections.virtnet.networking.plugins.module_utils.nm import engine as nme
from ansible_collections.virtnet.networking.plugins.module_utils.nm.nmcli import Names, Profile
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import claim as pxe_claim
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import engine as pe
from ansible_collections.virtnet.networking.plugins.module_utils.runner import CommandResult
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import engine as se
from ansible_collections.virtnet.networking.plugins.module_utils.sriov import model as sm
from ansible_collections.virtnet.networking.plugins.modules import (
    hypervisor_info, nm_bond_bridge, pxe_network, sriov_vf, virt_iface, virt_network,
)
from fakesysfs import FakeKernel
from unit import fakes
from unit.fakes import FakeLibvirt

LAB = """<network>
  <name>lab</name>
  <uuid>7d3a1f4e-0000-4000-8000-000000000001</uuid>
  <forward mode='nat'><nat><port start='2000' end='3000'/></nat></forward>
  <bridge name='virbr5' stp='on' delay='0'/>
  <mac address='52:54:00:aa:00:01'/>
  <domain name='lab.example' localOnly='yes'/>
  <dns>
    <host ip='192.0.2.20'><hostname>db</hostname></host>
  </dns>
  <ip address='192.0.2.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.0.2.100' end='192.0.2.150'/>
      <host mac='52:54:00:00:00:01' name='web' ip='192.0.2.10'/>
    </dhcp>
  </ip>
</network>
"""
ISO = """<network>
  <name>iso</name>
  <bridge name='virbr6' stp='on' delay='0'/>
  <ip address='198.51.100.1' prefix='24'/>
</network>
"""
PXE = """<network>
  <name>boot</name>
  <forward mode='nat'/>
  <bridge name='virbr7' stp='off' delay='0'/>
  <ip address='203.0.113.1' prefix='24'>
    <tftp root='/srv/tftp'/>
    <dhcp>
      <range start='203.0.113.100' end='203.0.113.120'/>
      <bootp file='pxelinux.0'/>
    </dhcp>
  </ip>
</network>
"""
VM = """<domain type='qemu'>
  <name>vm1</name>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <interface type='network'>
      <mac address='52:54:00:00:00:01'/>
      <source network='lab'/>
      <model type='virtio'/>
      <alias name='ua-web'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:00:00:02'/>
      <source network='iso'/>
      <model type='e1000'/>
      <link state='down'/>
      <boot order='1'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </interface>
    <interface type='direct'>
      <mac address='52:54:00:00:00:03'/>
      <source dev='lan2' mode='bridge'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </interface>
    <interface type='ethernet'>
      <mac address='52:54:00:00:00:04'/>
      <target dev='tap9'/>
    </interface>
  </devices>
</domain>
"""


class FakeNet:
    def __init__(self, xml, *, active=True, autostart=False, persistent=True):
        self.xml, self.active, self._autostart, self.persistent = xml, active, autostart, persistent
        self._name = xml.split("<name>")[1].split("</name>")[0]

    def name(self):
        return self._name

    def XMLDesc(self, flags):  # noqa: N802 - libvirt's name
        return self.xml

    def isActive(self):  # noqa: N802
        return self.active

    def isPersistent(self):  # noqa: N802
        return self.persistent

    def autostart(self):
        return self._autostart


class FakeDom:
    def __init__(self, name, xml, *, persistent=True, live=None):
        self._name, self.xml, self.persistent, self.live = name, xml, persistent, live

    def name(self):
        return self._name

    def isActive(self):  # noqa: N802
        return self.live is not None

    def isPersistent(self):  # noqa: N802
        return self.persistent

    def XMLDesc(self, flags):  # noqa: N802
        return self.xml if (flags & lc.DOMAIN_XML_INACTIVE or self.live is None) else self.live


def prof(uuid, name, ctype, ifname, **props):
    base = {"connection.id": name, "connection.uuid": uuid, "connection.interface-name": ifname,
            "connection.autoconnect": "yes", "connection.master": "", "connection.slave-type": ""}
    base.update(props)
    return Profile(uuid=uuid, name=name, type=ctype, ifname=ifname, props=base, device=ifname, state="activated")


class FakeNmcli:
    """The reads nm.info and the nm engine make (profiles, devices, names)
    and ``nmcli general``, with a NetworkManager that runs or not."""

    def __init__(self, running=True):
        self.running = running
        self.names = Names.for_version((1, 42, 4))
        self.runner = SimpleNamespace(run=self._run)

    def _run(self, args, check=True):
        return CommandResult(argv=args, rc=0 if self.running else 8,
                             out="running\n" if self.running else "",
                             err="" if self.running else "Error: NetworkManager is not running.")

    def profiles(self):
        return [prof("u-br", "br0", "bridge", "br0", **{
                    "bridge.stp": "no", "connection.autoconnect-slaves": "1", "ipv4.method": "manual",
                    "ipv4.addresses": "192.0.2.200/24", "ipv4.gateway": "192.0.2.254", "ipv4.dns": "192.0.2.253",
                    "ipv6.method": "disabled"}),
                prof("u-p1", "br0-port-eth3", "ethernet", "eth3", **{
                    "connection.master": "br0", "connection.slave-type": "bridge"})]

    def device_states(self):
        return {"eth3": {"type": "ethernet", "state": "connected", "connection": "br0-port-eth3"},
                "br0": {"type": "bridge", "state": "connected", "connection": "br0"}}


@pytest.fixture
def host(tmp_path):
    kernel = FakeKernel(tmp_path / "sys")
    kernel.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    kernel.add_pf("eth2", driver="ixgbe", total=4, slot=4)
    kernel.add_pf("eth0", driver="e1000e", total=None, slot=2)
    for pf, count in (("eth1", "2"), ("eth2", "3")):
        kernel.write("/" + os.path.relpath(kernel.numvfs_path(pf), kernel.root), count)    # host paths
    with open(kernel.p("etc/udev/rules.d/eth1.rules"), "w") as f:
        f.write(sm.udev_rule("eth1", "ixgbe", 2))
    os.chmod(kernel.p("etc/udev/rules.d/eth1.rules"), 0o644)
    files = tmp_path / "files"
    (files / "etc").mkdir(parents=True)
    (files / "etc/passwd").write_text("tftpuser:x:%d:%d::/:/bin/false\n" % (os.getuid(), os.getgid()))
    (files / "etc/group").write_text("tftpgroup:x:%d:\n" % os.getgid())
    (files / "srv/tftp").mkdir(parents=True)
    os.chmod(files / "srv/tftp", 0o755)
    (files / "srv/tftp/pxelinux.0").write_bytes(b"PXE")
    os.chmod(files / "srv/tftp/pxelinux.0", 0o644)
    lv = FakeLibvirt(networks={n.name(): n for n in (
        FakeNet(LAB, autostart=True), FakeNet(ISO, active=False), FakeNet(PXE),
        FakeNet(ISO.replace("iso", "tmp").replace("virbr6", "virbr8").replace("198.51.100", "198.51.101"),
                persistent=False))}, domains=[FakeDom("vm1", VM), FakeDom("scratch", VM, persistent=False)])
    yield SimpleNamespace(kernel=kernel, lv=lv, files=FsRoot(str(files)), nmcli=FakeNmcli(), tmp=tmp_path)
    kernel.stop()


def read(host, include=None):
    notes = []
    params = {"uri": "test:///default", "sysfs_root": host.kernel.root}
    if include is not None:
        params["include"] = include
    module = fakes.FakeModule(params, argument_spec=hypervisor_info.argument_spec())
    out = hinfo.read_host(module, host.lv, fs=FsRoot(host.kernel.root), files=host.files, nmcli=host.nmcli,
                          notes=notes, include=module.params["include"])
    return out, notes


def test_the_host_in_the_input_shape_of_hypervisor(host):
    out, notes = read(host)
    assert set(out) == set(hinfo.LISTS)
    assert [n["name"] for n in out["networks"]] == ["boot", "iso", "lab"]      # the transient one is left out
    lab = out["networks"][2]
    assert lab == {
        "name": "lab", "state": "running", "autostart": True,
        "forward": {"mode": "nat", "nat": {"port": {"start": 2000, "end": 3000}}},
        "bridge": {"name": "virbr5", "stp": True, "delay": 0},
        "domain": {"name": "lab.example", "local_only": True},
        "ips": [{"address": "192.0.2.1/24", "dhcp": {
            "ranges": [{"start": "192.0.2.100", "end": "192.0.2.150"}],
            "hosts": [{"mac": "52:54:00:00:00:01", "ip": "192.0.2.10", "name": "web"}]}}],
        "dns": {"hosts": [{"ip": "192.0.2.20", "hostnames": ["db"]}]},
    }
    iso = out["networks"][1]
    assert iso["state"] == "present" and iso["autostart"] is False and iso["ips"] == [{"address": "198.51.100.1/24"}]
    # the PXE elements are the pxe item's, not the network's
    boot = out["networks"][0]
    assert "tftp" not in str(boot) and "bootp" not in str(boot) and "pxelinux" not in str(boot)
    assert out["pxe_networks"] == [{"name": "boot", "address": "203.0.113.1/24", "tftp_root": "/srv/tftp",
                                    "owner": "tftpuser", "group": "tftpgroup", "boot_files": [{"name": "pxelinux.0"}],
                                    "bootp_file": "pxelinux.0"}]
    assert out["sriov_vfs"] == [{"pf": "eth1", "num_vfs": 2}, {"pf": "eth2", "num_vfs": 3, "persistent": False}]
    assert out["vm_interfaces"] == [
        {"domain": "vm1", "mac": "52:54:00:00:00:01", "alias": "ua-web", "type": "network", "source": "lab",
         "model": "virtio", "link": "up"},
        {"domain": "vm1", "mac": "52:54:00:00:00:02", "type": "network", "source": "iso", "model": "e1000",
         "link": "down", "boot_order": 1},
        {"domain": "vm1", "mac": "52:54:00:00:00:03", "type": "direct", "source": "lan2", "mode": "bridge",
         "model": "virtio", "link": "up"},
    ]
    assert out["bridges"] == [{"name": "br0", "stp": False, "autoconnect_ports": True, "ports": ["eth3"],
                               "ipv4": {"method": "manual", "addresses": ["192.0.2.200/24"],
                                        "gateway": "192.0.2.254", "dns": ["192.0.2.253"]},
                               "ipv6": {"method": "disabled"}}]
    said = "\n".join(notes)
    assert "networks[tmp]: transient" in said
    assert "vm_interfaces[scratch]: a transient domain" in said
    assert "vm_interfaces[vm1 52:54:00:00:00:04]: type 'ethernet'" in said


def _check_mode(module_mod, item, make_engine):
    module = fakes.FakeModule(item, argument_spec=module_mod.argument_spec(), check_mode=True)
    return fakes.run(module, make_engine(module))


def test_every_item_given_back_to_its_module_changes_nothing(host):
    out, _notes = read(host)
    results = []
    for item in out["networks"]:
        def net_engine(module):
            eng = ne.NetworkEngine(module)
            eng.lv = host.lv
            return eng
        results.append(("networks", item, _check_mode(virt_network, dict(item, uri="qemu+ssh://hv/system"),
                                                      net_engine)))
    for item in out["pxe_networks"]:
        results.append(("pxe", item, _check_mode(pxe_network, dict(item, uri="test:///"),
                                                 lambda m: pe.PxeEngine(m, fs=host.files, lv=host.lv))))
    for item in out["vm_interfaces"]:
        def iface_engine(module):
            eng = ie.IfaceEngine(module)
            eng.lv = host.lv
            return eng
        results.append(("iface", item, _check_mode(virt_iface, dict(item, uri="qemu+ssh://hv/system"),
                                                    iface_engine)))
    for item in out["sriov_vfs"]:
        results.append(("sriov", item, _check_mode(
            sriov_vf, dict(item, uri="test:///default", sysfs_root=host.kernel.root),
            lambda m: se.SriovEngine(m, lv=host.lv))))
    for item in out["bridges"]:
        results.append(("bridge", item, _check_mode(nm_bond_bridge, item,
                                                    lambda m: nme.NmBondBridge(m, fs=host.files,
                                                                               nmcli=host.nmcli))))
    assert len(results) == 3 + 1 + 3 + 2 + 1
    changed = [(kind, item, r["actions"]) for kind, item, r in results if r["changed"] or r["actions"]]
    assert changed == []


def test_what_would_change_is_left_out_and_said(host):
    os.chmod(host.files.path("/srv/tftp"), 0o775)
    with open(host.kernel.p("etc/udev/rules.d/eth1.rules"), "w") as f:
        f.write('ACTION=="add", ATTR{device/sriov_numvfs}="2"\n')
    out, notes = read(host, include=["pxe_networks", "sriov_vfs"])
    assert out["networks"] == [] and out["vm_interfaces"] == [] and out["bridges"] == []
    assert "tftp_root" not in out["pxe_networks"][0] and out["pxe_networks"][0]["bootp_file"] == "pxelinux.0"
    said = "\n".join(notes)
    assert "tftp_root /srv/tftp left out of the item: it has mode 0775" in said
    assert "sriov_vfs[eth1]: /etc/udev/rules.d/eth1.rules is not the rule sriov_vf writes" in said


def test_bridges_are_not_read_without_a_running_networkmanager(host):
    host.nmcli.running = False
    out, notes = read(host, include=["bridges"])
    assert out["bridges"] == []
    assert notes == ["bridges: not read, NetworkManager is not running (nmcli general: "
                     "Error: NetworkManager is not running.)"]


def test_no_nmcli_no_bridges(host):
    notes = []
    module = fakes.FakeModule({"uri": "test:///default"})       # finds no tool at all
    out = hinfo.read_host(module, host.lv, fs=FsRoot(host.kernel.root), include=["bridges"], notes=notes)
    assert out["bridges"] == [] and "nmcli is not installed" in notes[0]


def test_sriov_is_not_read_through_a_remote_uri(host):
    notes = []
    module = fakes.FakeModule({"uri": "qemu+ssh://hv/system"})
    out = hinfo.read_host(module, host.lv, fs=FsRoot(host.kernel.root), include=["sriov_vfs"], notes=notes)
    assert out["sriov_vfs"] == [] and "another host's libvirt" in notes[0]


def test_unknown_list_is_refused(host):
    with pytest.raises(VirtnetError, match="include: unknown list"):
        hinfo.read_host(fakes.FakeModule({"uri": "test:///default"}), host.lv, include=["bridges", "vlans"])


def test_a_running_domain_is_read_from_its_definition_and_differences_are_said(host):
    live = VM.replace("<link state='down'/>", "").replace("</devices>", """  <interface type='network'>
      <mac address='52:54:00:00:00:09'/>
      <source network='lab'/>
      <model type='virtio'/>
    </interface>
  </devices>""")
    host.lv.doms["vm1"] = FakeDom("vm1", VM, live=live)
    out, notes = read(host, include=["vm_interfaces"])
    assert [i["mac"] for i in out["vm_interfaces"]] == ["52:54:00:00:00:01", "52:54:00:00:00:02",
                                                        "52:54:00:00:00:03"]
    assert out["vm_interfaces"][1]["link"] == "down"             # the definition's, not the running one's
    said = "\n".join(notes)
    assert "vm_interfaces[vm1 52:54:00:00:00:02]: the running domain differs from its definition (link)" in said
    assert "vm_interfaces[vm1 52:54:00:00:00:09]: only in the running domain" in said


CLAIMED = """<network>
  <name>boot2</name>
  <metadata>
    <virtnet-pxe:dhcp-range xmlns:virtnet-pxe="%s" address="203.0.113.1/24" start="203.0.113.100" end="203.0.113.120"/>
  </metadata>
  <forward mode='nat'/>
  <bridge name='virbr9' stp='off' delay='0'/>
  <ip address='203.0.113.1' prefix='24'>
    <dhcp>
      <range start='203.0.113.100' end='203.0.113.120'/>
      <bootp file='pxelinux.0' server='203.0.113.5'/>
    </dhcp>
  </ip>
</network>
""" % pxe_claim.NS


def test_a_range_pxe_network_owns_and_another_tftp_server_round_trip(host):
    host.lv.nets = {"boot2": FakeNet(CLAIMED)}
    out, _notes = read(host, include=["networks", "pxe_networks"])
    assert out["pxe_networks"] == [{"name": "boot2", "address": "203.0.113.1/24", "bootp_file": "pxelinux.0",
                                    "bootp_server": "203.0.113.5",
                                    "dhcp_range": {"start": "203.0.113.100", "end": "203.0.113.120"}}]
    (net,) = out["networks"]
    assert net["ips"] == [{"address": "203.0.113.1/24", "dhcp": {
        "ranges": [{"start": "203.0.113.100", "end": "203.0.113.120"}], "hosts": []}}]

    def net_engine(module):
        eng = ne.NetworkEngine(module)
        eng.lv = host.lv
        return eng
    r1 = _check_mode(virt_network, dict(net, uri="qemu+ssh://hv/system"), net_engine)
    r2 = _check_mode(pxe_network, dict(out["pxe_networks"][0], uri="test:///"),
                     lambda m: pe.PxeEngine(m, fs=host.files, lv=host.lv))
    assert (r1["changed"], r1["actions"], r2["changed"], r2["actions"]) == (False, [], False, [])
