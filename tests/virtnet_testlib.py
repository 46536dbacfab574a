"""Helpers the tests share: run a module exactly as Ansible would (a
separate Python process fed a JSON argument file), and the shape checks that
every scenario makes (check, apply, apply again; prediction == result)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, ".build")
# The controller the tests run: the directory of the ansible-playbook (and
# ansible, ansible-galaxy) they call. VIRTNET_ANSIBLE_BIN names another
# ansible-core's venv (tests/stages/integration-cores runs the controller
# tests on the oldest and the newest core this way); pytest itself and the
# modules' Python stay this venv's (libvirt-python, lxml).
ANSIBLE_BIN = os.environ.get("VIRTNET_ANSIBLE_BIN") or os.path.dirname(sys.executable)


@functools.lru_cache(maxsize=None)
def _module_pythonpath() -> str:
    """PYTHONPATH of a module process: the collection, and under
    VIRTNET_ANSIBLE_BIN that core's ``ansible`` package ahead of this venv's,
    so ansible.module_utils (AnsibleModule, argument validation, the result
    JSON) are the core's own, as in the AnsiballZ payload that core's
    controller would send. Only the package is linked in: the rest of that
    venv's site-packages is built for its Python, not this one."""
    if not os.environ.get("VIRTNET_ANSIBLE_BIN"):
        return BUILD
    pkg = subprocess.run([os.path.join(ANSIBLE_BIN, "python"), "-c",
                          "import ansible, os; print(os.path.dirname(ansible.__file__))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    shim = os.path.join(BUILD, "core-module-utils", hashlib.sha256(pkg.encode()).hexdigest()[:12])
    os.makedirs(shim, exist_ok=True)
    link = os.path.join(shim, "ansible")
    if os.path.realpath(link) != os.path.realpath(pkg):
        tmp = "%s.%d" % (link, os.getpid())
        os.symlink(pkg, tmp)
        os.replace(tmp, link)   # atomic: xdist workers may race here
    return shim + os.pathsep + BUILD


def run_module(name: str, args: dict, *, check: bool = False, diff: bool = False, env: dict | None = None,
               timeout: float = 600, argv_prefix: list | None = None) -> dict:
    """Run ``virtnet.networking.<name>`` with ``args``; return its JSON result.

    A failed module returns its result with ``failed: True`` (the caller
    asserts on it); a crash without JSON raises.  ``argv_prefix`` runs the
    module process through a wrapper, e.g. ``sandbox.hv_argv([])`` (nsenter
    into the sandbox hypervisor's namespaces) for modules that act on the
    host they run on (nmcli, sysfs) rather than through a libvirt URI.
    """
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=diff)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(payload, f)
        argfile = f.name
    try:
        proc = subprocess.run(
            list(argv_prefix or [])
            + [sys.executable, "-m", "ansible_collections.virtnet.networking.plugins.modules." + name, argfile],
            cwd=BUILD, env=dict(os.environ, PYTHONPATH=_module_pythonpath(), **(env or {})),
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    finally:
        os.unlink(argfile)
    out = proc.stdout.strip()
    try:
        # The result is the last JSON document on stdout.
        start = out.index("{")
        result = json.loads(out[start:])
    except ValueError:
        raise AssertionError("module %s printed no JSON (rc=%d)\nstdout:\n%s\nstderr:\n%s"
                             % (name, proc.returncode, proc.stdout, proc.stderr))
    result["_stderr"] = proc.stderr
    return result


def converge(name: str, args: dict, **kw) -> tuple:
    """The scenario every module test runs: check mode, apply, apply again.

    Asserts what a user relies on: check mode predicted exactly the actions
    and the final state the real run produced, and a second run changes
    nothing.  Returns (check, apply, again).
    """
    check = run_module(name, args, check=True, diff=True, **kw)
    assert not check.get("failed"), check
    applied = run_module(name, args, diff=True, **kw)
    assert not applied.get("failed"), applied
    assert check["changed"] == applied["changed"], (check, applied)
    assert check["actions"] == applied["actions"], (check["actions"], applied["actions"])
    assert check["diff"]["after"] == applied["diff"]["after"], (check["diff"], applied["diff"])
    again = run_module(name, args, diff=True, **kw)
    assert not again.get("failed"), again
    assert again["changed"] is False, again
    assert again["actions"] == [], again
    return check, applied, again


class Hv:
    """Run the modules on a sandbox hypervisor, inside its namespaces (as a
    module on a real hypervisor runs), with the sandbox's libvirt URI."""

    def __init__(self, sb):
        self.sb = sb
        self.uri = sb.uri
        self.prefix = sb.hv_argv([])

    def args(self, **kw):
        return dict(kw, uri=self.uri)

    def run(self, module, check=False, diff=False, **kw):
        return run_module(module, self.args(**kw), check=check, diff=diff, argv_prefix=self.prefix)

    def converge(self, module, **kw):
        return converge(module, self.args(**kw), argv_prefix=self.prefix)

    def virsh(self, *a):
        return self.sb.virsh(*a, check=False).stdout


class _Captured(Exception):
    pass


RULES = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


def module_spec(module: str) -> tuple:
    """(argument spec, rules) that ``virtnet.networking.<module>`` really
    builds: its main() runs with AnsibleModule replaced by a recorder. The
    rules (mutually_exclusive, required_if, ...) are the keyword arguments
    ArgumentSpecValidator takes, so a test validates a task's options
    exactly as the module would."""
    import importlib

    mod = importlib.import_module("ansible_collections.virtnet.networking.plugins.modules." + module)
    seen: dict = {}

    def record(*args, **kwargs):
        seen.update(kwargs)
        if args:
            seen["argument_spec"] = args[0]
        raise _Captured()

    orig = mod.AnsibleModule
    mod.AnsibleModule = record
    try:
        mod.main()
    except _Captured:
        pass
    finally:
        mod.AnsibleModule = orig
    assert seen.get("argument_spec"), "%s.main() built no AnsibleModule" % module
    spec = seen.pop("argument_spec")
    return spec, {k: v for k, v in seen.items() if k in RULES}
