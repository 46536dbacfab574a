#!/usr/bin/env python3
"""virtnet sandbox hypervisor: libvirtd + dnsmasq + qemu (+ NetworkManager)
inside two private network namespaces, so integration tests drive a real
hypervisor without touching the machine's own network.

Stdlib only. Both a CLI (``python3 sandbox/vnsb.py up|down|status|env|exec|
guest-image``) and a library (``import vnsb; vnsb.Sandbox(...)``).

Topology (one instance, default name ``vn``)::

    root ns (untouched)        <name>-hv (hypervisor)          <name>-out (LAN + world)
    virsh -c $VIRTNET_URI ---> libvirtd [private mount ns]
                               lan0 198.51.100.2/24 ---------- lp0 \
                               lan1 (no address) ------------- lp1  > lanbr 198.51.100.1/24
                               lan2 (no address) ------------- lp2 /   2001:db8:100::1/64
                               default via 198.51.100.1            dnsmasq DHCP .100-.150
                                                                   lo 203.0.113.10/32 (httpd)
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

STATE_ROOT = Path(os.environ.get("VIRTNET_SANDBOX_ROOT", "/var/tmp/virtnet-sandbox"))
CACHE_ROOT = Path(os.environ.get("VIRTNET_SANDBOX_CACHE", "/var/cache/virtnet-sandbox"))

LAN_HV = "198.51.100.2"
LAN_GW = "198.51.100.1"
LAN_PREFIX = 24
LAN_HV6 = "2001:db8:100::2"
LAN_GW6 = "2001:db8:100::1"
WORLD = "203.0.113.10"
LAN_DHCP = ("198.51.100.100", "198.51.100.150")
GUEST_MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
                 "virtio_pci", "failover", "net_failover", "virtio_net")

# Paths of the machine that libvirtd / dbus / NetworkManager write to, and the
# state-dir subdirectory bound over each inside the hypervisor's mount ns.
# /run as a whole (not only /run/libvirt) so nothing has to be created in the
# machine's own /run: /run/libvirt, /run/dbus, /run/NetworkManager all land in
# the state dir.
BIND_MOUNTS = (
    ("etc/libvirt", "/etc/libvirt"),
    ("lib/libvirt", "/var/lib/libvirt"),
    ("log/libvirt", "/var/log/libvirt"),
    ("cache/libvirt", "/var/cache/libvirt"),
    ("etc/NetworkManager", "/etc/NetworkManager"),
    ("lib/NetworkManager", "/var/lib/NetworkManager"),
    ("run", "/run"),
    # The hv's own hostname must resolve locally: libvirt looks it up on every
    # guest start, and a DNS query from the hv (no resolver reachable) took
    # 10 s. No nameserver outside the sandbox is reachable from it anyway.
    ("etc/hosts", "/etc/hosts"),
    ("etc/resolv.conf", "/etc/resolv.conf"),
)

_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C", "HOME": "/root"}


class SandboxError(RuntimeError):
    pass


# Hypervisor shapes (issue 16). ``classic``: Debian's monolithic libvirtd with
# the iptables firewall backend and no host firewall (the default). ``rhel10``:
# modular daemons, libvirt writing nftables rules itself
# (``firewall_backend = "nftables"`` in network.conf). ``rhel9``: modular
# daemons, iptables backend, firewalld running (libvirt puts its bridges into
# firewalld's ``libvirt`` zone). Debian builds no modular daemon binaries, so
# the modular shape runs one libvirtd per driver (only that driver loaded, on
# the modular socket names) behind sandbox/modular_front.py: see its header
# for what is real libvirt code and what stands in for virtqemud's forwarding.
SHAPES = {
    "classic": {"modular": False, "firewall_backend": None, "firewalld": False},
    "rhel10": {"modular": True, "firewall_backend": "nftables", "firewalld": False},
    "rhel9": {"modular": True, "firewall_backend": "iptables", "firewalld": True},
}
# daemon name -> the one driver it loads, in start order
MODULAR_DAEMONS = (("virtnetworkd", "network"), ("virtnodedevd", "nodedev"), ("virtqemud", "qemu"))


def default_shape() -> str:
    shape = os.environ.get("VIRTNET_SANDBOX_SHAPE") or "classic"
    if shape not in SHAPES:
        raise SandboxError(f"VIRTNET_SANDBOX_SHAPE={shape}: not one of {', '.join(SHAPES)}")
    return shape


# libvirtd tells its drivers it is the monolithic daemon (virStateInitialize's
# `monolithic` argument); the remote driver then refuses to open, from inside
# the daemon, a URI of a driver the daemon lacks, so a qemu-only libvirtd could
# not reach the network daemon (network:///system). The modular daemons pass
# false. This preload passes false too: nothing else changes.
NOT_MONOLITHIC_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
typedef int (*state_init_fn)(bool, bool, const char *, bool, void *, void *);
int virStateInitialize(bool privileged, bool mandatory, const char *root, bool monolithic,
                       void *callback, void *opaque)
{
    state_init_fn real = (state_init_fn)dlsym(RTLD_NEXT, "virStateInitialize");
    (void)monolithic;
    return real(privileged, mandatory, root, false, callback, opaque);
}
"""


def not_monolithic_preload() -> Path:
    """The preload above, compiled once into the sandbox cache."""
    key = hashlib.sha256(NOT_MONOLITHIC_C.encode()).hexdigest()[:12]
    so = CACHE_ROOT / "modular" / f"not-monolithic-{key}.so"
    if so.exists():
        return so
    if shutil.which("gcc") is None:
        raise SandboxError("the modular shapes need gcc once, to build a 12-line LD_PRELOAD "
                           "(apt-get install gcc)")
    so.parent.mkdir(parents=True, exist_ok=True)
    src = so.with_suffix(f".{os.getpid()}.c")
    src.write_text(NOT_MONOLITHIC_C)
    tmp = so.with_suffix(f".{os.getpid()}.tmp")
    try:
        run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(tmp), str(src), "-ldl"])
        tmp.rename(so)
    finally:
        src.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return so


def _driver_dir() -> Path:
    for d in sorted(Path("/usr/lib").glob("*/libvirt/connection-driver")):
        return d
    return Path("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver")


def _log(msg: str) -> None:
    if os.environ.get("VIRTNET_SANDBOX_QUIET") != "1":
        print(f"vnsb: {msg}", file=sys.stderr, flush=True)


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 60,
        input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run an argv list (never a shell string) with LC_ALL=C; text output."""
    e = dict(_ENV)
    if env:
        e.update(env)
    cp = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                        input=input, env=e, stdin=None if input is not None else subprocess.DEVNULL)
    if check and cp.returncode != 0:
        raise SandboxError(f"command failed (rc={cp.returncode}): {' '.join(argv)}\n"
                           f"{cp.stdout}{cp.stderr}")
    return cp


def _proc_start(pid: int) -> int | None:
    """Start time of a process (field 22 of /proc/PID/stat), to guard against PID reuse."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(data.rsplit(")", 1)[1].split()[19])


def _alive(pid: int, start: int | None = None) -> bool:
    st = _proc_start(pid)
    if st is None:
        return False
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except OSError:
        return False
    return start is None or st == start


def _netns_pids(ns: str) -> list[int]:
    if not Path("/run/netns", ns).exists():
        return []
    cp = run(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in cp.stdout.split()]


def _kill_pids(pids: Iterable[int], grace: float = 3.0, gentle: bool = False) -> None:
    """SIGKILL by default: everything an instance owns dies with its namespaces
    and state dir, so a graceful shutdown buys nothing but seconds. Returns when
    the processes are gone from /proc (not merely zombies)."""
    pids = [p for p in set(pids) if p > 1 and p != os.getpid()]
    for sig in ((signal.SIGTERM, signal.SIGKILL) if gentle else (signal.SIGKILL,)):
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, sig)
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 10)
        while time.monotonic() < deadline:
            for p in pids:
                # Daemons started by this very process (e.g. a pytest session)
                # are our children: reap them, nobody else will until we exit.
                # Orphans are reaped by PID 1 (here within ~1 s).
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(p, os.WNOHANG)
            pids = [p for p in pids if _proc_start(p) is not None]
            if not pids:
                return
            time.sleep(0.02)


