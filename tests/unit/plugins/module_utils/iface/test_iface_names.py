"""Audit (issue 12, item 1): virt_iface never names a host link that libvirt
or the kernel would create.

A failed attach or start makes libvirt delete the tap / macvtap it created
for the NIC, by the name in <target dev>.  If a module could put a name
there, a name that already exists as a host NIC could get that NIC deleted.
virt_iface has no option for it: new NICs carry no <target> (libvirt picks
a free vnetN / macvtapN itself), a type change drops the old one, and the
config never gets the running NIC's.  The only <target> the module ever
sends is the one libvirt already gave that running NIC.  These tests fail
as soon as a code path starts writing a name of its own."""

import dataclasses

import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.iface import engine as ie
from ansible_collections.virtnet.networking.plugins.module_utils.iface import model as im
from ansible_collections.virtnet.networking.plugins.module_utils.iface import plan as ipl
from ansible_collections.virtnet.networking.plugins.module_utils.iface import validate as ival
from ansible_collections.virtnet.networking.plugins.module_utils.iface import xml as ix
from ansible_collections.virtnet.networking.plugins.modules import virt_iface

MAC = "52:54:00:00:00:01"
NEW = {
    "network": im.Interface(type="network", source="default", mac=MAC),
    "bridge": im.Interface(type="bridge", source="br0", mac=MAC),
    "direct": im.Interface(type="direct", source="lan2", mode="bridge", mac=MAC),
    "user": im.Interface(type="user", mac=MAC, backend="passt", port_forwards=(), ips=()),
    "hostdev": im.Interface(type="hostdev", source="0000:03:10.2", mac=MAC, managed=True),
}
LIVE = {   # what libvirt dumps for running NICs: the names it picked
    "network": "<interface type='network'><mac address='%s'/><source network='default' portid='1b' bridge='virbr0'/>"
               "<target dev='vnet7'/><model type='virtio'/><alias name='net0'/></interface>" % MAC,
    "bridge": "<interface type='bridge'><mac address='%s'/><source bridge='br0'/><target dev='vnet8'/>"
              "<model type='virtio'/><alias name='net0'/></interface>" % MAC,
    "direct": "<interface type='direct'><mac address='%s'/><source dev='lan2' mode='bridge'/>"
              "<target dev='macvtap3'/><model type='virtio'/><alias name='net0'/></interface>" % MAC,
}


def targets(xml):
    el = etree.fromstring(xml.encode()) if isinstance(xml, str) else xml
    return [t.get("dev") for t in el.iter("target")]


def test_no_option_names_a_link_to_create():
    """Every option that takes a host interface name takes an existing one:
    source (bridge / direct / user: checked to exist on a local host) and
    port_forwards[].dev (passt only listens there)."""
    spec = virt_iface.argument_spec()
    assert not {"target", "target_dev", "dev", "ifname", "tap", "macvtap"} & set(spec)
    assert set(spec["port_forwards"]["options"]) == {"proto", "address", "dev", "ranges"}
    names = {f.name for f in dataclasses.fields(im.Interface)}
    assert not {"target", "target_dev", "dev", "ifname"} & names


@pytest.mark.parametrize("kind", sorted(NEW))
def test_a_new_interface_carries_no_target_name(kind):
    """attach (hotplug) and define of a new NIC: libvirt picks the name."""
    assert targets(ix.build(ix.parse(ix.build(NEW[kind])))) == []
    assert targets(ix.build(NEW[kind])) == []


@pytest.mark.parametrize("old", sorted(LIVE))
@pytest.mark.parametrize("new", sorted(NEW))
def test_the_config_never_gets_a_running_nics_target(old, new):
    """What the engine writes to the config from a running NIC (_config_copy),
    and every type change over it."""
    copy = ie._config_copy(etree.fromstring(LIVE[old]))
    assert targets(copy) == []
    if new != old:
        assert targets(ix.build(NEW[new], base=LIVE[old])) == []


@pytest.mark.parametrize("kind", ["network", "bridge"])
def test_a_live_update_sends_only_the_name_libvirt_gave_that_nic(kind):
    """A live move / link change edits the running element: the tap keeps
    the name libvirt gave it (a type change drops it and libvirt keeps its
    tap), and the plan has no way to give another one."""
    live = ix.parse(LIVE[kind])
    for change in ({"link": "down"}, {"type": "network", "source": "lab"}, {"type": "bridge", "source": "br1"}):
        xml = ix.build(dataclasses.replace(live, **change), base=LIVE[kind])
        # kept as libvirt named it, or dropped on a type change: never another name
        assert targets(xml) in ([], targets(LIVE[kind]))
    assert targets(ix.build(dataclasses.replace(live, link="down"), base=LIVE[kind])) == targets(LIVE[kind])


def test_planned_payloads_have_no_target_field():
    """The plan's payloads are models; a model has no field a name could be
    put in, whatever the task says."""
    have = im.HostState(domain="vm1", exists=True, running=True, persistent=True, networks={"default": True},
                        links={"br0": True})
    want = ival.desired_from_params({"domain": "vm1", "alias": "ua-new", "type": "bridge", "source": "br0",
                                     "state": "present", "restart": False, "restart_timeout": 60})
    plan, _t = ipl.plan(want, have)
    assert [a.kind for a in plan.actions] == ["attach", "define"]
    for action in plan.actions:
        assert targets(ix.build(action.payload)) == []
