"""hypervisor.validate: a malformed item is refused naming list[index].option
and the offending value, whatever kind of error Ansible's argument check
reports, before anything on the host is read."""

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
from ansible_collections.virtnet.networking.plugins.module_utils.hypervisor import validate as hv

TOP = {"uri": "qemu:///system", "state": "merged", "restart": False, "force": False, "managed": None}


def refused(**lists):
    with pytest.raises(ValidationError) as exc:
        hv.items_from_params(dict(TOP, **lists))
    return exc.value


@pytest.mark.parametrize("lists,option,value", [
    ({"networks": [{"name": "a", "mtu": "big"}]}, "networks[0].mtu", "big"),
    ({"networks": [{"name": "a", "forward": {"mode": "bridged"}}]}, "networks[0].forward.mode", "bridged"),
    ({"networks": [{"name": "a"}, {"name": "b", "ips": [{"address": "192.0.2.1/24"},
                                                          {"address": "192.0.2.33/27",
                                                           "dhcp": {"ranges": [{"start": "x", "end": "y",
                                                                                "bogus": 1}]}}]}]},
     "networks[1].ips[1].dhcp.ranges[0].bogus", 1),
    ({"vm_interfaces": [{"domain": "d", "mac": "52:54:00:00:00:01", "type": "bridged"}]},
     "vm_interfaces[0].type", "bridged"),
    ({"networks": ["plain"]}, "networks[0]", "plain"),
    ({"vm_interfaces": [{"domain": "d", "mac": "52:54:00:aa:00:01"}, {"domain": "d", "mac": "52:54:00:AA:00:01"}]},
     "vm_interfaces[1].mac", "52:54:00:AA:00:01"),
])
def test_bad_item_names_list_index_option_and_value(lists, option, value):
    err = refused(**lists)
    assert err.option == option, err.msg
    assert err.value == value, err.msg
    assert option in err.msg and str(value) in err.msg


def test_same_mac_on_two_domains_is_two_nics():
    items = hv.items_from_params(dict(TOP, vm_interfaces=[{"domain": "a", "mac": "52:54:00:aa:00:01"},
                                                          {"domain": "b", "mac": "52:54:00:AA:00:01"}]))
    assert [i.where for i in items] == ["vm_interfaces[0]", "vm_interfaces[1]"]