def missing_requirements(with_nm: bool = False, shape: str = "classic") -> str | None:
    """Why the sandbox cannot run on this machine (for a test skip), or None."""
    if os.geteuid() != 0:
        return "the sandbox needs root (network namespaces, libvirtd)"
    need = ["libvirtd", "virsh", "qemu-system-x86_64", "dnsmasq", "busybox", "nsenter",
            "unshare", "ip", "nft"]
    if with_nm:
        need += ["NetworkManager", "nmcli", "dbus-daemon"]
    if SHAPES.get(shape, {}).get("firewalld"):
        need += ["firewalld", "firewall-cmd", "dbus-daemon"]
    missing = [b for b in need if shutil.which(b, path=_ENV["PATH"]) is None]
    drivers = Path("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver")
    if drivers.is_dir() and not (drivers / "libvirt_driver_network.so").exists():
        missing.append("libvirt-daemon-driver-network")
    try:
        _cloud_kernel()
    except SandboxError:
        missing.append("the guest kernel (linux-image-cloud-amd64, unpacked)")
    if missing:
        return "sandbox packages missing: %s (run sandbox/install-packages.sh)" % ", ".join(missing)
    return None


# --------------------------------------------------------------------------
# Guest image: Debian cloud kernel + busybox-static initramfs
# --------------------------------------------------------------------------

GUEST_INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /www /etc /sbin /usr/bin /usr/sbin /var/run /root
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
HOST=guest
for w in $(cat /proc/cmdline); do
  case "$w" in vnsb.hostname=*) HOST=${w#vnsb.hostname=} ;; esac
done
hostname "$HOST"
echo "$HOST" > /etc/hostname
log() { echo "VNSB $*" > /dev/ttyS0; }
for m in VNSB_MODULES; do
  insmod /lib/modules/$m.ko || log "INSMOD-FAILED $m"
done
ip link set lo up
cat > /bin/vnsb-page <<'PAGE'
#!/bin/sh
# the web page: hostname, MACs, global addresses (rewritten on NIC/lease changes)
{
  echo "<html><body><pre>"
  echo "VNSB-HOST $(hostname)"
  for p in /sys/class/net/*; do
    [ "${p##*/}" = lo ] || echo "VNSB-MAC ${p##*/} $(cat $p/address)"
  done
  ip -o addr show scope global | awk '{print "VNSB-ADDR", $2, $4}'
  echo "</pre></body></html>"
} > /www/index.html.new && mv /www/index.html.new /www/index.html
PAGE
chmod +x /bin/vnsb-page
cat > /etc/udhcpc.sh <<'EOF'
#!/bin/sh
log() { echo "VNSB $*" > /dev/ttyS0; }
mac=$(cat /sys/class/net/$interface/address)
metric=$((100 + $(cat /sys/class/net/$interface/ifindex)))
case "$1" in
  deconfig)
    ip -4 addr flush dev $interface
    ip link set $interface up ;;
  bound|renew)
    if ! ip -4 -o addr show dev $interface | grep -q " $ip/"; then
      ip -4 addr flush dev $interface
      ip addr add $ip/${mask:-24} dev $interface
    fi
    for r in $router; do ip route replace default via $r dev $interface metric $metric; break; done
    if [ -n "$dns" ]; then for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf; fi
    log "LEASE $interface $mac $ip"
    /bin/vnsb-page ;;
  leasefail|nak) log "LEASEFAIL $interface $mac" ;;
esac
EOF
chmod +x /etc/udhcpc.sh
/bin/vnsb-page
httpd -p 80 -h /www
# Command channel: a root shell on the second serial port (a unix socket on
# the host). No echo, no CR so the host side sees exactly the output.
( while :; do
    setsid sh -c 'stty -echo -onlcr 2>/dev/null; exec sh' </dev/ttyS1 >/dev/ttyS1 2>&1
    sleep 1
  done ) &
log "BOOTED $HOST"
known=" "
boot=1
while :; do
  changed=0
  for p in /sys/class/net/*; do
    i=${p##*/}
    [ "$i" = lo ] && continue
    case "$known" in
      *" $i "*) ;;
      *)
        known="$known$i "
        changed=1
        if [ $boot = 1 ]; then log "NIC $i $(cat $p/address)"; else log "NIC-ADDED $i $(cat $p/address)"; fi
        ip link set $i up
        udhcpc -f -i $i -s /etc/udhcpc.sh -x hostname:$HOST -T 1 -t 3 -A 1 >/dev/null 2>&1 &
        echo $! > /run/udhcpc.$i
        eval "st_$i=new" ;;
    esac
    if [ "$(cat $p/carrier 2>/dev/null)" = 1 ]; then s=up; else s=down; fi
    eval "old=\$st_$i"
    if [ "$s" != "$old" ]; then
      log "LINK $i $s"
      eval "st_$i=$s"
      [ "$s" = up ] && [ "$old" = down ] && kill -USR1 $(cat /run/udhcpc.$i) 2>/dev/null
    fi
  done
  for i in $known; do
    if [ ! -e /sys/class/net/$i ]; then
      log "NIC-REMOVED $i"
      kill $(cat /run/udhcpc.$i) 2>/dev/null
      known=$(echo "$known" | sed "s/ $i / /")
      changed=1
    fi
  done
  boot=0
  [ $changed = 1 ] && /bin/vnsb-page
  usleep 300000
