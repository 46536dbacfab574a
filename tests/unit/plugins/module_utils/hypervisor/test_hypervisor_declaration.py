"""The hypervisor declaration before the host is read: items checked with
the single modules' own options, named by list and index; one object, one
item; what state=overridden prunes (issue 19)."""
import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import plan as hplan
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import spec as hs
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import validate as hval
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor.model import SimHost, SimNetwork
from ansible_collections.virtnet.networking.plugins.module_utils.network import spec as network_spec

TOP = {"uri": "qemu:///system", "state": "merged", "restart": False, "force": False, "managed": None}


def params(**kw):
    return dict(TOP, **kw)


def refused(**kw):
    with pytest.raises(ValidationError) as exc:
        hval.items_from_params(params(**kw))
    return exc.value


@pytest.mark.parametrize("kw,option,value", [
    ({"networks": [{"name": "a"}, {"name": "b", "bogus": 1}]}, "networks[1].bogus", 1),
    ({"networks": [{"name": "a", "forward": {"mode": "nat", "devv": "eth0"}}]}, "networks[0].forward.devv", "eth0"),
    ({"networks": [{"name": "a", "mtu": "big"}]}, "networks[0].mtu", "big"),
    ({"networks": [{"name": "a", "forward": {"mode": "natt"}}]}, "networks[0]", None),
    ({"networks": [{"forward": {"mode": "nat"}}]}, "networks[0]", None),
    ({"vm_interfaces": [{"domain": "d"}]}, "vm_interfaces[0]", None),
    ({"bridges": [{"name": "br0", "ports": ["eth1"], "move_ip_from": "eth1", "ipv4": {"method": "auto"}}]},
     "bridges[0]", None),
    ({"pxe_networks": [{"name": "p", "boot_files": [{"name": "a", "src": "/x", "content": "y"}]}]},
     "pxe_networks[0]", None),
    ({"sriov_vfs": [{"pf": "eth1", "uri": "qemu:///session"}]}, "sriov_vfs[0].uri", "qemu:///session"),
    ({"networks": ["not-a-dict"]}, "networks[0]", "not-a-dict"),
    ({"networks": [{"name": "a"}, {"name": "a"}]}, "networks[1].name", "a"),
    ({"vm_interfaces": [{"domain": "d", "alias": "ua-x"}, {"domain": "d", "alias": "ua-x", "link": "up"}]},
     "vm_interfaces[1].alias", "ua-x"),
    ({"bridges": [{"name": "br0", "ports": ["eth1"]}, {"name": "br0", "ports": ["eth2"]}]}, "bridges[1].name", "br0"),
    ({"state": "overridden", "networks": [{"name": "a"}]}, "managed.lists", None),
    ({"managed": {"lists": ["networks"], "prefix": None}, "networks": [{"name": "a"}]}, "managed", None),
])
def test_bad_declarations_name_list_index_and_option(kw, option, value):
    err = refused(**kw)
    assert err.option.startswith(option), (err.option, option)
    if value is not None:
        assert err.value == value
    assert err.option.split(".")[0].split("[")[0] in err.msg


def test_items_come_in_dependency_order_with_defaults_and_the_tasks_restart():
    items = hval.items_from_params(params(
        restart=True,
        vm_interfaces=[{"domain": "d", "alias": "ua-a", "restart": False}, {"domain": "d", "alias": "ua-b"}],
        networks=[{"name": "n"}], bridges=[{"name": "br0", "ports": ["eth1"]}]))
    assert [i.where for i in items] == ["bridges[0]", "networks[0]", "vm_interfaces[0]", "vm_interfaces[1]"]
    net = items[1].params
    assert net["state"] == "running" and net["uri"] == "qemu:///system" and net["restart"] is True
    assert [i.params["restart"] for i in items[2:]] == [False, True]


def test_item_options_are_the_single_modules_options_minus_uri():
    assert set(hs.item_spec("networks")) == set(network_spec.argument_spec()) - {"uri"}
    # one definition: a change to virt_network's options reaches the items
    assert hs.item_spec("networks")["forward"] == network_spec.argument_spec()["forward"]


def inv(**kw):
    return hplan.Inventory(**kw)


def items_of(**kw):
    return hval.items_from_params(params(**kw))


def test_overridden_removes_only_managed_prefixed_undeclared_objects():
    items = items_of(networks=[{"name": "lab-a"}], vm_interfaces=[{"domain": "lab-vm", "mac": "52:54:00:00:00:01"}])
    host = inv(networks={"lab-a": [], "lab-old": [], "default": []},
               vm_interfaces=[("lab-vm", "52:54:00:00:00:01", None), ("lab-vm", "52:54:00:00:00:02", "ua-x"),
                              ("prod", "52:54:00:00:00:03", None)])
    out = hplan.removals(items, host, lists=["networks", "vm_interfaces"], prefix="lab-", force=False)
    assert [(i.list, i.label) for i in out] == [("vm_interfaces", "lab-vm 52:54:00:00:00:02"),
                                                ("networks", "lab-old")]
    assert all(i.params["state"] == "absent" and i.index is None for i in out)


def test_overridden_refuses_to_remove_a_network_running_guests_use_unless_forced():
    items = items_of(networks=[{"name": "keep"}])
    host = inv(networks={"keep": [], "busy": ["web1"]})
    with pytest.raises(ValidationError) as exc:
        hplan.removals(items, host, lists=["networks"], prefix=None, force=False)
    assert "busy" in exc.value.msg and "web1" in exc.value.msg and "force" in exc.value.msg
    out = hplan.removals(items, host, lists=["networks"], prefix=None, force=True)
    assert [i.label for i in out] == ["busy"]


def test_a_guest_the_task_moves_off_a_network_does_not_block_its_removal():
    items = items_of(networks=[{"name": "new"}],
                     vm_interfaces=[{"domain": "web1", "alias": "ua-lan", "type": "network", "source": "new"}])
    out = hplan.removals(items, inv(networks={"new": [], "old": ["web1"]}), lists=["networks"], prefix=None,
                         force=False)
    assert [i.label for i in out] == ["old"]


def test_the_simulated_host_shows_planned_bridges_and_hides_removed_ones():
    sim = SimHost()
    sim.add_link("br0", True)
    sim.remove_link("eth9")
    assert sim.overlay_links({"eth0": False, "eth9": False}) == {"eth0": False, "br0": True}
    assert sim.overlay_links(None) is None
    sim.add_network(SimNetwork(name="n", xml="<network/>", active=True))
    sim.remove_network("n")
    assert "n" not in sim.networks and "n" in sim.gone_networks
