"""Helpers the roles and playbook tests share: a snapshot of everything a
playbook might touch, and ansible-playbook run the way a fleet job runs it."""
from __future__ import annotations

import os
import subprocess
from virtnet_testlib import ANSIBLE_BIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = ANSIBLE_BIN
INV = os.path.join(ROOT, "playbooks", "inventory", "demo", "hosts.yml")


def ansible_playbook(sb, playbook: str, *extra: str, inventory: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, VIRTNET_SANDBOX_NAME=sb.name, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"),
               ANSIBLE_NOCOLOR="1")
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory or INV, playbook, *extra],
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def host_state(sb) -> dict:
    snap = sb.snapshot()
    snap["nm"] = sb.nmcli("-t", "-f", "NAME,UUID,TYPE,AUTOCONNECT", "connection", "show").stdout
    return snap
