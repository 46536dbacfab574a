"""virt_iface boot_order on a domain that boots by <os><boot dev>: the
conversion to per-device boot orders (truth table), the planner (summary,
warning, pending, check mode = same plan) and the XML the engine defines."""

import dataclasses
import os

import pytest
from lxml import etree

from ansible_collections.virtnet.networking.plugins.module_utils.iface import boot as ib
from ansible_collections.virtnet.networking.plugins.module_utils.iface import engine as ie
from ansible_collections.virtnet.networking.plugins.module_utils.iface import plan as ipl
from unit.fakes import run
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError

from test_iface_engine import FakeDom, FakeLv, FakeModule
from test_iface_plan import NIC, desired, host, kinds

SCHEMAS = "/usr/share/libvirt/schemas"

# devices as iface.boot.boot_devices returns them
VDA = ("hd", "disk vda", ("disk", 0))
VDB = ("hd", "disk vdb", ("disk", 1))
CD = ("cdrom", "cdrom sda", ("disk", 2))
FD = ("fd", "floppy fda", ("disk", 3))
NIC2 = ("network", "interface 52:54:00:00:00:02", ("interface", 1))


@pytest.mark.parametrize("os_list, devices, taken, expected", [
    # libvirt's default <boot dev='hd'/>, NIC asks for 1: the disk is next
    (("hd",), [VDA], {1}, [("disk vda", 2)]),
    # NIC asks for 2: the disk keeps booting first
    (("hd",), [VDA], {2}, [("disk vda", 1)]),
    # every disk of the kind, in document order
    (("hd",), [VDA, VDB], {1}, [("disk vda", 2), ("disk vdb", 3)]),
    # the old sequence is kept across kinds, not the document order
    (("cdrom", "hd"), [VDA, CD], {1}, [("cdrom sda", 2), ("disk vda", 3)]),
    (("hd", "cdrom", "fd"), [FD, CD, VDA], {1}, [("disk vda", 2), ("cdrom sda", 3), ("floppy fda", 4)]),
    # a kind with no device is skipped, no gap
    (("fd", "cdrom", "hd"), [VDA], {1}, [("disk vda", 2)]),
    (("hd",), [], {1}, []),
    # 'network': the other interfaces (the task's own NIC is not listed)
    (("network", "hd"), [VDA, NIC2], {1}, [("interface 52:54:00:00:00:02", 2), ("disk vda", 3)]),
    # orders already taken are never reused
    (("hd", "cdrom"), [VDA, CD], {1, 2, 4}, [("disk vda", 3), ("cdrom sda", 5)]),
    # a device named twice gets one order
    (("hd", "hd"), [VDA], {1}, [("disk vda", 2)]),
])
def test_conversion_truth_table(os_list, devices, taken, expected):
    got = ib.convert(os_list, devices, taken=taken)
    assert [(name, order) for name, _ref, order in got] == expected
    orders = [o for _n, _r, o in got]
    assert len(set(orders)) == len(orders) and not set(orders) & taken


DOM = """<domain type='qemu'>
  <name>vm1</name>
  <memory>131072</memory>
  <os><type arch='x86_64' machine='pc-i440fx-10.0'>hvm</type>%(os)s</os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/a.img'/><target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></disk>
    <disk type='file' device='cdrom'><source file='/var/lib/b.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
    <disk type='file'><source file='/var/lib/c.img'/><target dev='vdb' bus='virtio'/></disk>
    <interface type='network'>
      <mac address='52:54:00:00:00:01'/>
      <source network='default'/>
      <model type='virtio'/>
      <alias name='ua-web'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:00:00:02'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>"""


def dom(os_extra="<boot dev='cdrom'/><boot dev='hd'/><bootmenu enable='yes'/>"):
    return DOM % {"os": os_extra}


def test_boot_devices_read_from_the_domain():
    root = etree.fromstring(dom())
    own = root.findall("devices/interface")[0]
    assert ib.os_boot(root) == ("cdrom", "hd")
    assert ib.boot_devices(root, skip=own) == [
        ("hd", "disk vda", ("disk", 0)), ("cdrom", "cdrom sda", ("disk", 1)), ("hd", "disk vdb", ("disk", 2)),
        ("network", "interface 52:54:00:00:00:02", ("interface", 1))]


# --------------------------------------------------------------------------
# the planner
# --------------------------------------------------------------------------

OS_HOST = dict(os_boot=("hd",), boot_devices=[VDA])


def test_shut_off_domain_converted_in_one_define():
    plan, target = ipl.plan(desired(alias="ua-web", boot_order=1), host(running=False, live=None, **OS_HOST))
    assert kinds(plan) == ["define"] and plan.pending == []
    note = "converted the os boot list (<boot dev='hd'/>) to per-device boot orders: " \
        "interface 52:54:00:00:00:01=1, disk vda=2"
    assert note in plan.actions[0].summary
    assert any(note in w for w in plan.warnings)
    assert target.os_boot == () and target.boot_orders == {2: "disk vda"}
    assert target.config.boot_order == 1
    out = ipl.export_state(host(running=False, live=None, **OS_HOST), target)
    assert out["boot"] == {"os": [], "devices": {"interface 52:54:00:00:00:01": 1, "disk vda": 2}}
    assert ipl.export_state(host(running=False, live=None, **OS_HOST))["boot"] == {"os": ["hd"], "devices": {}}


def test_second_run_changes_nothing():
    after = host(running=False, live=None, config=dataclasses.replace(NIC, boot_order=1),
                 boot_orders={2: "disk vda"})
    plan, target = ipl.plan(desired(alias="ua-web", boot_order=1), after)
    assert plan.actions == [] and plan.warnings == [] and target.conversion == []


