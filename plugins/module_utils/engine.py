# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The want / have / plan / apply / verify engine shared by every module.

A module subclasses :class:`Engine` and hands it to :func:`run`.  ``run`` is
the single place that decides ``changed``, honours check mode and diff mode,
and verifies the result: after applying, it reads the host again and plans
once more; a plan that still has actions means we did not converge, and the
task fails instead of reporting a success that is not true.  Check mode runs
exactly the same planner and stops before :meth:`Engine.apply`, so it cannot
predict anything the real run would not do.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError

# How disruptive an action is, from a user's point of view.
NONE = "none"            # invisible to running guests (a live update)
CONFIG = "config"        # persistent config only; takes effect at next start
RESTART = "restart"      # restarts a network / device; guests see a blip
REBOOT = "reboot"        # a guest or the host must restart


@dataclass
class Action:
    """One step of a plan.

    ``kind`` is machine-readable (``define``, ``update``, ``restart``,
    ``autostart``, ``nmcli``, ``sysfs``...), ``summary`` is what a user reads,
    ``disruption`` says who notices, and ``payload`` is whatever ``apply``
    needs (never returned to the user).
    """

    kind: str
    summary: str
    disruption: str = NONE
    payload: Any = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "summary": self.summary, "disruption": self.disruption}


@dataclass
class Plan:
    actions: list = field(default_factory=list)
    # Changes that are written but only take effect after a restart the
    # user did not allow (``restart_required`` in the result).
    pending: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def add(self, kind: str, summary: str, disruption: str = NONE, payload: Any = None) -> Action:
        action = Action(kind=kind, summary=summary, disruption=disruption, payload=payload)
        self.actions.append(action)
        return action

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    @property
    def restart_required(self) -> bool:
        return bool(self.pending)

    def of_kind(self, *kinds: str) -> list:
        return [a for a in self.actions if a.kind in kinds]


@dataclass
class UndoStep:
    """One applied step of this run and how to undo it."""

    what: str                   # the step, in words ("the hotplug", "the VF count of eth1")
    inverse: Any                # callable; returns what it undid in words, or None


class Undo:
    """The one undo journal of a run: every engine records each applied step's
    inverse here *as it applies* (before the write where a half-done write
    needs undoing too), and on a failure the inverses run newest first.

    Only steps that ran are in the journal, so the report lists only them.
    A failing inverse is reported and the older ones still run: undo as much
    as possible, never mask the error being reported.
    """

    def __init__(self) -> None:
        self.steps: list = []

    def record(self, what: str, inverse: Any) -> UndoStep:
        step = UndoStep(what=what, inverse=inverse)
        self.steps.append(step)
        return step

    def forget(self, step: UndoStep) -> None:
        """The step undid itself (a link bounce that came back up)."""
        self.steps.remove(step)

    def clear(self) -> None:
        """The changes so far are kept whatever happens next."""
        self.steps = []

    def run(self) -> str | None:
        """Run the inverses newest first and empty the journal; what was
        undone (and what failed to be), in words, or None when nothing ran."""
        steps, self.steps = self.steps, []
        if not steps:
            return None
        done = []
        for step in reversed(steps):
            try:
                said = step.inverse()
            except Exception as err:  # noqa: BLE001 - report, never mask the error being reported
                done.append("undoing %s failed: %s" % (step.what, getattr(err, "msg", None) or err))
            else:
                done.append(said if isinstance(said, str) and said else "%s undone" % step.what)
        return "; ".join(done)


