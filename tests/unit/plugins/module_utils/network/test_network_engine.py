"""network.engine: a failing live update reverts the ones applied before it
(the undo journal of engine.py)."""

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.network import engine as ne
from ansible_collections.virtnet.networking.plugins.modules import virt_network
from unit.fakes import FakeLibvirt, FakeModule
from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError


class FakeNet:
    def __init__(self, fail_on=None):
        self.calls = []
        self.fail_on = fail_on

    def isActive(self):  # noqa: N802 - libvirt's name
        return True

    def update(self, command, section, parent, xml, flags):
        self.calls.append((command, xml))
        if len(self.calls) == self.fail_on:
            raise RuntimeError("libvirt said no")
        return 0


def test_failed_live_update_reverts_the_ones_before_it():
    from ansible_collections.virtnet.networking.plugins.module_utils.engine import Plan
    from ansible_collections.virtnet.networking.plugins.module_utils.network import plan as npl
    net = FakeNet(fail_on=2)
    engine = ne.NetworkEngine(FakeModule({"name": "lab", "uri": "qemu:///system"},
                                         argument_spec=virt_network.argument_spec()))
    engine.lv = FakeLibvirt(networks={"lab": net}, call_errors=(RuntimeError,))
    plan = Plan()
    for mac in ("52:54:00:00:00:01", "52:54:00:00:00:02"):
        xml = "<host mac='%s' ip='198.51.100.10'/>" % mac
        plan.add("update", "add " + mac, payload=npl.Update(npl.CMD_ADD_LAST, npl.SECTION_IP_DHCP_HOST, 0, xml))
    with pytest.raises(VirtnetError):
        engine.apply(plan)
    # what run() does on the failure: the journal holds only the update that ran
    assert engine.roll_back() == "live update reverted"
    assert [c[0] for c in net.calls] == [npl.CMD_ADD_LAST, npl.CMD_ADD_LAST, npl.CMD_DELETE]
    assert "00:01" in net.calls[2][1]
