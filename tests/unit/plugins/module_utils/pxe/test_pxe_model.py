"""pxe.model: parameters -> Want (every refusal names option and value), and
the PXE part of a network's XML read and edited without touching the rest
(validated against libvirt's own RelaxNG schema)."""

import os

import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.pxe import model as pm
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import validate as pval
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError

SCHEMA = "/usr/share/libvirt/schemas/network.rng"

# As libvirt dumps a network virt_network made, plus things nobody manages here.
BASE = """<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>
  <name>lab</name>
  <uuid>fb6b4193-7497-4fd3-9e84-a296ad04e111</uuid>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='virbr0' stp='off' delay='0'/>
  <mac address='52:54:00:b3:21:90'/>
  <ip family='ipv6' address='2001:db8:5::1' prefix='64'/>
  <ip address='192.0.2.1' prefix='24'>
    <dhcp>
      <range start='192.0.2.100' end='192.0.2.150'/>
      <host mac='52:54:00:00:00:01' ip='192.0.2.10'/>
    </dhcp>
  </ip>
  <ip address='198.51.100.1' prefix='24'/>
  <dnsmasq:options>
    <dnsmasq:option value='no-ping'/>
  </dnsmasq:options>
</network>
"""


def params(**kw):
    base = dict(name="lab", state="present", address=None, tftp_root="/var/lib/tftpboot", owner="nobody",
                group=None, boot_files=[{"name": "pxelinux.0", "src": "/usr/share/syslinux/pxelinux.0",
                                         "content": None}],
                bootp_file="pxelinux.0", bootp_server=None, dhcp_range=None, restart=False, verify=False,
                selinux_reference=None)
    base.update(kw)
    return base


def norm(el):
    """An element as text, whitespace between elements ignored."""
    el = etree.fromstring(etree.tostring(el, with_tail=False))
    for e in el.iter():
        e.tail = None
        if e.text is not None and not e.text.strip():
            e.text = None
    return etree.tostring(el)


def rng_valid(xml):
    if not os.path.exists(SCHEMA):
        pytest.skip("libvirt schemas not installed")
    schema = etree.RelaxNG(etree.parse(SCHEMA))
    doc = etree.fromstring(xml.encode())
    assert schema.validate(doc), schema.error_log


def test_params_normalized():
    w = pval.want_from_params(params(tftp_root="/var/lib//tftpboot/"))
    assert w.tftp_root == "/var/lib/tftpboot"
    assert w.boot_files == [pm.BootFile(name="pxelinux.0", src="/usr/share/syslinux/pxelinux.0",
                                        option="boot_files[0]")]
    assert w.owner == "nobody" and w.bootp_file == "pxelinux.0"


