#!/usr/bin/env python3
"""virtnet sandbox fleet: N sandbox hypervisors (vnsb.Sandbox), each with its
own sshd inside its namespaces, reached by ansible's ssh connection.

Stdlib only, like vnsb.py. CLI::

    python3 sandbox/fleet.py up --name fl --size 3   # prints the inventory path
    python3 sandbox/fleet.py status --name fl
    python3 sandbox/fleet.py down --name fl           # no trace left
    python3 sandbox/fleet.py relay HOST PORT          # (ProxyCommand; see below)

How a host is reached, without changing the root namespace's network::

    ansible-playbook --ssh--> ProxyCommand: nsenter --net=/run/netns/<host>-hv
                                python3 fleet.py relay 127.0.0.1 22
                              (stdin/stdout <-> a TCP connection made from
                               inside the hypervisor's network namespace)
                          --> sshd -D, started by the fleet in the hypervisor's
                              network + mount + UTS namespaces, 127.0.0.1:22

A session of that sshd lives in the hypervisor's mount namespace, where /run
is the sandbox's own (vnsb.BIND_MOUNTS): the modules' default
``qemu:///system`` reaches that hypervisor's libvirtd, as on a real host, with
no ``uri`` in the inventory. The interpreter is the project's .venv python
(the namespace shares the machine's filesystem; it has libvirt-python, lxml
and netaddr).

Keys: one ed25519 host key per hypervisor (in its state dir, under the /run
it sees), one ed25519 client key per fleet; host keys are pinned in the
fleet's known_hosts (StrictHostKeyChecking=yes, HostKeyAlias=<host>).
Everything of a fleet lives in its hosts' state dirs and the fleet dir
``$VIRTNET_SANDBOX_ROOT/.fleet-<name>/`` (client key, known_hosts,
inventory, ssh control sockets); ``down`` kills sshd (and every process of
the namespaces) by PID through vnsb's down and removes both.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import re
import selectors
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vnsb  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SSHD_DIR = "vnsb-sshd"          # below the state dir's run/, i.e. /run/vnsb-sshd in the hypervisor

SSHD_CONFIG = """\
# virtnet sandbox fleet: this hypervisor's sshd (paths as seen inside its
# mount namespace, where /run is the sandbox's own)
ListenAddress 127.0.0.1:22
HostKey /run/{d}/ssh_host_ed25519_key
PidFile /run/{d}/sshd.pid
AuthorizedKeysFile /run/{d}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
UseDNS no
LogLevel VERBOSE
Subsystem sftp internal-sftp
"""


class FleetError(RuntimeError):
    pass


def _log(msg: str) -> None:
    if os.environ.get("VIRTNET_SANDBOX_QUIET") != "1":
        print(f"fleet: {msg}", file=sys.stderr, flush=True)


class Fleet:
    def __init__(self, name: str = "fl", size: int | None = None, *,
                 python: str | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,20}", name):
            raise FleetError(f"bad fleet name {name!r} (letters and digits, max 21)")
        self.name = name
        self.dir = vnsb.STATE_ROOT / f".fleet-{name}"
        self.meta_path = self.dir / "fleet.json"
        meta = self._read_meta()
        if size is None:
            size = meta.get("size", 0)
        if not 0 <= size <= 64:
            raise FleetError(f"size={size}: between 1 and 64 hypervisors")
        self.size = size
        self.python = python or meta.get("python") or str(ROOT / ".venv" / "bin" / "python")
        self.sandboxes = [vnsb.Sandbox(h) for h in self.hosts]

    @property
    def hosts(self) -> list[str]:
        # "-": fleet fl1's host 1 and fleet fl's host 11 must not share a name
        return [f"{self.name}-{i}" for i in range(1, self.size + 1)]

    def sandbox(self, host: str) -> vnsb.Sandbox:
        return self.sandboxes[self.hosts.index(host)]

    @property
    def client_key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def inventory_dir(self) -> Path:
        return self.dir / "inventory"

    def _read_meta(self) -> dict:
        try:
            return json.loads(self.meta_path.read_text())
        except FileNotFoundError:
            return {}

    # ---- lifecycle -------------------------------------------------------------
    def up(self, *, workers: int = 4) -> dict:
        """Start every hypervisor afresh with its sshd; returns timings (s)."""
        if self.size < 1:
            raise FleetError("size: give the number of hypervisors (--size)")
        t0 = time.monotonic()
        # a previous fleet of that name may have had more hosts: its own record says which
        Fleet(self.name).down(quiet=True)
        self.down(quiet=True)
        self.dir.mkdir(parents=True, mode=0o700)
        self.meta_path.write_text(json.dumps({"name": self.name, "size": self.size,
                                              "python": self.python, "hosts": self.hosts}))
        vnsb.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"virtnet-fleet-{self.name}",
                  "-f", str(self.client_key)])
        pub = (self.client_key.with_suffix(".pub")).read_text()
        timings: dict = {}
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
                futs = {ex.submit(self._up_host, sb, pub): sb.name for sb in self.sandboxes}
                for f in concurrent.futures.as_completed(futs):
                    timings[futs[f]] = f.result()
        except Exception:
            _log("up failed; cleaning the whole fleet")
            self.down(quiet=True)
            raise
        self.known_hosts.write_text("".join(
            f"{sb.name} {(sb.state_dir / 'run' / SSHD_DIR / 'ssh_host_ed25519_key.pub').read_text().split(' ')[0]} "
            f"{(sb.state_dir / 'run' / SSHD_DIR / 'ssh_host_ed25519_key.pub').read_text().split(' ')[1]}\n"
            for sb in self.sandboxes))
        self.write_inventory()
        total = time.monotonic() - t0
        _log(f"{self.name}: {self.size} hypervisors up in {total:.1f}s; inventory {self.inventory_dir}")
        return {"total_s": round(total, 2), "hosts": timings}

    def _up_host(self, sb: vnsb.Sandbox, client_pub: str) -> float:
        t0 = time.monotonic()
        sb.up()
        self.start_sshd(sb, client_pub)
        return round(time.monotonic() - t0, 2)

    def start_sshd(self, sb: vnsb.Sandbox, client_pub: str, timeout: float = 20) -> int:
        """Host key, authorized key and config in the hypervisor's own /run;
        sshd -D in its namespaces, recorded in its instance.json so that
        vnsb's down kills it by PID."""
        d = sb.state_dir / "run" / SSHD_DIR
        d.mkdir(mode=0o700)
        # privilege separation directory, compiled into sshd as /run/sshd
        (sb.state_dir / "run" / "sshd").mkdir(mode=0o755, exist_ok=True)
        vnsb.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{sb.name}-hv",
                  "-f", str(d / "ssh_host_ed25519_key")])
        ak = d / "authorized_keys"
        ak.write_text(client_pub)
        ak.chmod(0o600)
        (d / "sshd_config").write_text(SSHD_CONFIG.format(d=SSHD_DIR))
        cfg = f"/run/{SSHD_DIR}/sshd_config"
        sb.run_hv(["/usr/sbin/sshd", "-t", "-f", cfg], check=True)
        pid = sb._spawn("sshd", sb.hv_argv(["/usr/sbin/sshd", "-D", "-e", "-f", cfg]), "sshd.log")
        deadline = time.monotonic() + timeout
        while not (d / "sshd.pid").exists():   # written once it listens
            if not vnsb._alive(pid) or time.monotonic() > deadline:
                raise FleetError(f"{sb.name}: sshd did not start; see {sb.state_dir}/log/sshd.log:\n"
                                 + (sb.state_dir / "log" / "sshd.log").read_text(errors="replace")[-1500:])
            time.sleep(0.02)
        return pid

    def down(self, quiet: bool = False) -> None:
        """vnsb's down for every host (kills sshd, its sessions and the relays,
        which live in the hypervisor's network namespace, by PID; removes the
        state dir with the host keys), then the fleet dir (client key,
        known_hosts, inventory, ssh control sockets)."""
        t0 = time.monotonic()
        for sb in self.sandboxes:
            sb.down(quiet=True)
        if self.dir.exists():
            # ssh control masters on this side exit once their relay is gone
            # (EOF); give them a moment so their sockets are not torn away.
            cp = self.dir / "cp"
            deadline = time.monotonic() + 5
            while cp.is_dir() and any(cp.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.05)
            shutil.rmtree(self.dir)
        if not quiet:
            _log(f"{self.name} down in {time.monotonic() - t0:.1f}s")

    # ---- inventory ---------------------------------------------------------------
    def proxy_command(self, host: str) -> str:
        return (f"nsenter --net=/run/netns/{host}-hv {sys.executable} -I {HERE / 'fleet.py'} "
                f"relay 127.0.0.1 %p")

    def connection_vars(self, host: str, *, with_key: bool = True) -> dict:
        """What the inventory says about reaching `host` (ansible's ssh
        connection). `with_key=False`: user and key come from elsewhere (an
        AWX Machine credential: ansible-runner's ssh-agent and -u)."""
        v = {
            "ansible_connection": "ssh",
            # The name, not 127.0.0.1: ssh's ControlPath (%C) hashes the host
            # name, and hosts that all are 127.0.0.1 would share one master
            # connection, i.e. run on whichever hypervisor connected first.
            "ansible_host": host,
            "ansible_port": 22,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.client_key),
            "ansible_ssh_common_args": " ".join([
                f"-o 'ProxyCommand={self.proxy_command(host)}'",
                f"-o UserKnownHostsFile={self.known_hosts}",
                "-o StrictHostKeyChecking=yes",
                f"-o HostKeyAlias={host}",
                *(["-o IdentitiesOnly=yes"] if with_key else []),
                "-o ConnectTimeout=20",
            ]),
            "ansible_control_path_dir": str(self.dir / "cp"),
            "ansible_ssh_pipelining": True,
            # in the hypervisor's own /run: nothing left in the machine's /root
            "ansible_remote_tmp": "/run/ansible-tmp",
            "ansible_python_interpreter": self.python,
        }
        if not with_key:
            del v["ansible_user"], v["ansible_ssh_private_key_file"]
        return v

    def write_inventory(self, host_vars: dict[str, dict] | None = None,
                        group: str = "hypervisors") -> Path:
        """hosts.yml (connection variables) + host_vars/<host>.yml (the given
        per-host variables). Rewrites host_vars only for the hosts given."""
        inv = self.inventory_dir
        (inv / "host_vars").mkdir(parents=True, exist_ok=True)
        hosts = {h: self.connection_vars(h) for h in self.hosts}
        (inv / "hosts.yml").write_text(json.dumps(
            {"all": {"children": {group: {"hosts": hosts}}}}, indent=2) + "\n")
        for h, v in (host_vars or {}).items():
            if h not in self.hosts:
                raise FleetError(f"host_vars for {h}: not a host of fleet {self.name}")
            # JSON is YAML: no third-party yaml module needed here
            (inv / "host_vars" / f"{h}.yml").write_text(json.dumps(v, indent=2) + "\n")
        return inv

    def status(self) -> dict:
        return {"name": self.name, "size": self.size, "dir": str(self.dir),
                "inventory": str(self.inventory_dir / "hosts.yml"),
                "hosts": {sb.name: {"running": sb.is_up(),
                                    "sshd": (sb.meta.get("pids", {}).get("sshd") or {}).get("pid")}
                          for sb in self.sandboxes}}


