"""network.bridge: a bridge name that is already a host link is refused (libvirt
would delete that link when the start fails); only a leftover bridge of our
own stopped network, port-less and with no foreign address, may be removed."""

import os

import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.network import bridge as nh
from ansible_collections.virtnet.networking.plugins.module_utils.network import model as netm
from ansible_collections.virtnet.networking.plugins.module_utils.network import plan as npl
from ansible_collections.virtnet.networking.plugins.module_utils.libvirt import restart as nr
from ansible_collections.virtnet.networking.plugins.module_utils.network import validate as nv
from ansible_collections.virtnet.networking.plugins.module_utils.network import xml as nx
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot

PARAMS = {"name": "lab", "bridge": {"name": "vblab", "stp": False}, "ips": [{"address": "192.0.2.1/24"}]}


def model(params):
    return netm.merge(nv.network_from_params(params).network, None)


def host(params=None, *, active=False, others=()):
    if params is None:
        return netm.HostState(name="lab", others=list(others))
    m = model(params)
    return netm.HostState(name="lab", exists=True, active=active, persistent=True, config=m,
                          live=m if active else None, config_xml=nx.build(m), others=list(others))


def link(name, kind="bridge", **kw):
    return {name: nh.Link(name=name, kind=kind, **kw)}


@pytest.mark.parametrize("kind,words", [
    ("nic", "network card"), ("bond", "a bond"), ("vlan", "VLAN"), ("veth", "veth"),
    ("bridge", "an existing bridge"), ("tap", "tap device"), ("other", "existing interface"),
])
def test_any_host_link_is_refused_for_a_new_network(kind, words):
    want = model(dict(PARAMS, bridge={"name": "eno1"}))
    with pytest.raises(ValidationError) as err:
        nh.check_bridge(want, have=host(), links=link("eno1", kind, addresses=()))
    assert err.value.option == "bridge.name" and err.value.value == "eno1"
    assert words in err.value.msg and "delete the existing interface" in err.value.msg


def test_the_running_networks_own_bridge_is_fine():
    assert nh.check_bridge(model(PARAMS), have=host(PARAMS, active=True), links=link("vblab")) is None


def test_bridge_mode_and_unseen_host_are_not_checked():
    want = model({"name": "lab", "forward": {"mode": "bridge"}, "bridge": {"name": "br0"}})
    assert nh.check_bridge(want, have=host(), links=link("br0")) is None
    assert nh.check_bridge(model(PARAMS), have=host(), links=None) is None


def test_stale_bridge_of_our_stopped_network_is_removable():
    stale = link("vblab", addresses=("192.0.2.1/24", "fe80::1/64"))
    assert nh.check_bridge(model(PARAMS), have=host(PARAMS), links=stale) == "vblab"


@pytest.mark.parametrize("kw,reason", [
    ({"ports": ("vnet0",), "addresses": ()}, "it has ports (vnet0)"),
    ({"addresses": ("198.51.100.7/24",)}, "198.51.100.7/24"),
    ({"addresses": None}, "cannot be read"),
])
def test_stale_bridge_in_use_is_refused(kw, reason):
    with pytest.raises(ValidationError) as err:
        nh.check_bridge(model(PARAMS), have=host(PARAMS), links=link("vblab", **kw))
    assert reason in err.value.msg


def test_a_bridge_not_named_in_our_definition_is_never_stale():
    # the task renames the bridge to one that exists: not ours, refused
    want = model(dict(PARAMS, bridge={"name": "vbother"}))
    with pytest.raises(ValidationError):
        nh.check_bridge(want, have=host(PARAMS), links=link("vbother", addresses=()))


def test_bridge_of_another_networks_definition_is_refused():
    other = model(dict(PARAMS, name="other", ips=[{"address": "198.51.100.1/24"}]))
    with pytest.raises(ValidationError) as err:
        nh.check_bridge(model(PARAMS), have=host(PARAMS, others=[("other", other)]), links=link("vblab", addresses=()))
    assert "libvirt network 'other'" in err.value.msg