@pytest.mark.parametrize("change,message", [
    ({"tftp_root": "tftpboot"}, "tftp_root='tftpboot': must be an absolute path on the hypervisor"),
    ({"tftp_root": "/srv/../etc"}, "tftp_root='/srv/../etc': must not contain '..'"),
    ({"tftp_root": "/"}, "tftp_root='/': the file system root cannot be the TFTP root"),
    ({"boot_files": [{"name": "../x", "src": None, "content": "a"}], "bootp_file": None},
     "boot_files[0].name='../x': must stay inside the TFTP root (no '..')"),
    ({"boot_files": [{"name": "a/../../x", "src": None, "content": "a"}], "bootp_file": None},
     "boot_files[0].name='a/../../x': must stay inside the TFTP root"),
    ({"boot_files": [{"name": "/etc/shadow", "src": None, "content": "a"}], "bootp_file": None},
     "boot_files[0].name='/etc/shadow': must be relative to the TFTP root, not an absolute path"),
    ({"boot_files": [{"name": "a//b", "src": None, "content": "a"}], "bootp_file": None},
     "boot_files[0].name='a//b': must be a plain path"),
    ({"boot_files": [{"name": "x", "src": "rel/x", "content": None}], "bootp_file": None},
     "boot_files[0].src='rel/x': must be an absolute path"),
    ({"boot_files": [{"name": "x", "src": "/a", "content": "b"}], "bootp_file": None},
     "boot_files[0]='x': give src or content, not both"),
    ({"boot_files": [{"name": "x", "src": "/a", "content": None}, {"name": "x", "src": "/b", "content": None}],
      "bootp_file": None}, "boot_files[1].name='x': listed twice"),
    ({"bootp_file": "../pxelinux.0"}, "bootp_file='../pxelinux.0': must stay inside the TFTP root"),
    ({"bootp_file": "other.0"}, "bootp_file='other.0': is not among boot_files"),
    ({"bootp_server": "not-an-ip"}, "bootp_server='not-an-ip': not an IP address"),
    ({"bootp_server": "2001:db8::1"}, "bootp_server='2001:db8::1': not an IPv4 address"),
    ({"bootp_file": None, "bootp_server": "192.0.2.5"}, "bootp_server='192.0.2.5': needs bootp_file"),
    ({"dhcp_range": {"start": "192.0.2.20", "end": "192.0.2.10"}}, "dhcp_range.end='192.0.2.10': is before"),
    ({"tftp_root": None}, "boot_files=['pxelinux.0']: needs tftp_root"),
    ({"verify": True, "boot_files": [], "bootp_file": None}, "verify=True: needs boot_files"),
    ({"name": "bad name"}, "name='bad name': not a valid name"),
])
def test_bad_params_are_named(change, message):
    with pytest.raises(ValidationError) as exc:
        pval.want_from_params(params(**change))
    assert message in exc.value.msg


def test_external_server_needs_no_local_file():
    w = pval.want_from_params(params(tftp_root=None, boot_files=[], bootp_file="pxelinux.0", bootp_server="192.0.2.5"))
    assert (w.bootp_file, w.bootp_server, w.tftp_root) == ("pxelinux.0", "192.0.2.5", None)


def test_read_picks_first_ipv4_or_the_named_one():
    assert pm.read(BASE, None, "lab") == pm.Pxe(address="192.0.2.1/24", ranges=(("192.0.2.100", "192.0.2.150"),))
    assert pm.read(BASE, "198.51.100.1", "lab").address == "198.51.100.1/24"
    with pytest.raises(ValidationError) as exc:
        pm.read(BASE, "203.0.113.1", "lab")
    assert "address='203.0.113.1': is not an IPv4 address of network 'lab' (it has 192.0.2.1/24, 198.51.100.1/24)" \
        in exc.value.msg


def test_bridged_network_has_no_pxe_server():
    xml = "<network><name>br</name><forward mode='bridge'/><bridge name='br0'/></network>"
    with pytest.raises(ValidationError) as exc:
        pm.read(xml, None, "br")
    assert "name='br': the network has no IPv4 address" in exc.value.msg


def test_build_sets_only_the_pxe_elements_and_round_trips():
    want = pval.want_from_params(params())
    have = pm.read(BASE, None, "lab")
    target = pm.target(want, have)
    xml = pm.build(BASE, target, "lab")
    rng_valid(xml)
    assert pm.read(xml, None, "lab") == target
    root = etree.fromstring(xml.encode())
    ip = root.findall("ip")[1]
    assert [c.tag for c in ip] == ["tftp", "dhcp"]
    assert [c.tag for c in ip.find("dhcp")] == ["range", "host", "bootp"]
    assert ip.find("dhcp/bootp").attrib == {"file": "pxelinux.0"}
    # everything else is unchanged
    base = etree.fromstring(BASE.encode(), etree.XMLParser(remove_blank_text=True))
    for path in ("uuid", "forward", "bridge", "mac", "ip[1]", "ip[3]"):
        assert norm(root.find(path)) == norm(base.find(path)), path
    assert root.find("{http://libvirt.org/schemas/network/dnsmasq/1.0}options") is not None
    # building again changes nothing
    assert pm.build(xml, target, "lab") == xml