def relay(host: str, port: int) -> int:
    """stdin/stdout <-> TCP (a ProxyCommand): no nc/socat on the machine."""
    try:
        s = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        print(f"fleet relay: cannot connect to {host}:{port} in this namespace: {e}", file=sys.stderr)
        return 255
    s.settimeout(None)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, "in")
    sel.register(s, selectors.EVENT_READ, "sock")
    while True:
        for key, _ in sel.select():
            if key.data == "in":
                data = os.read(0, 65536)
                if not data:
                    sel.unregister(0)
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_WR)
                else:
                    s.sendall(data)
            else:
                data = s.recv(65536)
                if not data:
                    return 0
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fleet.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="start N sandbox hypervisors with sshd; write the inventory")
    p.add_argument("--name", default="fl")
    p.add_argument("--size", type=int, default=3)
    p.add_argument("--python", help="interpreter the modules run with on the hypervisors")
    p = sub.add_parser("down", help="stop the fleet and remove every trace of it")
    p.add_argument("--name", default="fl")
    p.add_argument("--size", type=int, help="when the fleet dir is gone (crash): how many hosts")
    p = sub.add_parser("status", help="JSON status of a fleet")
    p.add_argument("--name", default="fl")
    p = sub.add_parser("relay", help="(ProxyCommand) copy stdin/stdout to HOST:PORT")
    p.add_argument("host")
    p.add_argument("port", type=int)
    a = ap.parse_args(argv)
    if a.cmd == "relay":
        return relay(a.host, a.port)
    if os.geteuid() != 0:
        print("fleet: must run as root", file=sys.stderr)
        return 2
    try:
        if a.cmd == "up":
            f = Fleet(a.name, a.size, python=a.python)
            t = f.up()
            print(json.dumps({"inventory": str(f.inventory_dir), **t}, indent=2))
        elif a.cmd == "down":
            Fleet(a.name, a.size).down()
        elif a.cmd == "status":
            print(json.dumps(Fleet(a.name).status(), indent=2))
    except (FleetError, vnsb.SandboxError) as e:
        print(f"fleet: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
