"""site.yml run the AWX way: `ansible-runner run` over a private data dir laid
out as AWX lays out a job (project checkout, inventory, env/extravars,
env/envvars, env/cmdline, env/ssh_key of the Machine credential), against a
fleet of sandbox hypervisors over real SSH; the per-host results are read
from the job events in artifacts/<ident>/job_events, which is what AWX shows
and stores (docs/awx.md)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetlib as fx  # noqa: E402

pytestmark = pytest.mark.sandbox   # needs root and the sandbox packages, like the sandbox fixtures

NAME = "sa%d" % (os.getpid() % 100000)   # parallel sessions never share a fleet
SITE_TASK = "The virtual networking of the host (hypervisor)"   # site.yml's one task per host
PLAYBOOK = "playbooks/site.yml"    # the job template's playbook, relative to the project


@pytest.fixture(scope="module")
def fleet():
    reason = fx.vnsb.missing_requirements(False)
    if reason:
        pytest.skip(reason)
    if shutil.which("ansible-runner", path=str(fx.BIN)) is None:
        pytest.skip("ansible-runner missing (pip install -r requirements-dev.txt)")
    fl, _ = fx.start(NAME, fx.size())
    try:
        yield fl
    finally:
        if os.environ.get("VIRTNET_SANDBOX_KEEP") != "1":
            fl.down()


def private_data_dir(fl, base: Path, *, check: bool = False) -> Path:
    """What AWX hands ansible-runner for one job of the template."""
    pdd = base / "pdd"
    shutil.rmtree(pdd, ignore_errors=True)
    (pdd / "env").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    # the project: the SCM checkout of this repository
    (pdd / "project").symlink_to(fx.ROOT)
    # the inventory as AWX renders a synced one: groups and every host's
    # variables in one file; the connection key is not in it (Machine credential)
    hosts = {}
    for h in fl.hosts:
        v = fl.connection_vars(h, with_key=False)
        hv = json.loads((fl.inventory_dir / "host_vars" / f"{h}.yml").read_text())
        hosts[h] = {**v, **hv}
    (pdd / "inventory" / "hosts.json").write_text(json.dumps(
        {"all": {"children": {"hypervisors": {"hosts": hosts}}}}, indent=2))
    # the Machine credential: runner loads env/ssh_key into an ssh-agent for the job
    shutil.copyfile(fl.client_key, pdd / "env" / "ssh_key")
    os.chmod(pdd / "env" / "ssh_key", 0o600)
    (pdd / "env" / "extravars").write_text(json.dumps({"virtnet_site_hosts": "hypervisors"}))
    # the collection from the checkout (AWX: collections/requirements.yml of the project)
    (pdd / "env" / "envvars").write_text(json.dumps({
        "ANSIBLE_COLLECTIONS_PATH": str(fx.ROOT / ".build"),
        "ANSIBLE_FORCE_COLOR": "False", "ANSIBLE_HOST_KEY_CHECKING": "True"}))
    (pdd / "env" / "settings").write_text(json.dumps({"job_timeout": 600, "idle_timeout": 300}))
    cmdline = f"--forks {max(5, fl.size)} -u root" + (" --check" if check else "")
    (pdd / "env" / "cmdline").write_text(cmdline)
    return pdd


class Job:
    def __init__(self, pdd: Path, ident: str, cp: subprocess.CompletedProcess, seconds: float) -> None:
        self.dir = pdd / "artifacts" / ident
        self.cp = cp
        self.seconds = seconds
        self.status = (self.dir / "status").read_text().strip()
        self.rc = int((self.dir / "rc").read_text())
        self.events = [json.loads(p.read_text()) for p in sorted(
            (self.dir / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-")[0]))]

    def per_host(self) -> dict:
        """ok/changed/failed per host, counted from the task events (not the recap)."""
        out: dict = {}
        for e in self.events:
            host = e.get("event_data", {}).get("host")
            if not host or e["event"] not in ("runner_on_ok", "runner_on_failed"):
                continue
            c = out.setdefault(host, {"ok": 0, "changed": 0, "failed": 0})
            res = e["event_data"].get("res", {})
            if e["event"] == "runner_on_failed" and not e["event_data"].get("ignore_errors"):
                c["failed"] += 1
            else:
                c["ok"] += 1
                c["changed"] += bool(res.get("changed"))
        return out

    def stats(self) -> dict:
        s = [e for e in self.events if e["event"] == "playbook_on_stats"]
        assert len(s) == 1, [e["event"] for e in self.events][-10:]
        return s[0]["event_data"]

    def changed_items(self, host: str) -> set:
        """(task, object) of what changed on host, as AWX's job events show it:
        per loop item, or per object a hypervisor task's actions name."""
        out = set()
        for e in self.events:
            data = e.get("event_data") or {}
            res = data.get("res") or {}
            if data.get("host") != host or not res.get("changed"):
                continue
            if e["event"] == "runner_item_on_ok":
                out.add((data["task"], res.get("_ansible_item_label")))
            elif e["event"] == "runner_on_ok" and isinstance(res.get("actions"), list):
                out |= {(data["task"], a["name"]) for a in res["actions"] if isinstance(a, dict) and "name" in a}
        return out

    def failure_messages(self, host: str) -> list[str]:
        return [e["event_data"]["res"].get("msg", "") for e in self.events
                if e["event"] in ("runner_on_failed", "runner_item_on_failed")
                and e["event_data"].get("host") == host]

    def __str__(self) -> str:
        return f"status={self.status} rc={self.rc}\n{self.cp.stdout[-3000:]}\n{self.cp.stderr[-2000:]}"