class Engine:
    """Base class: override ``want``, ``have``, ``plan``, ``export`` and one
    ``_apply_<kind>`` method per action kind of the plans.

    ``result_key`` names the key under which the final state is returned
    (``network``, ``interface``...).  Each ``_apply_<kind>`` records the
    inverse of what it changed in ``self.undo``; on a failure of a later step
    (or of the verification after it) :func:`run` undoes them and reports
    what it undid in ``rolled_back``.
    """

    result_key = "state"

    def __init__(self, module: Any) -> None:
        self.module = module
        self.params = module.params
        # Extra result keys an apply step wants to report (reconnected
        # guests, rollback details...).
        self.report: dict = {}
        self.undo = Undo()

    # -- to override -----------------------------------------------------
    def want(self) -> Any:
        raise NotImplementedError

    def have(self) -> Any:
        raise NotImplementedError

    def plan(self, want: Any, have: Any) -> Plan:
        raise NotImplementedError

    def apply(self, plan: Plan) -> None:
        """Apply ``plan``: each action by its ``_apply_<kind>`` method.  An
        exception other than VirtnetError goes through :meth:`step_error`."""
        for action in plan.actions:
            try:
                getattr(self, "_apply_" + action.kind)(action)
            except VirtnetError:
                raise
            except Exception as err:  # noqa: BLE001 - translated or re-raised
                translated = self.step_error(action, err)
                if translated is err:
                    raise
                raise translated from err

    def step_error(self, action: Action, err: Exception) -> Exception:
        """The VirtnetError an exception of step ``action`` means (a libvirt
        error, an OSError of a file step), or ``err`` itself for an
        unexpected one (run() then reports it as such)."""
        return err

    def export(self, state: Any) -> Any:
        """Normalized, JSON-able view of a state (used for diff and return)."""
        raise NotImplementedError

    def predict(self, want: Any, have: Any, plan: Plan) -> Any:
        """The state check mode expects after ``plan``; by default ``want``."""
        return want

    def finish(self, after: Any) -> None:
        """Called once after a real (not check mode) run has converged: an
        end-to-end proof a module wants to give (a file served, a guest
        reachable).  Reports through ``self.report``; raises VirtnetError
        when the proof fails."""

    def roll_back(self) -> str | None:
        """Undo what :meth:`apply` changed, newest first, when it or a later
        step (verify, :meth:`finish`) fails; returns what was undone, in
        words, or None when no step of this run is left to undo."""
        return self.undo.run()

    def cleanup(self) -> None:
        """Release connections; always called."""


def _fail(module: Any, err: VirtnetError) -> None:
    details = dict(err.details)
    module.fail_json(msg=err.msg, **details)


def run(module: Any, engine: Any, drive: Any = None) -> None:
    """Drive ``engine`` through want/have/plan/(apply/verify) and exit;
    ``drive()`` instead for an engine that converges in its own steps (it
    returns the result keys).  Either way: errors reported, never a bare
    traceback, and ``engine.cleanup()`` always called."""
    try:
        result = drive() if drive is not None else converge(module, engine)
    except VirtnetError as err:
        _fail(module, err)
    except Exception as err:  # noqa: BLE001 - last resort: never a bare traceback
        extra = {"rolled_back": err.rolled_back} if getattr(err, "rolled_back", None) else {}
        module.fail_json(msg="unexpected error: %s: %s" % (type(err).__name__, err),
                         exception=traceback.format_exc(), **extra)
    finally:
        engine.cleanup()
    module.exit_json(**result)


def converge(module: Any, engine: Engine, *, commit: bool = True) -> dict:
    """want / have / plan / (apply / verify / finish) of one engine; the
    result keys.  On a failure the undo journal runs.  ``commit=False``: a
    caller that converges several engines into one journal keeps this run's
    steps in it (they are undone if a later engine fails) and commits them
    itself."""
    want = engine.want()
    have = engine.have()
    plan = engine.plan(want, have)
    result: dict = {
        "changed": plan.changed,
        "actions": [a.as_dict() for a in plan.actions],
        "restart_required": plan.restart_required,
    }
    final_plan = plan
    if module.check_mode:
        after = engine.predict(want, have, plan)
    else:
        after = have
        try:
            if plan.actions:
                engine.apply(plan)
                # Verify: read the host again and plan again.  Anything left
                # means the apply did not do what the plan promised.
                after = engine.have()
                final_plan = engine.plan(want, after)
                if final_plan.actions:
                    raise VirtnetError(
                        "the host did not converge: after applying, these changes are still needed: "
                        + "; ".join(a.summary for a in final_plan.actions),
                        remaining=[a.as_dict() for a in final_plan.actions],
                        applied=result["actions"],
                    )
            result["restart_required"] = final_plan.restart_required
            engine.finish(after)
            if commit:
                engine.undo.clear()     # converged and proven: this run's changes stay
        except Exception as err:
            undone = engine.roll_back()
            if undone is not None:
                if isinstance(err, VirtnetError):
                    err.details.setdefault("rolled_back", undone)
                else:
                    err.rolled_back = undone  # type: ignore[attr-defined]  # for run()'s last resort
            raise
    if final_plan.pending:
        result["pending"] = list(final_plan.pending)
    exported_after = engine.export(after)
    if getattr(module, "_diff", False):
        result["diff"] = {"before": engine.export(have) or {}, "after": exported_after or {}}
    result[engine.result_key] = exported_after
    result.update(engine.report)
    for warning in plan.warnings:
        module.warn(warning)
    return result


def run_info(module: Any, read: Any) -> None:
    """For ``_info`` modules: ``read()`` returns the dict of result keys."""
    try:
        result = read()
    except VirtnetError as err:
        _fail(module, err)
    except Exception as err:  # noqa: BLE001 - last resort, as in run(): never a bare traceback
        module.fail_json(msg="unexpected error: %s: %s" % (type(err).__name__, err),
                         exception=traceback.format_exc())
    module.exit_json(changed=False, **result)
