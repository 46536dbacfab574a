"""The one undo journal every engine records into (engine.Undo): inverses run
newest first on a failure, a failing inverse is reported and the older ones
still run, nothing is undone on success, and only the steps that ran are
listed in ``rolled_back``."""

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils import engine as eng
from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from unit.fakes import FakeModule, ModuleExit


class Steps(eng.Engine):
    """A host of named switches; each plan step turns one on and records the
    inverse (turn it off again) before it writes, as the real engines do."""

    result_key = "switches"

    def __init__(self, module, *, fail_step=None, fail_undo=None, fail_finish=False):
        super().__init__(module)
        self.on: list = []
        self.log: list = []
        self.fail_step, self.fail_undo, self.fail_finish = fail_step, fail_undo, fail_finish

    def want(self):
        return list(self.params["on"])

    def have(self):
        return list(self.on)

    def plan(self, want, have):
        p = eng.Plan()
        for name in want:
            if name not in have:
                p.add("switch", "turn %s on" % name, payload=name)
        return p

    def _apply_switch(self, action):
        name = action.payload
        self.undo.record("switch %s" % name, lambda: self._off(name))
        if name == self.fail_step:
            raise VirtnetError("switch %s is stuck" % name)
        self.on.append(name)
        self.log.append("on " + name)

    def _off(self, name):
        self.log.append("off " + name)
        if name == self.fail_undo:
            raise VirtnetError("switch %s will not turn off" % name)
        if name in self.on:
            self.on.remove(name)
        return "switch %s off again" % name

    def export(self, state):
        return list(state)

    def finish(self, after):
        if self.fail_finish:
            raise VirtnetError("the proof failed")


def run(engine):
    with pytest.raises(ModuleExit) as e:
        eng.run(engine.module, engine)
    return dict(e.value.result, failed=e.value.failed)


def test_a_failing_step_undoes_the_steps_before_it_newest_first():
    e = Steps(FakeModule(dict(on=["a", "b", "c", "d"])), fail_step="c")
    res = run(e)
    assert res["failed"] and res["msg"] == "switch c is stuck"
    assert e.log == ["on a", "on b", "off c", "off b", "off a"]
    assert e.on == []
    # only the steps that ran: d never ran, so it is not listed
    assert res["rolled_back"] == "switch c off again; switch b off again; switch a off again"


def test_a_failing_undo_step_is_reported_and_the_older_ones_still_run():
    e = Steps(FakeModule(dict(on=["a", "b", "c"])), fail_step="c", fail_undo="b")
    res = run(e)
    assert e.log == ["on a", "on b", "off c", "off b", "off a"]
    assert res["rolled_back"] == ("switch c off again; undoing switch b failed: switch b will not turn off; "
                                  "switch a off again")
    assert e.on == ["b"]
    assert res["msg"] == "switch c is stuck"     # the original error is not masked


def test_nothing_is_undone_on_success():
    e = Steps(FakeModule(dict(on=["a", "b"])))
    res = run(e)
    assert not res["failed"] and res["changed"] and "rolled_back" not in res
    assert e.log == ["on a", "on b"] and e.on == ["a", "b"]
    # the journal is closed once the run converged: nothing is left to undo later
    assert e.undo.steps == [] and e.roll_back() is None
    assert e.log == ["on a", "on b"]


def test_a_failure_after_apply_undoes_every_step_of_this_run():
    e = Steps(FakeModule(dict(on=["a", "b"])), fail_finish=True)
    e.on = ["x"]                      # what the user had before: not this run's, never undone
    res = run(e)
    assert res["failed"] and res["msg"] == "the proof failed"
    assert res["rolled_back"] == "switch b off again; switch a off again"
    assert e.on == ["x"]


def test_the_journal_runs_once_and_an_inverse_without_words_is_named():
    u = eng.Undo()
    calls = []
    u.record("the hotplug", lambda: calls.append(1))
    step = u.record("the link bounce", lambda: calls.append(2))
    u.forget(step)                    # the step undid itself
    assert u.run() == "the hotplug undone"
    assert calls == [1]
    assert u.run() is None            # nothing left: nothing to report


def test_an_unexpected_error_in_a_step_is_rolled_back_and_reported_by_the_last_resort():
    class Crashing(Steps):
        def _apply_switch(self, action):
            super()._apply_switch(action)
            if action.payload == "b":
                raise KeyError("boom")
    e = Crashing(FakeModule(dict(on=["a", "b", "c"])))
    res = run(e)
    assert res["failed"] and res["msg"].startswith("unexpected error: KeyError")
    assert res["rolled_back"] == "switch b off again; switch a off again"
    assert e.on == []