done
"""


# The guest kernel is unpacked from Debian's package into the sandbox cache by
# sandbox/install-packages.sh (apt-get download + dpkg-deb -x), never installed:
# installing it would add a boot entry on the machine (issue: the demo must not
# change how the machine boots). A kernel installed by the machine's owner in
# /boot is used only when the unpacked one is missing.
GUEST_KERNEL_ROOT = Path(os.environ.get("VIRTNET_GUEST_KERNEL_ROOT", str(CACHE_ROOT / "kernel" / "root")))


def _cloud_kernel() -> tuple[str, Path, Path]:
    """(version, vmlinuz, modules dir) of the newest Debian cloud kernel."""
    for root in (GUEST_KERNEL_ROOT, Path("/")):
        cands = sorted((root / "boot").glob("vmlinuz-*cloud-amd64"))
        for vmlinuz in reversed(cands):
            ver = vmlinuz.name[len("vmlinuz-"):]
            for mods in (root / "lib/modules" / ver, root / "usr/lib/modules" / ver):
                if mods.is_dir():
                    return ver, vmlinuz, mods
    raise SandboxError("no Debian cloud kernel unpacked in %s (run sandbox/install-packages.sh, "
                       "which unpacks linux-image-cloud-amd64 there without installing it)"
                       % GUEST_KERNEL_ROOT)


def _find_module(mods: Path, name: str) -> bytes:
    for suffix, opener in ((".ko", None), (".ko.xz", "xz"), (".ko.zst", "zstd"), (".ko.gz", "gz")):
        hits = list(mods.rglob(name + suffix))
        if not hits:
            continue
        raw = hits[0].read_bytes()
        if opener is None:
            return raw
        if opener == "xz":
            import lzma
            return lzma.decompress(raw)
        if opener == "gz":
            return gzip.decompress(raw)
        return run_bytes(["zstd", "-dc", str(hits[0])])
    raise SandboxError(f"kernel module {name} not found under {mods}")


def run_bytes(argv: Sequence[str]) -> bytes:
    return subprocess.run(list(argv), check=True, capture_output=True).stdout


class _Cpio:
    """Minimal writer for the newc cpio format the kernel unpacks as initramfs
    (lets us add /dev/console without mknod privileges or a cpio binary)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        nameb = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data), 0, 0,
                  rdev[0], rdev[1], len(nameb), 0]
        self.ino += 1
        self.buf += b"070701" + b"".join(b"%08X" % f for f in fields) + nameb
        self.buf += b"\0" * (-len(self.buf) % 4)
        self.buf += data
        self.buf += b"\0" * (-len(self.buf) % 4)

    def dir(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def chardev(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return bytes(self.buf)


@dataclass
class GuestImage:
    kernel: Path
    initrd: Path
    kernel_version: str


def guest_image(*, rebuild: bool = False) -> GuestImage:
    """Build (once, cached) the test guest's kernel + busybox initramfs."""
    ver, vmlinuz, mods = _cloud_kernel()
    busybox = Path("/bin/busybox")
    init = GUEST_INIT.replace("VNSB_MODULES", " ".join(GUEST_MODULES))
    key = hashlib.sha256()
    key.update(init.encode())
    key.update(ver.encode())
    st = busybox.stat()
    key.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    key.update(f"{vmlinuz.stat().st_mtime_ns}".encode())
    dest = CACHE_ROOT / "guest" / f"{ver}-{key.hexdigest()[:12]}"
    img = GuestImage(dest / "vmlinuz", dest / "initrd.gz", ver)
    if img.initrd.exists() and img.kernel.exists() and not rebuild:
        _point_current(dest)
        return img
    t0 = time.monotonic()
    cp = _Cpio()
    for d in ("bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp", "run", "www",
              "sbin", "usr", "usr/bin", "usr/sbin", "var", "var/run", "root"):
        cp.dir(d)
    cp.chardev("dev/console", 5, 1)
    cp.file("bin/busybox", busybox.read_bytes(), 0o755)
    cp.file("init", init.encode(), 0o755)
    for m in GUEST_MODULES:
        cp.file(f"lib/modules/{m}.ko", _find_module(mods, m))
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "initrd.gz").write_bytes(gzip.compress(cp.finish(), compresslevel=6))
    shutil.copyfile(vmlinuz, tmp / "vmlinuz")
    try:
        if rebuild:
            shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    except OSError:  # a concurrent build won the race; its result is identical
        shutil.rmtree(tmp, ignore_errors=True)
    _log(f"guest image built in {time.monotonic() - t0:.1f}s: {dest}")
    _point_current(dest)
    return img


def _point_current(dest: Path) -> None:
    """CACHE_ROOT/guest/current -> the image in use: a fixed path for
    inventories that serve the test kernel (the demo's PXE boot files)."""
    link = dest.parent / "current"
    if link.is_symlink() and os.readlink(link) == dest.name:
        return
    tmp = dest.parent / f"current.tmp{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(dest.name)
    tmp.replace(link)


# --------------------------------------------------------------------------
# Guests
# --------------------------------------------------------------------------

def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k.rstrip("_"): str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def interface_element(nic: dict) -> ET.Element:
    """One <interface> from a small dict:
    type: network|bridge|direct|user (default network); source: network name,
    bridge name or host device; mac; model (virtio); mode (direct: bridge|vepa|
    private|passthrough); link: up|down; backend: passt (type user);
    portgroup; target (tap name); boot_order (network boot first: 1)."""
    typ = nic.get("type", "network")
    el = ET.Element("interface", {"type": typ})
    src = nic.get("source")
    if typ == "network":
        attrs = {"network": src}
        if nic.get("portgroup"):
            attrs["portgroup"] = nic["portgroup"]
        _sub(el, "source", **attrs)
    elif typ == "bridge":
        _sub(el, "source", bridge=src)
    elif typ == "direct":
        _sub(el, "source", dev=src, mode=nic.get("mode", "bridge"))
    elif typ == "user":
        if nic.get("backend", "passt"):
            _sub(el, "backend", type=nic.get("backend", "passt"))
    if nic.get("mac"):
        _sub(el, "mac", address=nic["mac"].lower())
    if nic.get("target"):
        _sub(el, "target", dev=nic["target"])
    _sub(el, "model", type=nic.get("model", "virtio"))
    if nic.get("link"):
        _sub(el, "link", state=nic["link"])
    if nic.get("boot_order"):
        _sub(el, "boot", order=str(nic["boot_order"]))
    return el


def guest_cmdline(name: str, extra: str = "") -> str:
    """The test kernel's command line (a network-booted guest's boot script
    passes the same, so it reports on its console like any test guest)."""
    return f"console=ttyS0 quiet panic=-1 vnsb.hostname={name} {extra}".strip()


def ipxe_script(name: str) -> str:
    """An iPXE script that boots the test kernel + initramfs from the TFTP
    server that handed it out (files named vmlinuz and initrd.gz)."""
    return ("#!ipxe\n"
            f"kernel tftp://${{next-server}}/vmlinuz {guest_cmdline(name)}\n"
            "initrd tftp://${next-server}/initrd.gz\n"
            "boot\n")


def random_mac(seed: str | None = None) -> str:
    b = hashlib.sha256((seed or uuid.uuid4().hex).encode()).digest()
    return "52:54:00:%02x:%02x:%02x" % (b[0], b[1], b[2])


class Guest:
    """A busybox test guest; its serial console is a file, its second serial
    port a root shell behind a unix socket (see run())."""

    def __init__(self, sandbox: "Sandbox", name: str) -> None:
        self.sb = sandbox
        self.name = name
        self.dir = sandbox.state_dir / "guests" / name

    @property
    def console_path(self) -> Path:
        return self.dir / "console.log"

    @property
    def cmd_socket(self) -> Path:
        return self.dir / "cmd.sock"

    def console_log(self) -> str:
        try:
            return self.console_path.read_text(errors="replace").replace("\r", "")
        except FileNotFoundError:
            return ""

    def console_lines(self) -> str:
        """The console log up to its last newline: a line the guest is still
        writing (qemu flushes the serial port in pieces) is not read, so
        "203.0.113.150" is never taken for "203.0.113.15"."""
        log = self.console_log()
        return log[:log.rfind("\n") + 1]

    def events(self, kind: str | None = None) -> list[list[str]]:
        """Parsed `VNSB <KIND> args...` lines of the console, oldest first."""
        out = []
        for line in self.console_lines().splitlines():
            m = re.search(r"VNSB (\S+)(.*)", line)
            if m and (kind is None or m.group(1) == kind):
                out.append([m.group(1)] + m.group(2).split())
        return out

    def wait_for(self, pattern: str, timeout: float = 60, *, after: int = 0) -> re.Match:
        """Wait for a regex on the console log (searching from character offset `after`)."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.console_lines(), after)
            if m:
                return m
            if time.monotonic() > deadline:
                raise TimeoutError(f"guest {self.name}: no {pattern!r} on the console in "
                                   f"{timeout}s; tail:\n{self.console_log()[-2000:]}")
            time.sleep(0.1)

    def wait_for_lease(self, iface: str = "eth0", timeout: float = 60, *, after: int = 0) -> str:
        """IP of the first DHCP lease of `iface` logged after offset `after`
        (pass len(g.console_log()) taken before a link flap to get the re-lease)."""
        m = self.wait_for(rf"^VNSB LEASE {re.escape(iface)} (\S+) (\S+)", timeout, after=after)
        return m.group(2)

    def wait_booted(self, timeout: float = 60) -> None:
        self.wait_for(r"^VNSB BOOTED", timeout)

    def run(self, command: str, timeout: float = 30) -> tuple[int, str]:
        """Run a shell command in the guest via the command channel -> (rc, output).
        Markers are built so that an echoed command line can never match them."""
        self.dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        with open(self.dir / "cmd.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            while True:
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(str(self.cmd_socket))
                    break
                except OSError:
                    s.close()
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"guest {self.name}: command socket {self.cmd_socket} not ready")
                    time.sleep(0.2)
            with s:
                buf = b""
                # 1. wait for the guest's shell (it only exists after boot)
                nonce = uuid.uuid4().hex[:8]
                ready = re.compile(rb"@@VNSB-READY-" + nonce.encode() + rb"\b")
                next_probe = 0.0
                while not ready.search(buf):
                    now = time.monotonic()
                    if now > deadline:
                        raise TimeoutError(f"guest {self.name}: shell not answering; "
                                           f"console tail:\n{self.console_log()[-1500:]}")
                    if now >= next_probe:
                        s.sendall(f"echo @@VNSB-READY-\"\"{nonce}\n".encode())
                        next_probe = now + 1.0
                    buf += self._recv(s, 0.2)
                # 2. the command itself
                tag = uuid.uuid4().hex[:8]
                line = (f"echo @@VNSB-BEG\"\"IN-{tag}; ( {command}\n) </dev/null 2>&1; "
                        f"echo \"@@VNSB-END-{tag} rc=$?\"\n")
                s.sendall(line.encode())
                buf = b""
                end = re.compile(rb"@@VNSB-END-" + tag.encode() + rb" rc=(\d+)")
                while True:
                    m = end.search(buf)
                    if m:
                        break
                    if time.monotonic() > deadline:
                        s.sendall(b"\x03")  # SIGINT; the guest respawns its shell
                        raise TimeoutError(f"guest {self.name}: {command!r} timed out; "
                                           f"partial output: {buf[-2000:]!r}")
                    buf += self._recv(s, 0.2)
                text = buf.decode(errors="replace").replace("\r", "")
                begin = f"@@VNSB-BEGIN-{tag}\n"
                out = text[text.index(begin) + len(begin):] if begin in text else text
                out = out[:out.find(f"@@VNSB-END-{tag}")]
                return int(m.group(1)), out

    @staticmethod
    def _recv(s: socket.socket, t: float) -> bytes:
        s.settimeout(t)
        try:
            data = s.recv(65536)
        except socket.timeout:
            return b""
        if not data:
            raise SandboxError("guest command socket closed")
        return data

    def virsh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.sb.virsh(*args, check=check)

    def addresses(self, iface: str, family: int = 4) -> list[str]:
        """Global addresses (with prefix) of a guest interface, via the command channel."""
        rc, out = self.run(f"ip -{family} -o addr show dev {iface} scope global")
        return re.findall(r"inet6? (\S+)", out) if rc == 0 else []

    def wait_for_addr(self, iface: str, family: int = 6, timeout: float = 30) -> str:
        """First global address of `iface` (IPv6 SLAAC by default) -> "addr/prefix"."""
        deadline = time.monotonic() + timeout
        while True:
            addrs = self.addresses(iface, family)
            if addrs:
                return addrs[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"guest {self.name}: no global IPv{family} address on {iface}")
            time.sleep(0.5)

    def _nic_file(self, nic: dict) -> Path:
        path = self.dir / f"nic-{nic['mac'].replace(':', '')}.xml"
        path.write_text(ET.tostring(interface_element(nic), encoding="unicode"))
        return path

    def attach_nic(self, nic: dict, *, live: bool = True, config: bool = False) -> str:
        """Hot-plug a NIC (dict as for start_guest); returns its MAC. The guest
        logs `VNSB NIC-ADDED ethN <mac>` and starts DHCP on it."""
        nic = dict(nic)
        nic.setdefault("mac", random_mac())
        flags = (["--live"] if live else []) + (["--config"] if config else [])
        self.virsh("attach-device", self.name, str(self._nic_file(nic)), *flags)
        return nic["mac"].lower()

    def detach_nic(self, nic: dict, *, live: bool = True, config: bool = False) -> None:
        flags = (["--live"] if live else []) + (["--config"] if config else [])
        self.virsh("detach-device", self.name, str(self._nic_file(nic)), *flags)

    def set_link(self, mac: str, state: str) -> None:
        """`virsh domif-setlink`: the guest logs `VNSB LINK ethN up|down`."""
        self.virsh("domif-setlink", self.name, mac, state)

    def iface_of(self, mac: str, timeout: float = 30) -> str:
        """Guest interface name of a MAC, from the NIC/NIC-ADDED console lines."""
        m = self.wait_for(rf"^VNSB NIC(?:-ADDED)? (\S+) {re.escape(mac.lower())}", timeout)
        return m.group(1)

    def destroy(self, undefine: bool = True) -> None:
        self.sb.virsh("destroy", self.name, check=False)
        if undefine:
            self.sb.virsh("undefine", self.name, check=False)


# --------------------------------------------------------------------------
# Sandbox instance
# --------------------------------------------------------------------------

LIBVIRTD_CONF = """\
# virtnet sandbox: root-only unix sockets inside a private state dir
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
"""

QEMU_CONF = """\
# virtnet sandbox: no SELinux/AppArmor, no chown, no virtlogd, run as root
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
stdio_handler = "file"
user = "root"
group = "root"
"""

NM_CONF = """\
# virtnet sandbox: NetworkManager in the hypervisor namespace
[main]
plugins=keyfile
auth-polkit=false
no-auto-default=*
dns=none
rc-manager=unmanaged
hostname-mode=none

[keyfile]
unmanaged-devices=interface-name:virbr*;interface-name:vnet*;interface-name:macvtap*;interface-name:lan0

[logging]
level=INFO
"""


TC_SHIM = """#!/bin/sh
# virtnet sandbox (vnsb.py): see Sandbox._prepare_state, nftables backend.
err=$(/usr/sbin/tc "$@" 2>&1) && { [ -n "$err" ] && printf '%s\\n' "$err"; exit 0; }
rc=$?
case " $* " in
  *" action csum "*)
    echo "$(date +%T) kernel has no act_csum, refused (rc=$rc, taken as done): tc $*" >>@LOG@
    exit 0 ;;