def run_job(pdd: Path, ident: str) -> Job:
    env = dict(os.environ, PATH=f"{fx.BIN}:{os.environ['PATH']}")
    t0 = time.monotonic()
    cp = subprocess.run([str(fx.BIN / "ansible-runner"), "run", str(pdd), "-p", PLAYBOOK, "--ident", ident],
                        env=env, capture_output=True, text=True, timeout=900, check=False)
    return Job(pdd, ident, cp, time.monotonic() - t0)


def test_site_as_an_awx_job_per_host_results_from_the_job_events(fleet, tmp_path):
    hv = fx.all_host_vars(fleet)
    checked = run_job(private_data_dir(fleet, tmp_path, check=True), "check-1")
    assert checked.status == "successful" and checked.rc == 0, str(checked)
    for h in fleet.hosts:
        assert fx.net_rows(fleet, h) == [], h           # a check job changes nothing

    pdd = private_data_dir(fleet, tmp_path)
    job = run_job(pdd, "site-1")
    assert job.status == "successful" and job.rc == 0, str(job)
    per_host = job.per_host()
    stats = job.stats()
    assert sorted(per_host) == sorted(fleet.hosts), per_host
    for h in fleet.hosts:
        assert per_host[h]["failed"] == 0 and per_host[h]["changed"] > 0, (h, per_host[h])
        # the events agree with the recap AWX shows for the job
        assert stats["changed"].get(h) == per_host[h]["changed"], (h, stats)
        assert h not in stats["failures"], stats
        want = {(SITE_TASK, n["name"]) for n in hv[h]["virtnet_networks"]}
        assert want <= job.changed_items(h), (h, job.changed_items(h))
        assert fx.net_rows(fleet, h) == fx.want_rows(hv[h]), h
    print(f"\nAWX-style job on {fleet.size} hosts: check {checked.seconds:.1f}s, converge {job.seconds:.1f}s")

    again = run_job(pdd, "site-2")
    assert again.status == "successful", str(again)
    assert {h: c["changed"] for h, c in again.per_host().items()} == {h: 0 for h in fleet.hosts}
    # artifacts of each job are kept apart, as AWX keeps each job's events
    assert (pdd / "artifacts" / "site-1" / "job_events").is_dir()


def test_a_host_without_libvirtd_fails_the_job_on_that_host_only(fleet, tmp_path):
    victim = fleet.hosts[-1]
    fleet.write_inventory(fx.all_host_vars(fleet, extra=True))
    sb = fleet.sandbox(victim)
    fx.kill_libvirtd(sb)
    try:
        job = run_job(private_data_dir(fleet, tmp_path), "site-down")
    finally:
        sb.restart_libvirtd()
        fleet.write_inventory(fx.all_host_vars(fleet))
    assert job.status == "failed" and job.rc != 0, str(job)
    per_host = job.per_host()
    assert per_host[victim]["failed"] == 1, per_host
    assert all(per_host[h]["failed"] == 0 for h in fleet.hosts if h != victim), per_host
    assert list(job.stats()["failures"]) == [victim]
    msgs = job.failure_messages(victim)
    assert msgs and all("Traceback" not in m for m in msgs), msgs
