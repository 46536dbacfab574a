"""A "full host" test guest in a vnsb sandbox: a Debian system with
systemd, NetworkManager, sshd and Python (built by build.sh), booted under
qemu TCG with three NICs, so modules that configure a *host* (bonds need
bonding.ko, which the machine's own kernel lacks) run on a real one over SSH.

Networks (libvirt, inside the sandbox hypervisor):
  fh-mgmt  192.0.2.0/25   hypervisor .1, guest .2 (NIC 52:54:00:f6:00:01, the SSH path)
  fh-lan   192.0.2.128/25 hypervisor .129; the guest's bond ports (…:02, …:03)

The image is read-only cache; each boot writes to a qcow2 overlay in the
sandbox's state directory, so every run starts from the same pristine host.
Stdlib only, like vnsb.py.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("VIRTNET_FULLHOST_CACHE", "/var/cache/virtnet-sandbox/fullhost"))
MGMT_MAC, PORT1_MAC, PORT2_MAC = "52:54:00:f6:00:01", "52:54:00:f6:00:02", "52:54:00:f6:00:03"
GUEST_MGMT, HV_MGMT, HV_LAN = "192.0.2.2", "192.0.2.1", "192.0.2.129"

NETWORKS = {
    "fh-mgmt": ("fhmgmt", HV_MGMT, "25"),
    "fh-lan": ("fhlan", HV_LAN, "25"),
}


def ensure_image() -> Path:
    """Build the image when it is not cached (about 70 s); return the cache dir."""
    subprocess.run(["bash", str(HERE / "build.sh")], check=True, capture_output=True, text=True)
    return CACHE


def image_dpkg_status() -> bytes:
    """The cached image's dpkg database (read from the ext4 image, not booted)."""
    cp = subprocess.run(["debugfs", "-R", "cat /var/lib/dpkg/status", str(CACHE / "disk.img")],
                        capture_output=True, check=True)
    if b"Package: " not in cp.stdout:
        raise RuntimeError("no dpkg status in %s: %s" % (CACHE / "disk.img", cp.stderr.decode(errors="replace")))
    return cp.stdout


def local_repo(packages: list) -> Path:
    """A flat apt repository with exactly what the cached image lacks to
    install ``packages`` (no recommends), the way a site's local mirror
    serves a hypervisor that reaches no Debian mirror: apt on this machine
    resolves them against the image's own dpkg database and downloads the
    .debs from Debian; Packages and Release are written here (used with
    ``[trusted=yes]``). Cached per image and package list."""
    status = image_dpkg_status()
    key = hashlib.sha256(status + "\n".join(sorted(packages)).encode()).hexdigest()[:16]
    repo = CACHE.parent / "fullhost-repo" / key
    if (repo / "Release").exists():
        return repo
    work = Path(tempfile.mkdtemp(prefix="build.", dir=CACHE.parent))
    try:
        (work / "partial").mkdir()
        (work / "status").write_bytes(status)
        subprocess.run(["apt-get", "-q", "-y", "--download-only", "--no-install-recommends",
                        "-o", "Dir::State::status=%s" % (work / "status"), "-o", "Dir::Cache::archives=%s" % work,
                        "-o", "Debug::NoLocking=1", "-o", "APT::Default-Release=bookworm", "install", *packages],
                        check=True, capture_output=True, text=True)
        (work / "status").unlink()
        (work / "partial").rmdir()
        (work / "lock").unlink(missing_ok=True)
        stanzas = []
        for deb in sorted(work.glob("*.deb")):
            control = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True,
                                     text=True).stdout.rstrip("\n")
            data = deb.read_bytes()
            stanzas.append("%s\nFilename: ./%s\nSize: %d\nSHA256: %s\n"
                           % (control, deb.name, len(data), hashlib.sha256(data).hexdigest()))
        index = "\n".join(stanzas).encode()
        (work / "Packages").write_bytes(index)
        (work / "Release").write_text(
            "Origin: virtnet-sandbox\nLabel: virtnet-sandbox\nSuite: bookworm\nCodename: bookworm\n"
            "Date: %s\nSHA256:\n %s %d Packages\n"
            % (time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()), hashlib.sha256(index).hexdigest(),
               len(index)))
        repo.parent.mkdir(parents=True, exist_ok=True)
        work.rename(repo)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return repo


def _sub(parent, tag, text=None, **attrs):
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def network_xml(name: str) -> str:
    bridge, addr, prefix = NETWORKS[name]
    net = ET.Element("network")
    _sub(net, "name", name)
    _sub(net, "bridge", name=bridge, stp="off", delay="0")
    _sub(net, "ip", address=addr, prefix=prefix)
    return ET.tostring(net, encoding="unicode")