esac
printf '%s\\n' "$err" >&2
exit $rc
"""


def link_settling(line: str) -> bool:
    """An `ip -o link` line whose operstate does not yet follow its carrier
    (see Sandbox.settled_links_and_addrs)."""
    m = re.search(r"<([^>]*)>.* state (\S+)", line)
    if not m or "UP" not in m.group(1).split(","):
        return False
    carrier = "LOWER_UP" in m.group(1).split(",")
    return (carrier and m.group(2) in ("DOWN", "LOWERLAYERDOWN")) or (not carrier and m.group(2) in ("UP", "UNKNOWN"))


def unsettled(links: str, addrs: str) -> list[str]:
    """The links of `ip -o link` / `ip -o addr` output that the kernel has
    not caught up with yet (see Sandbox.settled_links_and_addrs)."""
    out = []
    carrier = set()
    for line in links.splitlines():
        m = re.match(r"\d+:\s+([^:@\s]+)[@:].*<([^>]*)>", line)
        if m and "LOWER_UP" in m.group(2).split(","):
            carrier.add(m.group(1))
        if m and link_settling(line):
            out.append(m.group(1))
    for line in addrs.splitlines():
        m = re.match(r"\d+:\s+(\S+)\s+inet6 .*\btentative\b", line)
        if m and "dadfailed" not in line and m.group(1) in carrier:
            out.append(m.group(1))
    return out


class Sandbox:
    def __init__(self, name: str = "vn", with_nm: bool = False, shape: str | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,30}", name):
            raise SandboxError(f"bad sandbox name {name!r} (letters, digits, _.-, max 31)")
        self.name = name
        self.with_nm = with_nm
        self.shape = shape or default_shape()
        if self.shape not in SHAPES:
            raise SandboxError(f"shape={self.shape}: not one of {', '.join(SHAPES)}")
        self.state_dir = STATE_ROOT / name
        self.hv_ns = f"{name}-hv"
        self.out_ns = f"{name}-out"
        self.meta_path = self.state_dir / "instance.json"
        self._meta: dict | None = None
        self.reused = False

    # ---- paths / addresses -------------------------------------------------
    @property
    def live_shape(self) -> str:
        """The shape of the running instance (the requested one before `up`)."""
        return self.meta.get("shape") or self.shape

    @property
    def modular(self) -> bool:
        return SHAPES[self.live_shape]["modular"]

    @property
    def libvirt_socket(self) -> Path:
        """The socket a client's qemu:///system reaches: libvirtd's, or in the
        modular shapes virtqemud's (as on RHEL 9/10 without virtproxyd)."""
        name = "virtqemud-sock" if self.modular else "libvirt-sock"
        return self.state_dir / "run" / "libvirt" / name

    @property
    def daemon_keys(self) -> list[str]:
        """meta["pids"] keys of the libvirt daemons (and the modular front)."""
        if self.modular:
            return [d for d, _ in MODULAR_DAEMONS] + ["virtqemud-front"]
        return ["libvirtd"]

    @property
    def uri(self) -> str:
        return f"qemu:///system?socket={self.libvirt_socket}"

    @property
    def dbus_socket(self) -> Path:
        return self.state_dir / "run" / "dbus" / "system_bus_socket"

    @property
    def meta(self) -> dict:
        if self._meta is None:
            try:
                self._meta = json.loads(self.meta_path.read_text())
            except FileNotFoundError:
                self._meta = {}
        return self._meta

    def _save_meta(self) -> None:
        tmp = self.meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.meta, indent=2))
        tmp.rename(self.meta_path)

    @property
    def holder_pid(self) -> int:
        h = self.meta.get("pids", {}).get("holder")
        if not h or not _alive(h["pid"], h["start"]):
            raise SandboxError(f"sandbox {self.name} is not running (no mount-ns holder); "
                               f"run: vnsb.py up --name {self.name}")
        return h["pid"]

    # ---- running things ----------------------------------------------------
    def hv_argv(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", "-t", str(self.holder_pid), "-m", "-n", "-u", "--", *argv]

    def out_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.out_ns, *argv]

    def run_hv(self, argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
        """Run argv in the hypervisor (its network and mount namespaces)."""
        kw.setdefault("check", False)
        return run(self.hv_argv(argv), **kw)

    def run_out(self, argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
        """Run argv in the outside (LAN/world) namespace."""
        kw.setdefault("check", False)
        return run(self.out_argv(argv), **kw)

    def virsh(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        return run(["virsh", "-q", "-c", self.uri, *args], check=check, timeout=timeout)

    def nmcli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        return self.run_hv(["nmcli", *args], check=check)

    def _spawn(self, key: str, argv: Sequence[str], log: str) -> int:
        """Start a long-running daemon detached from us; remember PID + start time."""
        logf = open(self.state_dir / "log" / log, "ab")
        p = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                             start_new_session=True, cwd="/", env=dict(_ENV))
        logf.close()
        # Popen's child execs through ip/nsenter/unshare into the daemon: same PID.
        self.meta.setdefault("pids", {})[key] = {"pid": p.pid, "start": _proc_start(p.pid)}
        self._save_meta()
        return p.pid

    # ---- lifecycle -----------------------------------------------------------
    def is_up(self) -> bool:
        try:
            self.holder_pid
        except SandboxError:
            return False
        pids = self.meta.get("pids", {})
        return all(pids.get(k) and _alive(pids[k]["pid"], pids[k]["start"]) for k in self.daemon_keys)

    def healthy(self) -> bool:
        """Running, every recorded daemon alive, libvirtd answering."""
        if not self.is_up():
            return False
        if not all(_alive(i["pid"], i.get("start")) for i in self.meta.get("pids", {}).values()):
            return False
        return self.virsh("list", check=False, timeout=10).returncode == 0

    def up(self, *, reuse: bool = False) -> float:
        """Start the instance afresh; returns the seconds it took. Anything of
        that name (a running instance, a crash's leftovers) is cleaned first.
        With `reuse`, a healthy instance of the same kind is kept as is (0.0)."""
        t0 = time.monotonic()
        self.reused = False
        if reuse and bool(self.meta.get("with_nm")) == self.with_nm \
                and self.meta.get("shape", "classic") == self.shape and self.healthy():
            self.reused = True
            return 0.0
        self.down(quiet=True)
        self._t_cleanup = time.monotonic() - t0
        self._meta = None
        self._prepare_state()
        self._meta = {"name": self.name, "with_nm": self.with_nm, "shape": self.shape, "pids": {},
                      "created": time.time(), "timings": {}}
        self._save_meta()
        try:
            self._netns_setup()
            self._start_holder()
            self._bind_mounts()
            if self.with_nm or SHAPES[self.shape]["firewalld"]:
                self._start_dbus()
            if SHAPES[self.shape]["firewalld"]:
                # before libvirt: its network driver asks firewalld at start
                self._start_firewalld()
            self._start_libvirt()
            self._start_outside()
            if self.with_nm:
                self._start_nm()
            t_lv = time.monotonic()
            self._wait_libvirt()
            self.meta["timings"]["libvirtd_ready_s"] = round(time.monotonic() - t_lv, 2)
            if self.with_nm:
                self._wait_nm()
            self._save_caps_cache()
        except Exception as e:
            _log(f"up failed; logs in {self.state_dir / 'log'} (kept). Run `down` to clean.")
            raise SandboxError(f"sandbox {self.name}: up failed: {e}\n{self.log_tails()}") from e
        dt = time.monotonic() - t0
        self.meta["timings"]["up_s"] = round(dt, 2)
        self.meta["timings"]["cleanup_s"] = round(self._t_cleanup, 2)
        self._save_meta()
        return dt

    def log_tails(self, lines: int = 15) -> str:
        """Last lines of every daemon log of the instance, for error messages."""
        out = []
        logdir = self.state_dir / "log"
        files = sorted(logdir.glob("*")) + sorted((logdir / "libvirt").glob("*.log"))
        for f in files:
            if f.is_file() and f.stat().st_size:
                tail = f.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {f}\n" + "\n".join(tail))
        return "\n".join(out)

    def __enter__(self) -> "Sandbox":
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down(quiet=True)

    def _prepare_state(self) -> None:
        sd = self.state_dir
        for sub in ("log", "out/www", "guests", "lib/libvirt", "log/libvirt", "cache/libvirt",
                    "run/libvirt", "run/dbus", "run/NetworkManager", "etc/NetworkManager/conf.d",
                    "etc/NetworkManager/system-connections", "lib/NetworkManager"):
            (sd / sub).mkdir(parents=True, exist_ok=True)
        (sd / "lib/NetworkManager").chmod(0o700)
        # passt, started as root by libvirt, drops to `nobody` before writing
        # its PID file into this directory: make it writable (sticky, like /tmp).
        passt = sd / "run/libvirt/qemu/passt"
        passt.mkdir(parents=True, exist_ok=True)
        passt.chmod(0o1777)
        # Start from the package's /etc/libvirt (hooks dir, qemu/ etc.), minus any
        # network definitions, then pin the few settings the sandbox needs.
        etc = sd / "etc" / "libvirt"
        shutil.copytree("/etc/libvirt", etc, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(etc / "qemu" / "networks", ignore_errors=True)
        (etc / "libvirtd.conf").write_text(LIBVIRTD_CONF)
        (etc / "qemu.conf").write_text(QEMU_CONF)
        shape = SHAPES[self.shape]
        if shape["firewall_backend"] == "nftables":
            # libvirt's nftables backend fixes DHCP reply checksums with a tc
            # filter `action csum` (nftables has no CHECKSUM target); this
            # machine's kernel is built without NET_ACT_CSUM, so that one tc
            # call fails and libvirt refuses to start any IPv4 network with
            # DHCP. The shim (first in the daemons' PATH) runs the real tc and
            # turns only that refusal into success, logged to log/tc-shim.log.
            # On a RHEL 10 kernel the action exists. The iptables backend's
            # equivalent (CHECKSUM --checksum-fill) works here.
            shim = sd / "shim"
            shim.mkdir(exist_ok=True)
            (shim / "tc").write_text(TC_SHIM.replace("@LOG@", str(sd / "log/tc-shim.log")))
            (shim / "tc").chmod(0o755)
        if shape["firewall_backend"]:
            (etc / "network.conf").write_text(
                f'# virtnet sandbox shape {self.shape}\nfirewall_backend = "{shape["firewall_backend"]}"\n')
        if shape["modular"]:
            for daemon, driver in MODULAR_DAEMONS:
                # unix_sock_dir: each daemon's sockets in a directory of its own;
                # /run/libvirt/<daemon>-sock (the name RHEL's clients and the
                # other daemons connect to) links there, see _start_libvirt.
                (etc / f"{daemon}.conf").write_text(
                    LIBVIRTD_CONF.replace("libvirtd.log", f"{daemon}.log")
                    + f'unix_sock_dir = "/run/libvirt/{daemon}"\n')
                (sd / "run/libvirt" / daemon).mkdir(parents=True, exist_ok=True)
                ddir = sd / "drivers" / daemon
                ddir.mkdir(parents=True, exist_ok=True)
                so = f"libvirt_driver_{driver}.so"
                (ddir / so).symlink_to(_driver_dir() / so)
        if shape["firewalld"]:
            shutil.copytree("/etc/firewalld", sd / "etc/firewalld", symlinks=True, dirs_exist_ok=True)
        (sd / "etc/NetworkManager/NetworkManager.conf").write_text(NM_CONF)
        hosts = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
        (sd / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {self.name}-hv\n"
                                      f"{LAN_HV} {self.name}-hv\n# from the machine:\n{hosts}")
        (sd / "etc/resolv.conf").write_text("# virtnet sandbox: no DNS server in the hv\n"
                                            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        caps = CACHE_ROOT / "qemu-capabilities"
        if caps.is_dir() and os.environ.get("VIRTNET_SANDBOX_NO_CAPS_CACHE") != "1":
            shutil.copytree(caps, sd / "cache/libvirt/qemu/capabilities", dirs_exist_ok=True)
        (sd / "out/www/index.html").write_text(
            f"<html><body>VNSB-WORLD {WORLD} sandbox {self.name}</body></html>\n")

    def _netns_setup(self) -> None:
        hv, out = self.hv_ns, self.out_ns
        run(["ip", "netns", "add", hv])
        run(["ip", "netns", "add", out])
        cmds_out = [
            "link set lo up",
            "link add lanbr type bridge stp_state 0 forward_delay 0",
        ]
        for i in range(3):
            cmds_out.append(f"link add lp{i} type veth peer name lan{i} netns {hv}")
            cmds_out.append(f"link set lp{i} master lanbr up")
        cmds_out += [
            f"addr add {LAN_GW}/{LAN_PREFIX} dev lanbr",
            f"addr add {LAN_GW6}/64 dev lanbr nodad",
            "link set lanbr up",
            f"addr add {WORLD}/32 dev lo",
        ]
        run(["ip", "-n", out, "-batch", "-"], input="\n".join(cmds_out) + "\n")
        # lan0 is the hypervisor's uplink: static address and default routes.
        # (IPv6 RA on lan0 is off: libvirt refuses IPv6 forwarding when routes
        # come from RA and accept_ra != 2.)
        # ping_group_range (per netns): passt runs as nobody and needs
        # unprivileged ICMP echo sockets to forward a guest's ping.
        # lan1/lan2 without RA too: spare NICs carry no address (link-local only)
        # until a test or NM configures them (a bridge on top has its own setting).
        # accept_dad=0: the link-local addresses (and their local routes) are
        # there as soon as the links are up, not 1-2 s later: a snapshot taken
        # right after `up` (the first test of a file) was different from one
        # taken seconds later, with nothing done in between.
        run(["ip", "netns", "exec", hv, "sysctl", "-qw", "net.ipv6.conf.lan0.accept_ra=0",
             "net.ipv6.conf.lan1.accept_ra=0", "net.ipv6.conf.lan2.accept_ra=0",
             "net.ipv6.conf.lan0.accept_dad=0", "net.ipv6.conf.lan1.accept_dad=0",
             "net.ipv6.conf.lan2.accept_dad=0",
             "net.ipv4.ping_group_range=0 2147483647"])
        if SHAPES[self.shape]["modular"]:
            # This kernel has br_netfilter built in, so bridged frames go
            # through the host firewall (bridge-nf-call-*=1 in every netns).
            # On RHEL br_netfilter is a module nothing loads by default:
            # bridged traffic never meets firewalld. Turn it off to match (the
            # classic shape keeps the machine's default, as before).
            run(["ip", "netns", "exec", hv, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0",
                 "net.bridge.bridge-nf-call-ip6tables=0", "net.bridge.bridge-nf-call-arptables=0"])
        cmds_hv = ["link set lo up", "link set lan0 up", "link set lan1 up", "link set lan2 up",
                   f"addr add {LAN_HV}/{LAN_PREFIX} dev lan0",
                   f"addr add {LAN_HV6}/64 dev lan0 nodad",
                   f"route add default via {LAN_GW}",
                   f"route add default via {LAN_GW6}"]
        run(["ip", "-n", hv, "-batch", "-"], input="\n".join(cmds_hv) + "\n")

    def _start_holder(self) -> None:
        # `ip netns exec` gives a mount ns with /sys of the hv netns; unshare
        # makes it private so our binds never propagate to the machine.
        # Own UTS ns too: NetworkManager (and anything DHCP-driven) may set the
        # hostname, which must never be the machine's.
        pid = self._spawn("holder", ["ip", "netns", "exec", self.hv_ns, "unshare", "-m", "-u",
                                     "--propagation", "private", "--", "sleep", "infinity"],
                          "holder.log")
        my_mnt = os.readlink("/proc/self/ns/mnt")
        deadline = time.monotonic() + 10
        while True:
            try:
                if (os.readlink(f"/proc/{pid}/exe").endswith("/sleep")
                        and os.readlink(f"/proc/{pid}/ns/mnt") != my_mnt):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or not _alive(pid):
                raise SandboxError("mount-namespace holder did not start; see "
                                   f"{self.state_dir}/log/holder.log")
            time.sleep(0.01)
        self.meta["pids"]["holder"]["start"] = _proc_start(pid)
        self._save_meta()

    def _bind_mounts(self) -> None:
        script = ["set -e"]
        args = []
        for i, (src, dst) in enumerate(BIND_MOUNTS):
            script.append(f'mount --bind "${{{i * 2 + 1}}}" "${{{i * 2 + 2}}}"')
            args += [str(self.state_dir / src), dst]
        # positional args keep paths out of the script text
        script.append(f"hostname {self.name}-hv")
        run(self.hv_argv(["sh", "-c", "\n".join(script), "sh", *args]))

    def _start_outside(self) -> None:
        o = self.state_dir / "out"
        self._spawn("dnsmasq", self.out_argv([
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
            "--user=root", "--group=root", "--interface=lanbr", "--bind-interfaces",
            f"--dhcp-range={LAN_DHCP[0]},{LAN_DHCP[1]},255.255.255.0,1h",
            "--enable-ra", "--dhcp-range=::,constructor:lanbr,ra-only,64,1h",
            f"--dhcp-option=option:router,{LAN_GW}",
            f"--dhcp-leasefile={o}/dnsmasq.leases", f"--pid-file={o}/dnsmasq.pid",
            "--dhcp-authoritative", "--no-ping", "--log-dhcp",
            f"--log-facility={self.state_dir}/log/out-dnsmasq.log",
        ]), "out-dnsmasq.stdout")
        self._spawn("httpd", self.out_argv(["busybox", "httpd", "-f", "-p", "80", "-h",
                                            str(o / "www")]), "out-httpd.log")

    def _start_dbus(self) -> None:
        self._spawn("dbus", self.hv_argv(["dbus-daemon", "--system", "--nofork", "--nopidfile"]),
                    "dbus.log")
        deadline = time.monotonic() + 10
        while not self.dbus_socket.exists():
            if time.monotonic() > deadline:
                raise SandboxError(f"dbus-daemon did not start; see {self.state_dir}/log/dbus.log")
            time.sleep(0.02)

    def _start_firewalld(self, timeout: float = 60) -> None:
        """firewalld on the hv's private system bus, its configuration a copy
        of the package's in the state dir, logging to the instance's log."""
        self._spawn("firewalld", self.hv_argv([
            "firewalld", "--nofork", "--nopid", "--log-target", "console",
            "--system-config", str(self.state_dir / "etc/firewalld")]), "firewalld.log")
        deadline = time.monotonic() + timeout
        while True:
            cp = self.run_hv(["firewall-cmd", "--state"], timeout=30)
            if cp.returncode == 0 and "running" in cp.stdout:
                return
            fw = self.meta["pids"]["firewalld"]
            if not _alive(fw["pid"], fw["start"]) or time.monotonic() > deadline:
                raise SandboxError(f"firewalld not running: {cp.stdout}{cp.stderr}; "
                                   f"see {self.state_dir}/log/firewalld.log")
            time.sleep(0.2)

    def _start_libvirt(self) -> None:
        if not self.modular:
            self._spawn("libvirtd", self.hv_argv(["libvirtd"]), "libvirtd.stdout")
            return
        run_lv = self.state_dir / "run/libvirt"
        for daemon, _driver in MODULAR_DAEMONS:
            self._spawn(daemon, self._modular_argv(daemon), f"{daemon}.stdout")
            if daemon != "virtqemud":
                for suffix in ("sock", "sock-ro"):
                    link = run_lv / f"{daemon}-{suffix}"
                    if not link.is_symlink():
                        link.symlink_to(f"{daemon}/libvirt-{suffix}")
        # The network daemon is the one a test kills as "libvirtd" (test_faults):
        # it is what virt_network talks to.
        self.meta["pids"]["libvirtd"] = self.meta["pids"]["virtnetworkd"]
        self._spawn("virtqemud-front", self.hv_argv([
            "python3", str(Path(__file__).resolve().with_name("modular_front.py")),
            "/run/libvirt/virtqemud-sock", "/run/libvirt/virtqemud/libvirt-sock",
            "/run/libvirt/virtnetworkd-sock", "/run/libvirt/virtnodedevd-sock"]), "virtqemud-front.log")

    def _modular_argv(self, daemon: str) -> list[str]:
        path = _ENV["PATH"]
        if (self.state_dir / "shim").is_dir():
            path = f"{self.state_dir / 'shim'}:{path}"
        return self.hv_argv([
            "env", f"LIBVIRT_DRIVER_DIR={self.state_dir / 'drivers' / daemon}", f"PATH={path}",
            f"LD_PRELOAD={not_monolithic_preload()}",
            "libvirtd", "-f", f"/etc/libvirt/{daemon}.conf", "-p", f"/run/libvirt/{daemon}.pid"])

    def _start_nm(self) -> None:
        if "dbus" not in self.meta.get("pids", {}):
            self._start_dbus()
        # NM waits forever for udev unless /sys is read-only (it then assumes
        # a container and manages devices without udev).
        self._spawn("nm", self.hv_argv(["unshare", "-m", "--propagation", "private", "--",
                                        "sh", "-c", "mount -o remount,bind,ro /sys && "
                                        "exec NetworkManager --no-daemon"]), "NetworkManager.log")

    def _wait_nm(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            cp = self.nmcli("-t", "-f", "RUNNING", "general")
            if cp.returncode == 0 and "running" in cp.stdout:
                return
            if time.monotonic() > deadline:
                raise SandboxError(f"NetworkManager not answering: {cp.stderr.strip()}; see "
                                   f"{self.state_dir}/log/NetworkManager.log")
            time.sleep(0.1)

    def _wait_libvirt(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.libvirt_socket.exists():
                # `capabilities` forces the qemu probe (lazy otherwise: the
                # first guest start would pay the ~8 s) and fills the cache.
                # net-list: in the modular shapes, virtnetworkd answers too.
                cp = self.virsh("capabilities", check=False, timeout=timeout)
                if cp.returncode == 0 and (not self.modular or self.virsh(
                        "net-list", check=False, timeout=timeout).returncode == 0):
                    return
            for key in self.daemon_keys:
                lv = self.meta["pids"][key]
                if not _alive(lv["pid"], lv["start"]):
                    raise SandboxError(f"{key} exited; see {self.state_dir}/log/{key}.stdout "
                                       f"and log/libvirt/")
            if time.monotonic() > deadline:
                raise SandboxError(f"libvirtd not ready after {timeout}s")
            time.sleep(0.05)

    def restart_libvirtd(self, timeout: float = 90) -> float:
        """Start libvirtd again: after a test killed it, or (when it runs) stop
        it first. Returns the seconds until it answers. Networks (their dnsmasq
        and firewall rules) and guests keep running meanwhile; libvirtd picks
        them up again from its state directory, as after a daemon restart on a
        real host."""
        t0 = time.monotonic()
        lv = self.meta.get("pids", {}).get("libvirtd")
        if lv and _alive(lv["pid"], lv.get("start")):
            _kill_pids([lv["pid"]], gentle=True)
        if self.modular:
            # "libvirtd" is virtnetworkd here (see _start_libvirt)
            self._spawn("virtnetworkd", self._modular_argv("virtnetworkd"), "virtnetworkd.stdout")
            self.meta["pids"]["libvirtd"] = self.meta["pids"]["virtnetworkd"]
            self._save_meta()
        else:
            self._spawn("libvirtd", self.hv_argv(["libvirtd"]), "libvirtd.stdout")
        self._wait_libvirt(timeout)
        return time.monotonic() - t0

    def _save_caps_cache(self) -> None:
        """Keep libvirt's qemu capability cache (the ~8 s probe) for later instances."""
        src = self.state_dir / "cache/libvirt/qemu/capabilities"
        dst = CACHE_ROOT / "qemu-capabilities"
        if not src.is_dir() or not any(src.iterdir()):
            return
        if dst.is_dir() and sorted(p.name for p in dst.iterdir()) == sorted(p.name for p in src.iterdir()) \
                and all((dst / p.name).read_bytes() == p.read_bytes() for p in src.iterdir()):
            return
        tmp = dst.with_name(f"qemu-capabilities.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        old = dst.with_name(f"qemu-capabilities.old{os.getpid()}")
        with contextlib.suppress(OSError):
            dst.rename(old)
        try:
            tmp.rename(dst)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)

    def down(self, quiet: bool = False) -> None:
        """Kill every process of the instance by PID, delete its namespaces and
        state dir. Works on a half-started or crashed instance too."""
        pids: set[int] = set()
        for info in self.meta.get("pids", {}).values():
            if _alive(info["pid"], info.get("start")):
                pids.add(info["pid"])
        t0 = time.monotonic()
        for _ in range(5):
            pids |= set(_netns_pids(self.hv_ns)) | set(_netns_pids(self.out_ns))
            if not pids:
                break
            _kill_pids(pids)
            pids = set()
        for ns in (self.hv_ns, self.out_ns):
            if Path("/run/netns", ns).exists():
                run(["ip", "netns", "del", ns], check=False)
        if self.state_dir.exists():
            # The binds lived only in the (now dead) private mount ns; refuse to
            # rm -rf through anything still mounted below the state dir.
            prefix = str(self.state_dir) + "/"
            mounted = [ln.split()[4] for ln in Path("/proc/self/mountinfo").read_text().splitlines()
                       if (ln.split()[4] + "/").startswith(prefix)]
            if mounted:
                raise SandboxError(f"still mounted under {self.state_dir}: {mounted}")
            shutil.rmtree(self.state_dir)
        self._meta = None
        if not quiet:
            _log(f"{self.name} down in {time.monotonic() - t0:.1f}s")

    # ---- information --------------------------------------------------------
    def status(self) -> dict:
        pids = {}
        for k, info in self.meta.get("pids", {}).items():
            pids[k] = {"pid": info["pid"], "alive": _alive(info["pid"], info.get("start"))}
        running = self.is_up()
        guests = self.virsh("list", "--all", "--name", check=False, timeout=10).stdout.split() \
            if running else []
        return {
            "name": self.name,
            "running": running,
            "guests": guests,
            "state_dir": str(self.state_dir),
            "uri": self.uri,
            "libvirt_socket": str(self.libvirt_socket),
            "with_nm": self.meta.get("with_nm", self.with_nm),
            "shape": self.live_shape,
            "dbus_socket": str(self.dbus_socket) if self.meta.get("with_nm") else None,
            "netns": {"hv": self.hv_ns, "out": self.out_ns},
            "hv": {"uplink": "lan0", "address": f"{LAN_HV}/{LAN_PREFIX}", "address6": f"{LAN_HV6}/64",
                   "gateway": LAN_GW, "spare_nics": ["lan1", "lan2"]},
            "out": {"bridge": "lanbr", "address": f"{LAN_GW}/{LAN_PREFIX}", "address6": f"{LAN_GW6}/64",
                    "world": WORLD, "dhcp_range": list(LAN_DHCP),
                    "dhcp_leases": str(self.state_dir / "out/dnsmasq.leases")},
            "pids": pids,
            "timings": self.meta.get("timings", {}),
        }

    def env(self) -> dict[str, str]:
        e = {"VIRTNET_SANDBOX_NAME": self.name, "VIRTNET_SANDBOX_STATE": str(self.state_dir),
             "VIRTNET_URI": self.uri, "LIBVIRT_DEFAULT_URI": self.uri,
             "VIRTNET_HV_NETNS": self.hv_ns, "VIRTNET_OUT_NETNS": self.out_ns,
             "VIRTNET_HV_PID": str(self.holder_pid), "VIRTNET_SANDBOX_SHAPE": self.live_shape}
        if self.meta.get("with_nm"):
            e["VIRTNET_DBUS_SOCKET"] = str(self.dbus_socket)
            e["VIRTNET_DBUS_ADDRESS"] = f"unix:path={self.dbus_socket}"
        return e

    def snapshot(self) -> dict:
        """Everything a "host unchanged" assertion compares: libvirt XML of all
        networks and domains (live and inactive), plus the hv's links, addresses,
        routes and firewall."""
        snap: dict = {"networks": {}, "networks_inactive": {}, "domains": {},
                      "domains_inactive": {}, "autostart": {}}
        for n in self.virsh("net-list", "--all", "--name").stdout.split():
            snap["networks"][n] = self.virsh("net-dumpxml", n).stdout
            snap["networks_inactive"][n] = self.virsh("net-dumpxml", "--inactive", n).stdout
        for info in self.virsh("net-list", "--all").stdout.splitlines():
            parts = info.split()
            if len(parts) >= 3:
                snap["autostart"][parts[0]] = parts[2]
        for d in self.virsh("list", "--all", "--name").stdout.split():
            snap["domains"][d] = self.virsh("dumpxml", d).stdout
            snap["domains_inactive"][d] = self.virsh("dumpxml", "--inactive", d).stdout
        # What the kernel does on its own from the outside's router adverts
        # (SLAAC addresses going through DAD, RA routes, lifetimes counting
        # down) is not a change anyone made: leave it out of the comparison.
        links, addrs = self.settled_links_and_addrs()
        # The prefix and anycast routes an autoconfigured address brings go
        # too, unless a static address on the same link has that prefix (then
        # the routes were there before the router advert came, and stay).
        slaac = set()
        nets: dict = {True: set(), False: set()}  # dynamic? -> {(prefix, dev)}
        for m in re.finditer(r"^\d+:\s+(\S+)\s+inet6 ([0-9a-f:]+)/(\d+) (.*)$", addrs, re.M):
            dynamic = " dynamic " in f" {m.group(4)} "
            if dynamic:
                slaac.add(m.group(2))
            net = ipaddress.ip_network(f"{m.group(2)}/{m.group(3)}", strict=False)
            nets[dynamic] |= {(str(net), m.group(1)), (str(net.network_address), m.group(1))}
        slaac_nets = nets[True] - nets[False]

        def kernel_made(line: str) -> bool:
            words = line.split()
            if words and words[0] in ("anycast", "local", "unicast"):
                words = words[1:]
            if len(words) >= 3 and words[1] == "dev" and (words[0], words[2]) in slaac_nets:
                return True
            # "expires": a route from a router advert's prefix (on-link) or
            # router information; nothing we or libvirt add ever expires
            return ("proto ra" in line or " dynamic " in line or re.search(r"\bexpires \d+sec", line)
                    or any(re.search(rf"(^|\s){re.escape(a)}(\s|$)", line) for a in slaac))

        def steady(text: str) -> str:
            text = "\n".join(l for l in text.splitlines() if not kernel_made(l))
            text = re.sub(r"\s*valid_lft \S+ preferred_lft \S+", "", text)
            return re.sub(r" (tentative|optimistic|dadfailed)\b", "", text)
        snap["hv_links"] = links
        snap["hv_addrs"] = steady(addrs)
        snap["hv_routes"] = steady(self.run_hv(["ip", "route", "show", "table", "all"]).stdout)
        # -s: stateless, without packet/byte counters (they change with traffic)
        snap["hv_nft"] = self.run_hv(["nft", "-s", "list", "ruleset"]).stdout
        return snap

    def settled_links_and_addrs(self, timeout: float = 5.0) -> tuple[str, str]:
        """`ip -o link show` and `ip -o addr show` of the hv once the kernel
        has caught up with what just happened, so that a snapshot taken now
        equals one taken a few seconds later on an unchanged host:

        - a link's carrier (LOWER_UP) changes at once; its operstate, the
          NO-CARRIER flag and the routes' "linkdown" follow up to a second
          later (the kernel's linkwatch batches them), e.g. when libvirt
          restarts a network and its bridge loses a port;
        - a new link with carrier (a guest's tap) gets its IPv6 link-local
          address at once but the address's local route only when duplicate
          address detection ends, one to two seconds later. (A link without
          carrier keeps a tentative address for good: not waited for.)"""
        deadline = time.monotonic() + timeout
        while True:
            links = self.run_hv(["ip", "-o", "link", "show"]).stdout
            addrs = self.run_hv(["ip", "-o", "addr", "show"]).stdout
            if not unsettled(links, addrs) or time.monotonic() > deadline:
                return links, addrs
            time.sleep(0.2)

    # ---- helpers for tests ----------------------------------------------------
    def add_out_route(self, subnet: str, via: str = LAN_HV) -> None:
        """Route `subnet` (e.g. a routed libvirt network) from the outside to the hv."""
        self.run_out(["ip", "route", "replace", subnet, "via", via], check=True)

    def guest_xml(self, name: str, nics: Sequence[dict] = (), *, memory_mb: int = 256,
                  cmdline: str = "", netboot: bool = False) -> str:
        """The test guest's domain XML.  ``netboot``: no kernel of its own, so
        SeaBIOS hands over to the NIC's iPXE ROM (give a NIC a boot order, or
        let libvirt's default <boot dev='hd'/> fail over to the network)."""
        img = guest_image()
        gdir = self.state_dir / "guests" / name
        dom = ET.Element("domain", {"type": "qemu"})
        _sub(dom, "name", name)
        _sub(dom, "memory", str(memory_mb), unit="MiB")
        _sub(dom, "vcpu", "1")
        os_ = _sub(dom, "os")
        _sub(os_, "type", "hvm", arch="x86_64", machine="pc")
        if not netboot:
            _sub(os_, "kernel", str(img.kernel))
            _sub(os_, "initrd", str(img.initrd))
            _sub(os_, "cmdline", guest_cmdline(name, cmdline))
        feat = _sub(dom, "features")
        _sub(feat, "acpi")  # needed for PCI hotplug of NICs
        _sub(dom, "on_poweroff", "destroy")
        _sub(dom, "on_reboot", "restart")
        _sub(dom, "on_crash", "destroy")
        dev = _sub(dom, "devices")
        for i, nic in enumerate(nics):
            nic = dict(nic)
            nic.setdefault("mac", random_mac(f"{self.name}/{name}/{i}"))
            dev.append(interface_element(nic))
        s0 = _sub(dev, "serial", type="file")
        _sub(s0, "source", path=str(gdir / "console.log"), append="off")
        _sub(s0, "target", port="0")
        s1 = _sub(dev, "serial", type="unix")
        _sub(s1, "source", mode="bind", path=str(gdir / "cmd.sock"))
        _sub(s1, "target", port="1")
        _sub(dev, "controller", type="usb", model="none")
        _sub(dev, "memballoon", model="none")
        ET.indent(dom)
        return ET.tostring(dom, encoding="unicode") + "\n"

    def define_guest(self, name: str, nics: Sequence[dict] = (), *, netboot: bool = False,
                     memory_mb: int = 256) -> Guest:
        """Define (not start) a persistent test guest; start it with
        ``virsh start``.  Its console and command socket work as usual."""
        g = Guest(self, name)
        g.dir.mkdir(parents=True, exist_ok=True)
        for f in (g.console_path, g.cmd_socket):
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
        path = g.dir / "domain.xml"
        path.write_text(self.guest_xml(name, nics, memory_mb=memory_mb, netboot=netboot))
        self.virsh("define", str(path))
        return g

    def start_guest(self, name: str, nics: Sequence[dict] = (), *, persistent: bool = False,
                    memory_mb: int = 256, cmdline: str = "") -> Guest:
        g = Guest(self, name)
        g.dir.mkdir(parents=True, exist_ok=True)
        for f in (g.console_path, g.cmd_socket):
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
        xml = self.guest_xml(name, nics, memory_mb=memory_mb, cmdline=cmdline)
        path = g.dir / "domain.xml"
        path.write_text(xml)
        if persistent:
            self.virsh("define", str(path))
            self.virsh("start", name)
        else:
            self.virsh("create", str(path))
        return g

    def guest(self, name: str) -> Guest:
        return Guest(self, name)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vnsb.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--name", default=os.environ.get("VIRTNET_SANDBOX_NAME", "vn"))
        return p

    p = add("up", "start an instance afresh (cleaning anything of the same name)")
    p.add_argument("--with-nm", action="store_true", help="also run dbus + NetworkManager in the hv")
    p.add_argument("--shape", choices=sorted(SHAPES), default=None,
                   help="hypervisor shape: classic (monolithic libvirtd, iptables; the default), "
                        "rhel10 (modular daemons, nftables backend), rhel9 (modular daemons, "
                        "firewalld); default $VIRTNET_SANDBOX_SHAPE or classic")
    p.add_argument("--reuse", action="store_true", help="keep a healthy instance of the same kind")
    add("down", "stop an instance and remove every trace of it")
    add("status", "JSON status of an instance")
    add("env", "shell exports for an instance (eval \"$(vnsb.py env)\")")
    p = add("exec", "run a command in the hypervisor (or --outside) namespaces")
    p.add_argument("--outside", action="store_true")
    p.add_argument("argv", nargs=argparse.REMAINDER)
    p = sub.add_parser("guest-image", help="build the cached test guest kernel + initramfs")
    p.add_argument("--rebuild", action="store_true")
    a = ap.parse_args(argv)

    if a.cmd == "guest-image":
        img = guest_image(rebuild=a.rebuild)
        print(json.dumps({"kernel": str(img.kernel), "initrd": str(img.initrd),
                          "kernel_version": img.kernel_version}, indent=2))
        return 0
    if os.geteuid() != 0:
        print("vnsb: must run as root", file=sys.stderr)
        return 2
    sb = Sandbox(a.name, with_nm=getattr(a, "with_nm", False), shape=getattr(a, "shape", None))
    try:
        if a.cmd == "up":
            guest_image()  # cached; built once so guests start right away
            dt = sb.up(reuse=a.reuse)
            t = sb.meta["timings"]
            if sb.reused:
                print(f"sandbox {a.name} already up (reused)")
            else:
                print(f"sandbox {a.name} up in {dt:.1f}s (libvirtd ready in {t['libvirtd_ready_s']:.1f}s"
                      + (f", old instance removed in {t['cleanup_s']:.1f}s" if t["cleanup_s"] >= 0.1 else "")
                      + ")")
            print(f"export VIRTNET_URI='{sb.uri}'")
        elif a.cmd == "down":
            sb.down()
        elif a.cmd == "status":
            print(json.dumps(sb.status(), indent=2))
            return 0 if sb.is_up() else 3
        elif a.cmd == "env":
            for k, v in sb.env().items():
                print(f"export {k}='{v}'")
        elif a.cmd == "exec":
            args = a.argv[1:] if a.argv[:1] == ["--"] else a.argv
            if not args:
                ap.error("exec needs a command after --")
            full = sb.out_argv(args) if a.outside else sb.hv_argv(args)
            os.execvpe(full[0], full, {**os.environ, "LC_ALL": "C"})
    except SandboxError as e:
        print(f"vnsb: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