def test_running_domain_pending_or_restart():
    plan, target = ipl.plan(desired(alias="ua-web", boot_order=1), host(**OS_HOST))
    assert kinds(plan) == ["define"] and plan.pending == ["boot_order"]
    assert target.live == NIC and target.os_boot == ()
    plan, target = ipl.plan(desired(alias="ua-web", boot_order=1, restart=True), host(**OS_HOST))
    assert kinds(plan) == ["define", "restart"] and plan.pending == []
    assert target.live.boot_order == 1


def test_new_nic_hot_plugged_without_order_while_the_domain_boots_by_list():
    have = host(config=None, live=None, config_index=None, live_os_boot=True, **OS_HOST)
    plan, target = ipl.plan(desired(alias="ua-pxe", type="network", source="lab", boot_order=1), have)
    assert kinds(plan) == ["attach", "define"] and plan.pending == ["boot_order"]
    assert plan.actions[0].payload.boot_order is None and target.config.boot_order == 1
    assert target.boot_orders == {2: "disk vda"}


def test_taken_order_still_refused():
    have = host(running=False, live=None, boot_orders={1: "disk vda"})
    with pytest.raises(ValidationError, match="boot_order=1: already given to disk vda"):
        ipl.plan(desired(alias="ua-web", boot_order=1), have)


def test_transient_domain_with_os_boot_refused():
    have = host(persistent=False, config=None, config_index=None, **OS_HOST)
    with pytest.raises(ValidationError, match="boot_order=1: domain vm1 boots by .* and is transient"):
        ipl.plan(desired(alias="ua-web", boot_order=1), have)


def test_direct_kernel_boot_warns_every_run():
    have = host(running=False, live=None, kernel=True, **OS_HOST)
    plan, _t = ipl.plan(desired(alias="ua-web", boot_order=1), have)
    assert kinds(plan) == ["define"]
    assert any("boots a kernel directly" in w and "boot_order=1" in w for w in plan.warnings)
    done = host(running=False, live=None, kernel=True, config=dataclasses.replace(NIC, boot_order=1))
    plan, _t = ipl.plan(desired(alias="ua-web", boot_order=1), done)
    assert plan.actions == [] and any("boots a kernel directly" in w for w in plan.warnings)
    plan, _t = ipl.plan(desired(alias="ua-web", link="up"), done)
    assert plan.warnings == []


# --------------------------------------------------------------------------
# the engine: what is defined (fake libvirt), check mode, idempotence
# --------------------------------------------------------------------------

def converge_fake(vm, **params):
    lv = FakeLv([vm])
    results = []
    for check in (True, False, False):
        module = FakeModule(check_mode=check, **params)
        eng = ie.IfaceEngine(module)
        eng.lv = lv
        run(module, eng)
        assert not module.result.get("failed"), module.result
        results.append(module)
    return lv, results


@pytest.fixture(scope="module")
def domain_rng():
    path = os.path.join(SCHEMAS, "domain.rng")
    if not os.path.exists(path):
        pytest.skip("libvirt's RelaxNG schemas are not installed")
    return etree.RelaxNG(etree.parse(path))


def test_engine_converts_in_the_same_define(domain_rng):
    vm = FakeDom("vm1", dom())
    lv, (check, applied, again) = converge_fake(vm, domain="vm1", alias="ua-web", boot_order=1)
    assert len(lv.defined) == 1
    root = etree.fromstring(lv.defined[0].encode())
    assert root.find("os/boot") is None and root.find("os/bootmenu").get("enable") == "yes"
    orders = {ib.label(d): d.find("boot").get("order") for d in root.find("devices") if d.find("boot") is not None}
    # old list cdrom, hd: the CD-ROM, then both disks in document order; 'network' not listed
    assert orders == {"interface 52:54:00:00:00:01": "1", "cdrom sda": "2", "disk vda": "3", "disk vdb": "4"}
    # <boot> goes before <address> (libvirt's own order), the rest untouched
    assert [c.tag for c in root.find("devices/disk")] == ["source", "target", "boot", "address"]
    assert domain_rng.validate(root), domain_rng.error_log
    # check mode predicted it, the diff shows it, and the second run is quiet
    assert check.result["interface"] == applied.result["interface"]
    assert check.result["diff"]["before"]["boot"] == {"os": ["cdrom", "hd"], "devices": {}}
    assert check.result["diff"]["after"]["boot"]["os"] == []
    assert check.result["actions"] == applied.result["actions"]
    assert "converted the os boot list" in applied.result["actions"][0]["summary"]
    assert any("converted the os boot list (<boot dev='cdrom'/>, <boot dev='hd'/>)" in w for w in applied.warnings)
    assert not again.result["changed"] and again.warnings == []
    assert again.result["interface"]["boot"] == {"os": [], "devices": {
        "interface 52:54:00:00:00:01": 1, "cdrom sda": 2, "disk vda": 3, "disk vdb": 4}}


def test_engine_network_entry_gives_the_other_nic_an_order():
    vm = FakeDom("vm1", dom("<boot dev='network'/><boot dev='hd'/>"))
    lv, (_c, applied, again) = converge_fake(vm, domain="vm1", alias="ua-web", boot_order=1)
    root = etree.fromstring(lv.defined[0].encode())
    nics = root.findall("devices/interface")
    assert [n.find("boot").get("order") for n in nics] == ["1", "2"]
    assert root.findall("devices/disk")[0].find("boot").get("order") == "3"
    assert not again.result["changed"]
