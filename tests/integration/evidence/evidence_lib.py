"""Helpers of the evidence suite: run a module inside the sandbox hypervisor,
take a snapshot of everything a module or role could change on it, and check
that a failure is a clean one (a message, no traceback)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat

from virtnet_testlib import run_module

# VIRTNET_EVIDENCE_SANDBOX: another instance name, so runs in parallel (other
# worktrees) never restart each other's sandbox
SANDBOX = os.environ.get("VIRTNET_EVIDENCE_SANDBOX", "evidnm")
LIBVIRT_MODULES = ("virt_network", "virt_network_info", "virt_iface", "virt_iface_info", "pxe_network",
                   "pxe_network_info", "sriov_vf", "sriov_vf_info", "hypervisor")
# The state every evidence test starts from (converged by conftest.base).
BASE_NET = {
    "name": "ev-base", "forward": {"mode": "nat"}, "bridge": {"name": "evbase0", "stp": False},
    "ips": [{"address": "203.0.113.129/27",
             "dhcp": {"ranges": [{"start": "203.0.113.140", "end": "203.0.113.150"}],
                      "hosts": [{"mac": "52:54:00:ee:00:01", "ip": "203.0.113.133", "name": "base1"}]}}],
    "dns": {"txt": [{"name": "info", "value": "evidence base"}]},
    "dnsmasq_options": ["no-ping"],
}
BASE_BRIDGE = {"name": "evbr0", "ports": ["lan2"], "ipv4": {"addresses": ["198.51.100.41/24"]},
               "verify_target": "198.51.100.1"}

# Files our modules or the daemons they drive write, per directory as the
# hypervisor sees it (the sandbox binds its own copies over these paths).
WATCHED_DIRS = ("/etc/NetworkManager/system-connections", "/etc/udev/rules.d", "/etc/libvirt/qemu/networks",
                "/etc/libvirt/qemu", "/var/lib/libvirt/dnsmasq", "/var/lib/tftpboot")
BASE_VM = "ev-vm"
BASE_VM_MAC = "52:54:00:ee:00:10"


def mod(sb, name: str, args: dict, **kw) -> dict:
    """Run module ``name`` on the sandbox hypervisor (as Ansible would run it
    there); libvirt modules get the sandbox's URI unless ``args`` has one."""
    args = dict(args)
    if name in LIBVIRT_MODULES:
        args.setdefault("uri", sb.uri)
    return run_module(name, args, argv_prefix=sb.hv_argv([]), **kw)


_LISTING = """
import hashlib, json, os, stat, sys
out = {}
for p in sys.argv[1:]:
    out[p] = {}
    for n in sorted(os.listdir(p)) if os.path.isdir(p) else []:
        f = os.path.join(p, n)
        st = os.lstat(f)
        h = None
        if stat.S_ISREG(st.st_mode):
            # NetworkManager stamps a keyfile it rewrites (timestamp=): when,
            # not what; every other line counts.
            data = b"".join(l for l in open(f, "rb").readlines() if not l.startswith(b"timestamp="))
            h = hashlib.sha256(data).hexdigest()
        out[p][n] = [oct(stat.S_IMODE(st.st_mode)), h]
print(json.dumps(out))
"""


def dir_listings(sb, paths) -> dict:
    """{dir: {file: [mode, sha256]}} as the hypervisor's mount namespace sees them."""
    cp = sb.run_hv(["python3", "-c", _LISTING, *paths])
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def nm_rows(sb) -> str:
    if not sb.meta.get("with_nm"):
        return ""
    return sb.nmcli("-t", "-f", "NAME,UUID,TYPE,DEVICE,AUTOCONNECT", "connection", "show").stdout


def host_state(sb, extra_dirs: tuple = ()) -> dict:
    """sandbox.snapshot() (libvirt XML of networks and domains, links,
    addresses, routes, nftables), NetworkManager's profiles and the files of
    the watched directories (keyfiles, udev rules, libvirt's network
    definitions and dnsmasq configs, plus ``extra_dirs`` such as a TFTP root)."""
    snap = sb.snapshot()
    snap["hv_nft"] = re.sub(r"counter packets \d+ bytes \d+", "counter", snap["hv_nft"])
    snap["nm"] = nm_rows(sb)
    snap["files"] = dir_listings(sb, WATCHED_DIRS + tuple(extra_dirs))
    return snap


def tree_listing(root: str) -> dict:
    """{relative path: (mode, sha256 or link target)} of a whole tree (the fake
    sysfs/proc/udev root of the SR-IOV entries, the TFTP root)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in sorted(dirnames + filenames):
            f = os.path.join(dirpath, n)
            st = os.lstat(f)
            if stat.S_ISLNK(st.st_mode):
                what = "-> " + os.readlink(f)
            elif stat.S_ISREG(st.st_mode):
                with open(f, "rb") as fh:
                    what = hashlib.sha256(fh.read()).hexdigest()
            else:
                what = "dir"
            out[os.path.relpath(f, root)] = (oct(stat.S_IMODE(st.st_mode)), what)
    return out


def diff_states(before: dict, after: dict) -> list:
    """Names of the parts that differ (for assertion messages)."""
    out = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            if isinstance(before.get(key), dict) and isinstance(after.get(key), dict):
                out += ["%s.%s" % (key, k) for k in sorted(set(before[key]) | set(after[key]))
                        if before[key].get(k) != after[key].get(k)]
            else:
                out.append(key)
    return out


def shows(value, msg: str) -> bool:
    """``value`` appears in ``msg`` as given, or as Python or JSON quote it."""
    if value is None:
        return "None" in msg or "null" in msg
    text = value if isinstance(value, str) else str(value)
    forms = {text, repr(text)[1:-1], json.dumps(text)[1:-1]}
    return any(f in msg for f in forms)


def clean_failure(res: dict) -> None:
    """A failed run that a user can read: a message, no Python traceback,
    not the engine's last-resort 'unexpected error'."""
    assert res.get("failed"), res
    msg = res.get("msg") or ""
    assert msg, res
    assert "Traceback" not in msg and "Traceback" not in res.get("_stderr", ""), res
    assert not msg.startswith("unexpected error"), msg
    assert "exception" not in res, res.get("exception")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_mode(sb, path: str) -> int:
    cp = sb.run_hv(["stat", "-c", "%a", path])
    assert cp.returncode == 0, cp.stderr
    return int(cp.stdout.strip(), 8)
