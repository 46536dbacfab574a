"""Checkpoint calls (exact busctl argv), kernel-state parsing, and the
engine's apply: a failure rolls back and says why; success destroys."""

import json

import pytest

from unit import fakes

from ansible_collections.virtnet.networking.plugins.module_utils.nm import verify as nm_verify
from ansible_collections.virtnet.networking.plugins.module_utils.engine import Plan
from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.nm.checkpoint import Checkpoint
from ansible_collections.virtnet.networking.plugins.module_utils.nm.engine import NmBondBridge
from ansible_collections.virtnet.networking.plugins.module_utils.nm.spec import ARGSPEC
from ansible_collections.virtnet.networking.plugins.module_utils.nm.validate import want_from_params
from ansible_collections.virtnet.networking.plugins.module_utils.runner import CommandResult

PROC_BONDING = """Ethernet Channel Bonding Driver: v6.1.0-50-cloud-amd64

Bonding Mode: fault-tolerance (active-backup)
Primary Slave: None
Currently Active Slave: ens4
MII Status: up
MII Polling Interval (ms): 100
Up Delay (ms): 0
Down Delay (ms): 0
Peer Notification Delay (ms): 0

Slave Interface: ens4
MII Status: up
Speed: Unknown
Duplex: Unknown
Link Failure Count: 0
Permanent HW addr: 52:54:00:F6:00:02
Slave queue ID: 0

Slave Interface: ens5
MII Status: down
Speed: Unknown
Duplex: Unknown
Link Failure Count: 1
Permanent HW addr: 52:54:00:f6:00:03
Slave queue ID: 0
"""


def test_proc_net_bonding_parsed():
    assert nm_verify.parse_proc_bonding(PROC_BONDING) == {
        "mode": "active-backup", "mii_status": "up", "active_port": "ens4", "miimon": 100,
        "ports": {"ens4": {"mii_status": "up", "link_failure_count": 0, "hw_addr": "52:54:00:f6:00:02"},
                  "ens5": {"mii_status": "down", "link_failure_count": 1, "hw_addr": "52:54:00:f6:00:03"}}}


def fake_tree(tmp_path, ports=("bond0", "eth3"), states=("3", "1")):
    fs = FsRoot(str(tmp_path))
    base = tmp_path / "sys/class/net/br0"
    (base / "bridge").mkdir(parents=True)
    (base / "bridge/stp_state").write_text("0\n")
    (base / "operstate").write_text("up\n")
    for port, st in zip(ports, states):
        (base / "brif" / port).mkdir(parents=True)
        (base / "brif" / port / "state").write_text(st + "\n")
        (tmp_path / "sys/class/net" / port).mkdir(parents=True, exist_ok=True)
        (tmp_path / "sys/class/net" / port / "operstate").write_text("up\n")
    (tmp_path / "proc/net/bonding").mkdir(parents=True)
    (tmp_path / "proc/net/bonding/bond0").write_text(PROC_BONDING)
    return fs


def test_bridge_and_bond_status_from_a_fake_root(tmp_path):
    st = nm_verify.status(fake_tree(tmp_path), "br0", "bond0")
    assert st["bridge"] == {"operstate": "up", "stp": False,
                            "ports": {"bond0": {"state": "forwarding", "operstate": "up"},
                                      "eth3": {"state": "listening", "operstate": "up"}}}
    assert st["bond"]["active_port"] == "ens4"
    assert nm_verify.problems(st, bridge="br0", ports=["eth3"], bond="bond0", bond_ports=["ens4", "ens5"]) == []
    assert nm_verify.problems(st, bridge="br0", ports=["eth3", "eth4"], bond="bond0",
                              bond_ports=["ens4", "ens6"]) == ["not attached to bridge br0: eth4",
                                                               "not enslaved to bond bond0: ens6"]
    assert nm_verify.problems(nm_verify.status(fake_tree(tmp_path / "x"), "br9", None), bridge="br9",
                              ports=[], bond=None, bond_ports=[]) == ["bridge br9 does not exist in the kernel"]


class FakeRunner:
    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.calls = []

    def run(self, args, check=True):
        self.calls.append(args)
        out = self.outputs.pop(0)
        if isinstance(out, Exception):
            raise out
        return CommandResult(argv=args, rc=0, out=out, err="")


NM = ["--system", "--json=short", "call", "org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager",
      "org.freedesktop.NetworkManager"]
CP = "/org/freedesktop/NetworkManager/Checkpoint/7"