def domain_xml(name: str, overlay: Path, console: Path, *, memory_mb: int = 768) -> str:
    dom = ET.Element("domain", type="qemu")
    _sub(dom, "name", name)
    _sub(dom, "memory", str(memory_mb), unit="MiB")
    _sub(dom, "vcpu", "1")
    os_ = _sub(dom, "os")
    _sub(os_, "type", "hvm", arch="x86_64", machine="pc")
    _sub(os_, "kernel", str(CACHE / "vmlinuz"))
    _sub(os_, "initrd", str(CACHE / "initrd.img"))
    _sub(os_, "cmdline", "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=0")
    _sub(_sub(dom, "features"), "acpi")
    dev = _sub(dom, "devices")
    disk = _sub(dev, "disk", type="file", device="disk")
    _sub(disk, "driver", name="qemu", type="qcow2")
    _sub(disk, "source", file=str(overlay))
    _sub(disk, "target", dev="vda", bus="virtio")
    for slot, (mac, net) in enumerate(((MGMT_MAC, "fh-mgmt"), (PORT1_MAC, "fh-lan"), (PORT2_MAC, "fh-lan")), 3):
        nic = _sub(dev, "interface", type="network")
        _sub(nic, "mac", address=mac)
        _sub(nic, "source", network=net)
        _sub(nic, "model", type="virtio")
        _sub(nic, "address", type="pci", domain="0x0000", bus="0x00", slot="0x%02x" % slot, function="0x0")
    # The serial console is a unix socket (a root shell: the image logs root
    # in on ttyS0) and is logged to a file, for when the network is gone.
    serial = _sub(dev, "serial", type="unix")
    _sub(serial, "source", mode="bind", path=str(console.with_name("console.sock")))
    _sub(serial, "target", port="0")
    _sub(serial, "log", file=str(console), append="off")
    _sub(dev, "memballoon", model="none")
    return ET.tostring(dom, encoding="unicode")


class FullHost:
    def __init__(self, sandbox, name: str = "fullhost") -> None:
        self.sb = sandbox
        self.name = name
        self.dir = Path(sandbox.state_dir) / "guests" / name
        self.key = CACHE / "id_ed25519"

    @property
    def console(self) -> Path:
        return self.dir / "console.log"

    def start(self) -> None:
        ensure_image()
        self.dir.mkdir(parents=True, exist_ok=True)
        for net in NETWORKS:
            path = self.dir / (net + ".xml")
            path.write_text(network_xml(net))
            if self.sb.virsh("net-info", net, check=False).returncode != 0:
                self.sb.virsh("net-create", str(path))
        overlay = self.dir / "overlay.qcow2"
        if overlay.exists():
            overlay.unlink()
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(CACHE / "disk.img"),
                        str(overlay)], check=True)
        xml = self.dir / "domain.xml"
        xml.write_text(domain_xml(self.name, overlay, self.console))
        self.sb.virsh("create", str(xml))

    def console_run(self, command: str, wait: float = 5.0) -> str:
        """Type ``command`` on the serial console; return what was printed meanwhile."""
        import socket
        before = self.console.stat().st_size if self.console.exists() else 0
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(self.dir / "console.sock"))
            s.sendall(b"\n" + command.encode() + b"\n")
            time.sleep(wait)
        with open(self.console, "rb") as f:
            f.seek(before)
            return f.read().decode(errors="replace")

    def inventory(self) -> str:
        """An Ansible inventory (INI) naming this host ``fullhost``, reached
        over SSH as root with the image's key and its platform Python (run
        ansible-playbook in the hypervisor's namespace, where its management
        network is).

        SSH's ControlPath hashes user, address and port, and every full host
        has the same address in its own sandbox: with Ansible's shared
        default directory, a run reused the SSH master of another sandbox's
        guest (seen twice while two sessions' tests ran at once: the task
        came back unreachable, "Shared connection to 192.0.2.2 closed", when
        that guest went away). Each guest has its own directory."""
        return ("fullhost ansible_host=%s ansible_user=root ansible_ssh_private_key_file=%s "
                "ansible_python_interpreter=/usr/bin/python3 ansible_control_path_dir=%s "
                "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
                % (GUEST_MGMT, self.key, self.dir / "cp"))

    def ssh_argv(self, command: str) -> list:
        return ["ip", "netns", "exec", self.sb.hv_ns, "ssh", "-i", str(self.key), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=5", "root@" + GUEST_MGMT, command]

    def ssh(self, command: str, *, check: bool = True, timeout: float = 60) -> str:
        cp = subprocess.run(self.ssh_argv(command), capture_output=True, text=True, timeout=timeout, check=False)
        if check and cp.returncode != 0:
            raise RuntimeError("ssh %r failed (rc=%d): %s" % (command, cp.returncode, cp.stderr.strip()))
        return cp.stdout

    def wait_ssh(self, timeout: float = 300) -> float:
        t0 = time.monotonic()
        while True:
            try:
                if subprocess.run(self.ssh_argv("true"), capture_output=True, timeout=15, check=False).returncode == 0:
                    return time.monotonic() - t0
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() - t0 > timeout:
                tail = self.console.read_text(errors="replace")[-2000:] if self.console.exists() else ""
                raise RuntimeError("full host did not answer SSH within %d s; console:\n%s" % (timeout, tail))
            time.sleep(2)

    def ifname_of(self, mac: str) -> str:
        for line in self.ssh("ip -o link show").splitlines():
            if "link/ether " + mac in line:
                return line.split(":")[1].strip().split("@")[0]
        raise RuntimeError("no interface with MAC %s in the full host" % mac)

    def vnet_of(self, mac: str) -> str:
        for line in self.sb.virsh("domiflist", self.name).stdout.splitlines():
            parts = line.split()
            if parts and parts[-1] == mac:
                return parts[0]
        raise RuntimeError("no host-side interface for MAC %s" % mac)

    def setlink(self, mac: str, state: str) -> None:
        """Pull (or plug back) the virtual cable of one NIC, from the hypervisor side."""
        self.sb.virsh("domif-setlink", self.name, self.vnet_of(mac), state)

    def destroy(self) -> None:
        self.sb.virsh("destroy", self.name, check=False)
        for net in NETWORKS:
            self.sb.virsh("net-destroy", net, check=False)