def test_server_range_and_absent():
    rng = {"start": "192.0.2.20", "end": "192.0.2.30"}
    want = pval.want_from_params(params(bootp_server="192.0.2.5", dhcp_range=rng))
    target = pm.target(want, pm.read(BASE, None, "lab"))
    xml = pm.build(BASE, target, "lab")
    rng_valid(xml)
    got = pm.read(xml, None, "lab")
    assert got.bootp_server == "192.0.2.5" and got.ranges == (("192.0.2.20", "192.0.2.30"),)
    assert pm.differences(got, pm.read(BASE, None, "lab")) == ["tftp root", "bootp", "dhcp range"]
    gone = pm.target(pval.want_from_params(params(state="absent")), got)
    xml2 = pm.build(xml, gone, "lab")
    rng_valid(xml2)
    after = pm.read(xml2, None, "lab")
    assert (after.tftp_root, after.bootp_file, after.ranges) == (None, None, got.ranges)
    assert etree.fromstring(xml2.encode()).find("ip[2]/dhcp/host") is not None


def test_bootp_on_an_ip_without_dhcp_creates_and_removes_dhcp():
    want = pval.want_from_params(params(address="198.51.100.1"))
    have = pm.read(BASE, "198.51.100.1", "lab")
    xml = pm.build(BASE, pm.target(want, have), "lab")
    rng_valid(xml)
    assert etree.fromstring(xml.encode()).find("ip[3]/dhcp/bootp").get("file") == "pxelinux.0"
    gone = pm.build(xml, pm.target(pval.want_from_params(params(state="absent", address="198.51.100.1")),
                                   pm.read(xml, "198.51.100.1", "lab")), "lab")
    assert etree.fromstring(gone.encode()).find("ip[3]/dhcp") is None


# --------------------------------------------------------------------------
# the DHCP range pxe_network claims (pxe.claim): written, read, released
# --------------------------------------------------------------------------

def test_dhcp_range_is_claimed_in_metadata_and_released_without_it():
    want = pval.want_from_params(params(dhcp_range={"start": "192.0.2.20", "end": "192.0.2.30"}))
    have = pm.read(BASE, None, "lab")
    assert have.claimed is None
    target = pm.target(want, have)
    assert pm.claim_change(target, have) == "dhcp range 192.0.2.20-192.0.2.30 owned by pxe_network"
    xml = pm.build(BASE, target, "lab")
    rng_valid(xml)
    # Round trip: the claim is read back, so the next run sees nothing to do.
    back = pm.read(xml, None, "lab")
    assert back == target and pm.claim_change(pm.target(want, back), back) is None
    # The task without dhcp_range gives the range back to virt_network: the
    # claim goes, the range stays.
    plain = pval.want_from_params(params())
    released = pm.target(plain, back)
    assert pm.claim_change(released, back) == "dhcp range left to virt_network"
    xml2 = pm.build(xml, released, "lab")
    rng_valid(xml2)
    assert "metadata" not in xml2 and "start=\"192.0.2.20\"" in xml2


def test_claim_keeps_other_applications_metadata():
    other = BASE.replace("<uuid>", "<metadata><app:x xmlns:app='http://app.example/1'/></metadata>\n  <uuid>")
    want = pval.want_from_params(params(dhcp_range={"start": "192.0.2.20", "end": "192.0.2.30"}))
    xml = pm.build(other, pm.target(want, pm.read(other, None, "lab")), "lab")
    rng_valid(xml)
    released = pm.build(xml, pm.target(pval.want_from_params(params()), pm.read(xml, None, "lab")), "lab")
    assert "http://app.example/1" in xml and "http://app.example/1" in released
    assert "dhcp-range" not in released


def test_claim_is_not_a_difference_dnsmasq_sees():
    """Only the definition carries the claim: the running network's XML
    never needs a restart for it."""
    want = pval.want_from_params(params(dhcp_range={"start": "192.0.2.100", "end": "192.0.2.150"}))
    have = pm.read(BASE, None, "lab")
    target = pm.target(want, have)
    assert pm.differences(target, have) == ["tftp root", "bootp"]