def test_checkpoint_create_destroy_exact_argv():
    r = FakeRunner([json.dumps({"type": "o", "data": [CP]}), ""])
    cp = Checkpoint(None, runner=r)
    assert cp.create(60) == CP
    cp.destroy()
    assert r.calls == [NM + ["CheckpointCreate", "aouu", "0", "60", "6"], NM + ["CheckpointDestroy", "o", CP]]
    assert cp.log[-1].endswith("destroyed: the new state is kept")


def test_checkpoint_rollback_reports_each_device():
    r = FakeRunner([json.dumps({"type": "o", "data": [CP]}),
                    json.dumps({"type": "a{su}", "data": [{"/org/freedesktop/NetworkManager/Devices/3": 0,
                                                           "/org/freedesktop/NetworkManager/Devices/4": 3}]})])
    cp = Checkpoint(None, runner=r)
    cp.create(30)
    assert cp.rollback() == {"/org/freedesktop/NetworkManager/Devices/3": "ok",
                             "/org/freedesktop/NetworkManager/Devices/4": "error: failed"}
    assert r.calls[-1] == NM + ["CheckpointRollback", "o", CP]
    assert cp.rollback() == {}   # nothing left to roll back


def test_checkpoint_create_failure_says_nothing_changed():
    cp = Checkpoint(None, runner=FakeRunner([VirtnetError("busctl failed (rc=1): Call failed: already exists")]))
    with pytest.raises(VirtnetError) as e:
        cp.create(60)
    assert "nothing was changed" in e.value.msg and "already exists" in e.value.msg


def FakeModule(**params):  # noqa: N802 - reads as the class it builds
    """nm_bond_bridge's parameters as AnsibleModule makes them."""
    return fakes.FakeModule(params, argument_spec=ARGSPEC)


class FakeNm:
    def __init__(self, fail_on=None):
        self.fail_on = fail_on
        self.commands = []

    def run(self, args, check=True):
        self.commands.append(args)
        if self.fail_on and args[:len(self.fail_on)] == self.fail_on:
            raise VirtnetError("nmcli %s failed (rc=4): Operation not supported" % " ".join(args))


class FakeCheckpoint:
    def __init__(self):
        self.log = []
        self.events = []

    def create(self, timeout):
        self.events.append(("create", timeout))

    def destroy(self):
        self.events.append(("destroy",))

    def rollback(self):
        self.events.append(("rollback",))
        return {"/org/freedesktop/NetworkManager/Devices/2": "ok"}


def engine_with(tmp_path, nm, cp, **params):
    params.setdefault("ports", ["eth3"])
    mod = FakeModule(name="br0", **params)
    ticks = iter(range(0, 10 ** 6))   # a clock that advances 1 s per look
    eng = NmBondBridge(mod, fs=fake_tree(tmp_path), nmcli=nm, checkpoint=cp, sleep=lambda s: None,
                       clock=lambda: next(ticks))
    eng.topology = want_from_params(mod.params)[0]
    return eng


def test_failed_command_rolls_back_and_says_why(tmp_path):
    cp = FakeCheckpoint()
    nm = FakeNm(fail_on=["connection", "add", "type", "ethernet"])
    eng = engine_with(tmp_path, nm, cp, rollback_timeout=45)
    plan = Plan()
    plan.add("nmcli", "create bridge", payload=["connection", "add", "type", "bridge"])
    plan.add("nmcli", "create port", payload=["connection", "add", "type", "ethernet"])
    plan.add("nmcli", "never reached", payload=["connection", "add", "type", "bond"])
    with pytest.raises(VirtnetError) as e:
        eng.apply(plan)
    assert cp.events == [("create", 45), ("rollback",)]
    assert "Operation not supported" in e.value.msg and "rolled back to the checkpoint" in e.value.msg
    assert e.value.details["rollback"] == {"/org/freedesktop/NetworkManager/Devices/2": "ok"}
    assert e.value.details["rolled_back"] == ("NetworkManager rolled back to the checkpoint taken before the change "
                                              "(/org/freedesktop/NetworkManager/Devices/2: ok)")
    assert ["connection", "add", "type", "bond"] not in nm.commands


def test_verification_failure_rolls_back(tmp_path):
    cp = FakeCheckpoint()
    eng = engine_with(tmp_path, FakeNm(), cp, ports=["eth3", "eth4"], verify_timeout=5)
    with pytest.raises(VirtnetError) as e:
        eng.apply(Plan())
    assert cp.events[-1] == ("rollback",)
    assert "not attached to bridge br0: eth4" in e.value.msg


def test_verified_change_destroys_the_checkpoint(tmp_path):
    cp = FakeCheckpoint()
    eng = engine_with(tmp_path, FakeNm(), cp)
    eng.apply(Plan())
    assert cp.events == [("create", 60), ("destroy",)]
    assert eng.report["verification"]["bridge"]["ports"]["eth3"]["state"] == "listening"


