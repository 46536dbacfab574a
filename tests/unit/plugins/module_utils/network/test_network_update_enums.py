"""network_plan's virNetworkUpdate commands and sections are libvirt's own
enum values: a wrong section number makes libvirt read the element as
another section (a DHCP range sent as section 9 is read as a <portgroup> and
refused, so a range changed by hand could never be converged back)."""
import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.network import plan as np

libvirt = pytest.importorskip("libvirt")


@pytest.mark.parametrize("ours, theirs", [
    ("CMD_DELETE", "VIR_NETWORK_UPDATE_COMMAND_DELETE"),
    ("CMD_ADD_LAST", "VIR_NETWORK_UPDATE_COMMAND_ADD_LAST"),
    ("SECTION_IP_DHCP_HOST", "VIR_NETWORK_SECTION_IP_DHCP_HOST"),
    ("SECTION_IP_DHCP_RANGE", "VIR_NETWORK_SECTION_IP_DHCP_RANGE"),
    ("SECTION_DNS_HOST", "VIR_NETWORK_SECTION_DNS_HOST"),
    ("SECTION_DNS_TXT", "VIR_NETWORK_SECTION_DNS_TXT"),
    ("SECTION_DNS_SRV", "VIR_NETWORK_SECTION_DNS_SRV"),
])
def test_update_enums_are_libvirts(ours, theirs):
    assert getattr(np, ours) == getattr(libvirt, theirs)
