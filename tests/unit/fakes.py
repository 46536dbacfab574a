"""The one set of fakes the unit tests share.

``FakeModule`` stands in for AnsibleModule the way the engines use it: its
parameters go through ansible's own ArgumentSpecValidator (when given the
module's argument spec), so defaults, types and choices apply exactly as they
do in a real run; ``exit_json`` / ``fail_json`` record the result and exit
(raise), as AnsibleModule does.  ``FakeLibvirt`` stands in for
``libvirt.conn.Libvirt``: domains and networks by name, ``call`` as the real
one (an error of the listed kinds becomes a VirtnetError), and the defines
recorded.
"""

from __future__ import annotations

import os
import subprocess
from types import SimpleNamespace
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.virtnet.networking.plugins.module_utils import engine as _engine
from ansible_collections.virtnet.networking.plugins.module_utils.errors import VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.thirdparty import etree


class ModuleExit(SystemExit):
    """What exit_json / fail_json raise: a SystemExit (as AnsibleModule's
    sys.exit) carrying the result."""

    failed = False

    def __init__(self, result: dict) -> None:
        super().__init__(1 if self.failed else 0)
        self.result = result


class Exited(ModuleExit):
    failed = False


class Failed(ModuleExit):
    failed = True


class FakeModule:
    def __init__(self, params: dict | None = None, *, argument_spec: dict | None = None, check_mode: bool = False,
                 diff: bool = True, bindir: str | None = None) -> None:
        params = dict(params or {})
        if argument_spec is not None:
            checked = ArgumentSpecValidator(argument_spec).validate(params)
            assert not checked.error_messages, checked.error_messages
            params = checked.validated_parameters
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.bindir = bindir
        self.result: dict | None = None
        self.warnings: list = []

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)

    def exit_json(self, **kw: Any) -> None:
        self.result = kw
        raise Exited(kw)

    def fail_json(self, **kw: Any) -> None:
        self.result = dict(kw, failed=True)
        raise Failed(self.result)

    def get_bin_path(self, name: str, required: bool = False) -> str | None:
        """Tools are found only in ``bindir`` (a test's fake tools), never on the machine."""
        path = os.path.join(self.bindir, name) if self.bindir else None
        return path if path and os.path.exists(path) else None

    def run_command(self, argv: list, environ_update: dict | None = None, data: Any = None,
                    check_rc: bool = False) -> tuple:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                              env=dict(os.environ, **(environ_update or {})))
        return proc.returncode, proc.stdout, proc.stderr


def run(module: FakeModule, engine: Any) -> dict:
    """engine.run(), as a module's main() calls it; the result of a success
    (a failure raises :class:`Failed`)."""
    try:
        _engine.run(module, engine)
    except Exited as done:
        return done.result
    raise AssertionError("run() returned without exit_json/fail_json")


class FakeClock:
    """An injectable clock: ``sleep`` moves time on instead of waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeLibvirt:
    is_local = False            # as a remote URI: nothing is read from this machine
    def __init__(self, *, domains: Any = (), networks: dict | None = None, call_errors: tuple = ()) -> None:
        self.doms = {d.name(): d for d in domains}
        self.nets = dict(networks or {})
        self.call_errors = call_errors
        self.defined: list = []
        self.closed = False
        self.conn = SimpleNamespace(defineXML=self._define_domain, networkDefineXML=self._define_network)

    # lookups, as Libvirt has them
    def domain(self, name: str) -> Any:
        return self.doms.get(name)

    def domains(self) -> list:
        return list(self.doms.values())

    def network(self, name: str) -> Any:
        return self.nets.get(name)

    def networks(self) -> list:
        return list(self.nets.values())

    def call(self, what: str, fn: Any, *args: Any, xml: str | None = None) -> Any:
        try:
            return fn(*args)
        except self.call_errors as err:
            raise VirtnetError("libvirt: %s failed: %s" % (what, err), xml=xml) from err

    def close(self) -> None:
        self.closed = True

    def snapshot(self) -> dict:
        """Every domain's (config, live) XML: to prove a run left them alone."""
        return {n: (d.XMLDesc(2), d.XMLDesc(0)) for n, d in self.doms.items()}

    def _define_domain(self, xml: str) -> None:
        self.defined.append(xml)
        self.doms[etree.fromstring(xml.encode()).findtext("name")].config = xml

    def _define_network(self, xml: str) -> None:
        self.defined.append(xml)
        self.nets[etree.fromstring(xml.encode()).findtext("name")].config = xml