def test_rollback_timeout_must_outlast_verification(tmp_path):
    from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError
    mod = FakeModule(name="br0", ports=["eth3"], rollback_timeout=40, verify_timeout=30)
    with pytest.raises(ValidationError) as e:
        NmBondBridge(mod, fs=fake_tree(tmp_path), nmcli=FakeNm(), checkpoint=FakeCheckpoint()).want()
    assert e.value.msg.startswith("rollback_timeout=40: must be at least verify_timeout + 20 s (50)")


class ScriptedNm(FakeNm):
    """Profiles whose states advance one step per read, like NM activating."""

    def __init__(self, timeline):
        super().__init__()
        self.timeline = list(timeline)

    def profiles(self):
        from ansible_collections.virtnet.networking.plugins.module_utils.nm.nmcli import Profile
        states = self.timeline.pop(0) if len(self.timeline) > 1 else self.timeline[0]
        return [Profile(uuid="u-" + n, name=n, type="x", ifname=n, state=s) for n, s in states.items()]


def activate(tmp_path, timeline, payload):
    """Run the activation step against NM states that follow ``timeline``
    (one entry per read); the nmcli commands it ran, and what is left."""
    nm = ScriptedNm(timeline)
    eng = engine_with(tmp_path, nm, FakeCheckpoint())
    eng.deadline = 100
    eng._activate(payload)
    return nm.commands, nm.timeline


def test_activation_waits_for_bridge_and_kicks_only_idle_ports(tmp_path):
    commands, left = activate(tmp_path, [{"br0": "activating", "br0-port-eth3": ""},
                                         {"br0": "activating", "br0-port-eth3": "activating"},
                                         {"br0": "activated", "br0-port-eth3": "activated"}],
                              {"bridge": ["id", "br0"], "bond": None, "ports": ["br0-port-eth3"]})
    assert commands == [["connection", "up", "id", "br0"], ["connection", "up", "id", "br0-port-eth3"]]
    assert left == [{"br0": "activated", "br0-port-eth3": "activated"}]


def test_new_masters_that_nm_already_brings_up_are_not_started_over(tmp_path):
    # Measured on a slow full host: NM autoconnected the new bridge, bond and
    # ports; "connection up" on each master then tore the ports down twice and
    # the change missed verify_timeout. Now only what NM has not started is
    # brought up.
    commands, _ = activate(tmp_path, [{"br0": "activated", "bond0": "activating", "bond0-port-eth3": "activating"},
                                      {"br0": "activated", "bond0": "activating", "bond0-port-eth3": "activating"},
                                      {"br0": "activated", "bond0": "activated", "bond0-port-eth3": "activated"}],
                           {"bridge": ["id", "br0"], "bond": ["id", "bond0"], "new": [["id", "br0"], ["id", "bond0"]],
                            "ports": ["bond0-port-eth3"]})
    assert commands == []


def test_new_master_left_to_nm_that_falls_idle_is_brought_up_once(tmp_path):
    commands, _ = activate(tmp_path, [{"br0": "activating", "br0-port-eth3": "activating"},
                                      {"br0": "", "br0-port-eth3": ""},
                                      {"br0": "activated", "br0-port-eth3": "activated"}],
                           {"bridge": ["id", "br0"], "bond": None, "new": [["id", "br0"]], "ports": ["br0-port-eth3"]})
    assert commands == [["connection", "up", "id", "br0"], ["connection", "up", "id", "br0-port-eth3"]]


def test_new_master_nm_has_not_started_and_changed_masters_are_brought_up(tmp_path):
    # br0 exists and was changed (named by uuid, not new): "up" applies the change
    commands, _ = activate(tmp_path, [{"br0": "activated", "bond0": "", "bond0-port-eth3": ""},
                                      {"br0": "activated", "bond0": "activated", "bond0-port-eth3": "activated"}],
                           {"bridge": ["uuid", "u-br0"], "bond": ["id", "bond0"], "new": [["id", "bond0"]],
                            "ports": ["bond0-port-eth3"]})
    assert commands == [["connection", "up", "uuid", "u-br0"], ["connection", "up", "id", "bond0"]]


def test_activation_that_never_completes_names_what_is_missing(tmp_path):
    nm = ScriptedNm([{"br0": "activating", "br0-port-eth3": "activated"}])
    eng = engine_with(tmp_path, nm, FakeCheckpoint(), verify_timeout=10)
    eng.deadline = eng.clock() + 10
    with pytest.raises(VirtnetError) as e:
        eng._activate({"bridge": ["uuid", "u-br0"], "bond": None, "ports": ["br0-port-eth3"]})
    assert e.value.msg.startswith("not active within verify_timeout=10 s: u-br0")