def test_plan_removes_a_stale_bridge_right_before_the_start():
    have = host(PARAMS)
    have.link_info = link("vblab", addresses=("192.0.2.1/24",))
    plan, _warnings = npl.plan(nv.network_from_params(PARAMS), have)
    assert [a.kind for a in plan.actions] == ["remove_bridge", "start"]


def test_dhcpv6_needs_a_prefix_of_64_or_longer():
    with pytest.raises(ValidationError) as err:
        nv.network_from_params({"name": "v6", "ips": [{"address": "2001:db8:5::1/48", "dhcp": {
            "ranges": [{"start": "2001:db8:5::10", "end": "2001:db8:5::20"}]}}]})
    assert err.value.option == "ips[0].address" and "/48" in err.value.msg
    nv.network_from_params({"name": "v6", "ips": [{"address": "2001:db8:5::1/80", "dhcp": {
        "ranges": [{"start": "2001:db8:5::10", "end": "2001:db8:5::20"}]}}]})
    nv.network_from_params({"name": "v6", "ips": [{"address": "2001:db8:5::1/48"}]})   # no DHCP: fine


def test_link_kinds_from_sysfs(tmp_path):
    net = tmp_path / "sys/class/net"
    for name, files in {"br0": ["bridge/", "brif/p0"], "bond0": ["bonding/"], "eno1": ["device"],
                        "tap0": ["tun_flags"], "v10": ["uevent=DEVTYPE=vlan"]}.items():
        for f in files:
            path = net / name / f.split("=", maxsplit=1)[0].rstrip("/")
            if f.endswith("/"):
                path.mkdir(parents=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f.split("=", 1)[1] if "=" in f else "")
    fs = FsRoot(str(tmp_path))
    got = {n: nh.read_link(fs, n, {"br0": ["192.0.2.1/24"]}) for n in ("br0", "bond0", "eno1", "tap0", "v10")}
    assert {n: l.kind for n, l in got.items()} == {"br0": "bridge", "bond0": "bond", "eno1": "nic", "tap0": "tap",
                                                   "v10": "vlan"}
    assert got["br0"].ports == ("p0",) and got["br0"].addresses == ("192.0.2.1/24",)
    assert nh.read_link(fs, "nosuch") is None


def test_ip_json_addresses():
    doc = [{"ifname": "br0", "addr_info": [{"local": "192.0.2.1", "prefixlen": 24}]}, {"ifname": "lo"}]
    assert nh.parse_ip_addr_json(doc) == {"br0": ["192.0.2.1/24"], "lo": []}


class _Net:
    def __init__(self, xml):
        self.xml = xml
        self.created = False

    def name(self):
        return "lab"

    def XMLDesc(self, _flags=0):
        return self.xml

    def create(self):
        self.created = True


class _Lv:
    is_local = True

    def call(self, _what, fn, *args, **_kw):
        return fn(*args)


def test_start_guard_never_starts_over_an_existing_link(monkeypatch):
    net = _Net(nx.build(model(dict(PARAMS, bridge={"name": "lan1"}))))
    monkeypatch.setattr(nr.os.path, "exists", lambda p: p == "/sys/class/net/lan1")
    with pytest.raises(VirtnetError) as err:
        nr.start(_Lv(), net)
    assert not net.created and "'lan1' already exists" in err.value.msg
    monkeypatch.setattr(nr.os.path, "exists", lambda p: False)
    nr.start(_Lv(), net)
    assert net.created


def test_start_guard_ignores_bridge_mode():
    assert nr.own_bridge("<network><name>b</name><forward mode='bridge'/><bridge name='br0'/></network>") is None
    assert nr.own_bridge("<network><name>b</name><bridge name='virbr3'/></network>") == "virbr3"


@pytest.mark.skipif(not os.path.exists(nx.SCHEMA), reason="libvirt's schema is not installed")
def test_schema_check_refuses_what_libvirt_would():
    nx.check_schema(nx.build(model(PARAMS)), name="lab")
    bad = etree.tostring(etree.fromstring("<network><name>lab</name><bridge name='x' stp='maybe'/></network>"),
                         encoding="unicode")
    with pytest.raises(ValidationError) as err:
        nx.check_schema(bad, name="lab")
    assert err.value.option == "name" and "schema" in err.value.msg
