"""The bad-input corpus (bad_inputs.yml) on the real sandbox hypervisor.

Each entry, module or role, must fail with a message that names the option
and shows the offending value, without a traceback, and the host must be
exactly as before: libvirt XML of every network and domain (live and
inactive), links, addresses, routes, nftables, NetworkManager's profiles and
the files of its keyfile directory, udev rules, libvirt's network files and
dnsmasq configs.  Role entries run the way a fleet job runs them: variables
from the inventory, one ansible-playbook run per role with one inventory host
per entry (all pointing at the same sandbox hypervisor)."""
from __future__ import annotations

import json
import os
import subprocess
from collections import Counter

import pytest
import yaml

from virtnet_testlib import ANSIBLE_BIN
from evidence_lib import clean_failure, diff_states, host_state, mod, shows, tree_listing

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
HV_PYTHON = os.path.join(ROOT, "playbooks", "inventory", "demo", "hv-python")
CANARY = "/tmp/evid-canary"

with open(os.path.join(HERE, "bad_inputs.yml"), encoding="utf-8") as _f:
    CORPUS = yaml.safe_load(_f)


def _params(entries: list) -> list:
    return [pytest.param(e, id=e["id"], marks=[pytest.mark.xfail(strict=True, reason=e["xfail"])] if e.get("xfail")
                         else []) for e in entries]


MODULE_ENTRIES = _params([e for e in CORPUS if "module" in e])
ROLE_ENTRIES = _params([e for e in CORPUS if "role" in e])


def test_corpus_is_big_enough_and_ids_are_unique():
    ids = [e["id"] for e in CORPUS]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    per = Counter(e.get("module") or "role " + e["role"] for e in CORPUS)
    assert len(CORPUS) >= 80, per
    for e in CORPUS:
        assert {"id", "option", "value"} <= set(e) and ("args" in e) != ("vars" in e), e


def _state(sb, tftp: str, sysfs: str) -> dict:
    snap = host_state(sb)
    snap["tftp_root"] = tree_listing(tftp)
    snap["fake_sysfs"] = tree_listing(sysfs)
    return snap


def _fill(value, places: dict):
    """Replace the @TFTP / @SYSFS placeholders of an entry's arguments."""
    if isinstance(value, dict):
        return {k: _fill(v, places) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, places) for v in value]
    return places.get(value, value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def places(tftp_root, fake_kernel):
    return {"@TFTP": tftp_root, "@SYSFS": fake_kernel}


@pytest.fixture(scope="module")
def before(base, places):
    """The host before the corpus; every entry must leave exactly this
    (entries run one after another, so "after the previous entry" == "before
    this one" as long as each left the host alone, which is what is checked)."""
    return _state(base, places["@TFTP"], places["@SYSFS"])


@pytest.mark.parametrize("entry", MODULE_ENTRIES)
def test_module_refuses_bad_input_and_host_is_unchanged(base, before, places, entry):
    sb = base
    args = _fill(entry["args"], places)
    for check in (True, False):
        # check mode first: the real run only happens once check mode refused
        res = mod(sb, entry["module"], args, check=check)
        clean_failure(res)
        msg = res["msg"]
        assert entry["option"] in msg, (entry["option"], msg)
        assert shows(entry["value"], msg), (entry["value"], msg)
        if entry.get("reason"):
            assert entry["reason"] in msg, (entry["reason"], msg)
    after = _state(sb, places["@TFTP"], places["@SYSFS"])
    assert after == before, diff_states(before, after)
    assert sb.run_hv(["test", "-e", CANARY]).returncode != 0, "an injected command ran"


def _run_role_batch(sb, tmp: str, role: str, entries: list) -> dict:
    hosts = {}
    for e in entries:
        hosts[e["id"]] = dict(e["vars"], ansible_connection="local", ansible_python_interpreter=HV_PYTHON)
    inv = os.path.join(tmp, "%s-inventory.yml" % role)
    with open(inv, "w", encoding="utf-8") as f:
        yaml.safe_dump({"all": {"hosts": hosts}}, f)
    play = os.path.join(tmp, "%s.yml" % role)
    with open(play, "w", encoding="utf-8") as f:
        yaml.safe_dump([{"hosts": "all", "gather_facts": False,
                         "roles": [{"role": "virtnet.networking.%s" % role}]}], f)
    env = dict(os.environ, VIRTNET_SANDBOX_NAME=sb.name, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_FORKS="8",
               ANSIBLE_HOST_KEY_CHECKING="0")
    cp = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-playbook"), "-i", inv, play],
                        env=env, capture_output=True, text=True, timeout=300, check=False)
    out = json.loads(cp.stdout[cp.stdout.index("{"):])
    results = {}
    for task in out["plays"][0]["tasks"]:
        for host, res in task["hosts"].items():
            if res.get("failed") and host not in results:
                results[host] = dict(res, _task=task["task"]["name"])
    return {"results": results, "stats": out["stats"], "stderr": cp.stderr}


@pytest.fixture(scope="module")
def role_runs(base, before, places, tmp_path_factory):
    sb = base
    tmp = str(tmp_path_factory.mktemp("roles"))
    runs = {}
    entries = [e for e in CORPUS if "role" in e]
    for role in sorted({e["role"] for e in entries}):
        batch = _run_role_batch(sb, tmp, role, [e for e in entries if e["role"] == role])
        batch["diff"] = diff_states(before, _state(sb, places["@TFTP"], places["@SYSFS"]))
        runs[role] = batch
    return runs


@pytest.mark.parametrize("entry", ROLE_ENTRIES)
def test_role_refuses_bad_variables_and_host_is_unchanged(role_runs, entry):
    run = role_runs[entry["role"]]
    assert run["diff"] == [], "the %s run changed the host: %s" % (entry["role"], run["diff"])
    res = run["results"].get(entry["id"])
    assert res is not None, ("the role did not fail for", entry, run["stats"].get(entry["id"]))
    assert run["stats"][entry["id"]]["changed"] == 0, run["stats"][entry["id"]]
    msg = res.get("msg") or ""
    # (ansible-core puts "exception: (traceback unavailable)" into every failed result)
    assert "Traceback (most recent call last)" not in json.dumps(res), res
    assert entry["option"] in msg, (entry["option"], res["_task"], msg)
    assert shows(entry["value"], msg), (entry["value"], res["_task"], msg)
