"""The engine's contract: one place decides changed/check/diff, and a run
that does not converge fails instead of claiming success."""

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils import engine as eng
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from unit.fakes import FakeModule
from unit.fakes import ModuleExit as Exit


class Counter(eng.Engine):
    """A toy host holding one integer; the task wants it at params['value']."""

    result_key = "counter"

    def __init__(self, module, host, *, broken=False):
        super().__init__(module)
        self.host = host
        self.broken = broken
        self.applied = []
        self.closed = False

    def want(self):
        if self.params["value"] < 0:
            raise ValidationError("value", self.params["value"], "must not be negative")
        return self.params["value"]

    def have(self):
        return self.host["n"]

    def plan(self, want, have):
        plan = eng.Plan()
        if want != have:
            plan.add("set", "set n from %s to %s" % (have, want), payload=want)
        return plan

    def apply(self, plan):
        for action in plan.actions:
            self.applied.append(action.kind)
            self.host["n"] = action.payload + (1 if self.broken else 0)

    def export(self, state):
        return {"n": state}

    def cleanup(self):
        self.closed = True


def drive(params, host, **kw):
    module = FakeModule(params, check_mode=kw.pop("check_mode", False), diff=kw.pop("diff", False))
    engine = Counter(module, host, **kw)
    with pytest.raises(Exit) as exc:
        eng.run(module, engine)
    return exc.value, engine


def test_check_mode_predicts_and_touches_nothing():
    host = {"n": 1}
    out, engine = drive({"value": 5}, host, check_mode=True, diff=True)
    assert not out.failed
    assert out.result["changed"] is True
    assert out.result["actions"] == [{"kind": "set", "summary": "set n from 1 to 5", "disruption": "none"}]
    assert out.result["diff"] == {"before": {"n": 1}, "after": {"n": 5}}
    assert host == {"n": 1} and engine.applied == []
    assert engine.closed


def test_apply_then_again_is_unchanged():
    host = {"n": 1}
    out, engine = drive({"value": 5}, host)
    assert out.result["changed"] is True and host == {"n": 5}
    assert out.result["counter"] == {"n": 5}
    out, engine = drive({"value": 5}, host)
    assert out.result["changed"] is False and out.result["actions"] == [] and engine.applied == []


def test_not_converging_fails_and_says_what_remains():
    out, engine = drive({"value": 5}, {"n": 1}, broken=True)
    assert engine.applied == ["set"]
    assert out.failed
    assert "did not converge" in out.result["msg"]
    assert out.result["remaining"][0]["summary"] == "set n from 6 to 5"


def test_not_converging_rolls_back_what_the_engine_journaled():
    class Undoing(Counter):
        def apply(self, plan):
            self.old = self.host["n"]
            super().apply(plan)

        def roll_back(self):
            self.host["n"] = self.old
            return "n set back to %d" % self.old

    module = FakeModule({"value": 5})
    host = {"n": 1}
    with pytest.raises(Exit) as exc:
        eng.run(module, Undoing(module, host, broken=True))
    assert exc.value.failed and "did not converge" in exc.value.result["msg"]
    assert exc.value.result["rolled_back"] == "n set back to 1" and host == {"n": 1}
    # An engine without a journal reports no rolled_back at all.
    out, _engine = drive({"value": 5}, {"n": 1}, broken=True)
    assert "rolled_back" not in out.result


def test_validation_error_names_option_and_value():
    host = {"n": 1}
    out, engine = drive({"value": -3}, host)
    assert out.failed
    assert out.result["msg"] == "value=-3: must not be negative"
    assert out.result["option"] == "value" and out.result["value"] == -3
    assert host == {"n": 1} and engine.closed


def test_unexpected_exception_becomes_failure_not_traceback():
    class Boom(Counter):
        def have(self):
            raise KeyError("nope")

    module = FakeModule({"value": 1})
    with pytest.raises(Exit) as exc:
        eng.run(module, Boom(module, {"n": 0}))
    assert exc.value.failed and "KeyError" in exc.value.result["msg"]


def test_virtnet_error_details_are_returned():
    class Refuses(Counter):
        def apply(self, plan):
            raise VirtnetError("libvirt: define failed: nope", libvirt_code=9, xml="<network/>")

    module = FakeModule({"value": 2})
    with pytest.raises(Exit) as exc:
        eng.run(module, Refuses(module, {"n": 0}))
    assert exc.value.failed
    assert exc.value.result["libvirt_code"] == 9 and exc.value.result["xml"] == "<network/>"


# --------------------------------------------------------------------------
# run_info: the _info modules' driver
# --------------------------------------------------------------------------

def test_run_info_returns_the_keys_unchanged():
    module = FakeModule()
    with pytest.raises(Exit) as exc:
        eng.run_info(module, lambda: {"things": [1]})
    assert not exc.value.failed and exc.value.result == {"changed": False, "things": [1]}


def test_run_info_virtnet_error_is_a_clean_failure():
    def read():
        raise VirtnetError("libvirt: listing networks failed: gone", libvirt_code=38)

    module = FakeModule()
    with pytest.raises(Exit) as exc:
        eng.run_info(module, read)
    assert exc.value.failed and exc.value.result["msg"] == "libvirt: listing networks failed: gone"
    assert exc.value.result["libvirt_code"] == 38


def test_run_info_unexpected_exception_becomes_failure_not_traceback():
    """An _info module must fail like the others: fail_json naming the
    exception's type and message (with the traceback as ``exception``), not
    a Python traceback from the module."""
    def read():
        raise PermissionError(13, "Permission denied", "/var/lib/tftpboot/boot.ipxe")

    module = FakeModule()
    with pytest.raises(Exit) as exc:
        eng.run_info(module, read)
    assert exc.value.failed, exc.value.result
    msg = exc.value.result["msg"]
    assert msg.startswith("unexpected error: PermissionError: ") and "Permission denied" in msg, msg
    assert "/var/lib/tftpboot/boot.ipxe" in msg
    assert "Traceback" in exc.value.result["exception"]
