"""A fake kernel for SR-IOV tests: a sysfs/proc tree in a temporary
directory that behaves like the kernel where the module can notice.

This machine has no SR-IOV hardware, no netdevsim and no FUSE, so the tree is
plain files and symlinks laid out as on a real host::

    sys/class/net/eth1 -> ../../devices/pci0000:00/0000:00:03.0/net/eth1
    sys/devices/pci0000:00/0000:00:03.0/{sriov_totalvfs,sriov_numvfs,driver,virtfnN}
    sys/devices/pci0000:00/0000:00:10.N/{physfn,driver,net/eth1vN/address}
    sys/kernel/iommu_groups/N   proc/cmdline   proc/cpuinfo   etc/udev/rules.d
    sys/devices/pci0000:00/<pci>/iommu_group -> ../../../kernel/iommu_groups/<G>

Each PCI device gets its own IOMMU group (G derived from its address, so a
VF recreated at the same address is in the same group again) when the IOMMU
is on (``iommu_groups`` > 0), unless ``add_pf(iommu_group=False)``: a device
the IOMMU does not cover, which VFIO cannot pass to a VM.

and the kernel's reaction to a write of ``sriov_numvfs`` is played by
:class:`FakeKernel`, in one of two ways:

* in-process (``kernel.write`` replaces ``sysfs.SysfsWriter.write``): the
  kernel's exact checks (ERANGE above ``sriov_totalvfs``, EINVAL for a
  non-number, EBUSY for non-zero -> other non-zero) and VFs that appear
  ``delay`` seconds after the write, from another thread;
* for a module run as a separate process: :meth:`FakeKernel.watch` polls
  ``sriov_numvfs`` and creates or removes the VFs when it changes (a plain
  file cannot refuse a write, so EBUSY is only played in-process).

Every write the kernel saw is logged in ``kernel.writes`` so tests can
assert the order (through 0).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
import textwrap
import threading
import time

PCI_ROOT = "sys/devices/pci0000:00"


def pf_pci(slot: int) -> str:
    return "0000:00:%02x.0" % slot


class FakeKernel:
    def __init__(self, root, *, iommu_groups: int = 4, cmdline: str = "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro",
                 cpu_vendor: str = "GenuineIntel", delay: float = 0.0, vfio: bool = True) -> None:
        self.root = str(root)
        self.iommu_on = iommu_groups > 0
        self.delay = delay
        self.writes: list = []          # [(host path, value)]
        self.pfs: dict = {}             # name -> dict(pci, total, vf_driver, vf_slot)
        self._lock = threading.Lock()
        self._timers: list = []
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        for d in ("sys/class/net", "sys/kernel/iommu_groups", "sys/bus/pci/drivers", PCI_ROOT, "proc",
                  "etc/udev/rules.d", "sys/devices/virtual/net"):
            os.makedirs(self.p(d), exist_ok=True)
        for i in range(iommu_groups):
            os.makedirs(self.p("sys/kernel/iommu_groups/%d/devices" % i), exist_ok=True)
        self.set_cmdline(cmdline)
        if vfio:
            os.makedirs(self.p("dev/vfio"))
            open(self.p("dev/vfio/vfio"), "w").close()
        # sriov_vf's sysfs_root option only accepts a tree with this marker.
        open(self.p(".virtnet-fake-sysfs"), "w").close()
        self.refuse: dict = {}          # count -> errno the "driver" answers (ENOMEM...)
        with open(self.p("proc/cpuinfo"), "w") as f:
            f.write("processor\t: 0\nvendor_id\t: %s\nmodel name\t: Fake CPU\n\n" % cpu_vendor)

    # -- building --------------------------------------------------------------
    def p(self, rel: str) -> str:
        return os.path.join(self.root, rel.lstrip("/"))

    def set_cmdline(self, text: str) -> None:
        with open(self.p("proc/cmdline"), "w") as f:
            f.write(text + "\n")

    def _driver_link(self, devdir: str, driver: str | None) -> None:
        if driver is None:
            return
        os.makedirs(self.p("sys/bus/pci/drivers/%s" % driver), exist_ok=True)
        rel = os.path.relpath(self.p("sys/bus/pci/drivers/%s" % driver), devdir)
        os.symlink(rel, os.path.join(devdir, "driver"))

    def _iommu_group(self, devdir: str, pci: str) -> None:
        slot, fn = pci.split(":")[2].split(".")
        group = "%d" % (100 + int(slot, 16) * 8 + int(fn))
        gdir = self.p("sys/kernel/iommu_groups/%s/devices" % group)
        os.makedirs(gdir)
        os.symlink(os.path.relpath(devdir, gdir), os.path.join(gdir, pci))
        os.symlink(os.path.relpath(os.path.dirname(gdir), devdir), os.path.join(devdir, "iommu_group"))

    def _drop_iommu_group(self, devdir: str) -> None:
        link = os.path.join(devdir, "iommu_group")
        if os.path.islink(link):
            shutil.rmtree(os.path.realpath(link))

    def _netdev(self, devdir: str, name: str, mac: str) -> None:
        ndir = os.path.join(devdir, "net", name)
        os.makedirs(ndir)
        with open(os.path.join(ndir, "address"), "w") as f:
            f.write(mac + "\n")
        # as the kernel does: net/<name>/device -> ../../../<pci address>
        os.symlink(os.path.join(os.path.relpath(os.path.dirname(devdir), ndir), os.path.basename(devdir)),
                   os.path.join(ndir, "device"))
        os.symlink(os.path.relpath(ndir, self.p("sys/class/net")), self.p("sys/class/net/%s" % name))

    def add_pf(self, name: str, *, driver: str = "ixgbe", total: int | None = 7, slot: int = 3,
               vf_driver: str | None = "ixgbevf", mac: str = "a0:36:9f:8f:3f:b8", iommu_group: bool = True) -> str:
        """A PCI NIC; ``total=None`` makes one without the SR-IOV capability;
        ``iommu_group=False`` one (and its VFs) outside any IOMMU group."""
        pci = pf_pci(slot)
        devdir = self.p("%s/%s" % (PCI_ROOT, pci))
        os.makedirs(devdir)
        self._driver_link(devdir, driver)
        iommu = iommu_group and self.iommu_on
        if iommu:
            self._iommu_group(devdir, pci)
        if total is not None:
            with open(os.path.join(devdir, "sriov_totalvfs"), "w") as f:
                f.write("%d\n" % total)
            with open(os.path.join(devdir, "sriov_numvfs"), "w") as f:
                f.write("0\n")
        self._netdev(devdir, name, mac)
        if vf_driver is not None and total is not None:
            # The VF driver is loaded (its sysfs directory exists) before any VF.
            os.makedirs(self.p("sys/bus/pci/drivers/%s" % vf_driver), exist_ok=True)
        self.pfs[name] = {"pci": pci, "total": total, "vf_driver": vf_driver, "vf_slot": 0x10 + slot, "numvfs": 0,
                          "iommu": iommu}
        return pci

    def add_virtual(self, name: str) -> None:
        """A bridge or veth: a netdev with no device behind it."""
        ndir = self.p("sys/devices/virtual/net/%s" % name)
        os.makedirs(ndir)
        with open(os.path.join(ndir, "address"), "w") as f:
            f.write("52:54:00:aa:bb:cc\n")
        os.symlink(os.path.relpath(ndir, self.p("sys/class/net")), self.p("sys/class/net/%s" % name))

    def vf_pci(self, pf: str, index: int) -> str:
        slot = self.pfs[pf]["vf_slot"] + index // 8
        return "0000:00:%02x.%d" % (slot, index % 8)

    # -- the kernel's side -------------------------------------------------------
    def numvfs_path(self, pf: str) -> str:
        return self.p("%s/%s/sriov_numvfs" % (PCI_ROOT, self.pfs[pf]["pci"]))

    def _pf_of(self, path: str) -> str | None:
        real = os.path.realpath(self.p(path))
        for name, d in self.pfs.items():
            if real == os.path.realpath(self.numvfs_path(name)):
                return name
        return None

    def write(self, path: str, value: str) -> None:
        """``sysfs.SysfsWriter.write`` with the kernel's semantics."""
        self.writes.append((path, value.strip()))
        pf = self._pf_of(path)
        if pf is None:
            # Any other attribute: the kernel would accept or refuse it; the
            # SR-IOV code writes nothing else, so flag it loudly.
            raise OSError(errno.EPERM, "fake kernel: unexpected write to %s" % path)
        info = self.pfs[pf]
        text = value.strip()
        if not text.isdigit():
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        n = int(text)
        if n > info["total"]:
            raise OSError(errno.ERANGE, os.strerror(errno.ERANGE))
        if n in self.refuse:
            raise OSError(self.refuse[n], os.strerror(self.refuse[n]))
        with self._lock:
            if n == info["numvfs"]:
                return
            if n and info["numvfs"]:
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
            info["numvfs"] = n
            with open(self.numvfs_path(pf), "w") as f:
                f.write("%d\n" % n)
        if n == 0:
            self._set_vfs(pf, 0)
        elif self.delay == float("inf"):
            pass                        # a driver that never makes the VFs
        elif self.delay:
            t = threading.Timer(self.delay, self._set_vfs, (pf, n))
            t.daemon = True
            self._timers.append(t)
            t.start()
        else:
            self._set_vfs(pf, n)

    def _set_vfs(self, pf: str, n: int) -> None:
        with self._lock:
            info = self.pfs[pf]
            pfdir = self.p("%s/%s" % (PCI_ROOT, info["pci"]))
            for entry in os.listdir(pfdir):
                if entry.startswith("virtfn"):
                    vdir = os.path.realpath(os.path.join(pfdir, entry))
                    netdir = os.path.join(vdir, "net")
                    for name in os.listdir(netdir) if os.path.isdir(netdir) else ():
                        os.unlink(self.p("sys/class/net/%s" % name))
                    os.unlink(os.path.join(pfdir, entry))
                    self._drop_iommu_group(vdir)
                    shutil.rmtree(vdir)
            for i in range(n):
                vpci = self.vf_pci(pf, i)
                vdir = self.p("%s/%s" % (PCI_ROOT, vpci))
                os.makedirs(vdir)
                os.symlink("../%s" % info["pci"], os.path.join(vdir, "physfn"))
                os.symlink("../%s" % vpci, os.path.join(pfdir, "virtfn%d" % i))
                self._driver_link(vdir, info["vf_driver"])
                if info["iommu"]:
                    self._iommu_group(vdir, vpci)
                if info["vf_driver"] not in (None, "vfio-pci", "pci-stub"):   # only a NIC driver makes a netdev
                    self._netdev(vdir, "%sv%d" % (pf, i), "00:00:00:00:00:00")

    def watch(self, interval: float = 0.02) -> "FakeKernel":
        """Play the kernel for a module running in another process."""
        def loop():
            while not self._stop.is_set():
                for pf, info in list(self.pfs.items()):
                    if info["total"] is None:
                        continue
                    try:
                        with open(self.numvfs_path(pf)) as f:
                            text = f.read().strip()
                    except OSError:
                        continue
                    if text.isdigit() and int(text) != info["numvfs"]:
                        n = min(int(text), info["total"])
                        self.writes.append(("watch:" + pf, str(n)))
                        info["numvfs"] = n
                        if self.delay:
                            time.sleep(self.delay)
                        self._set_vfs(pf, n)
                time.sleep(interval)
        self._watcher = threading.Thread(target=loop, daemon=True)
        self._watcher.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._timers:
            t.join()
        if self._watcher is not None:
            self._watcher.join()

    def settle(self) -> None:
        for t in self._timers:
            t.join()

    # -- what tests compare --------------------------------------------------------
    def listing(self) -> dict:
        """Every path below the root with its link target, mode and contents:
        equal before and after means nothing was written."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root)
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    out[rel] = ("link", os.readlink(full))
                elif stat.S_ISDIR(st.st_mode):
                    out[rel] = ("dir", stat.S_IMODE(st.st_mode))
                else:
                    with open(full, "rb") as f:
                        out[rel] = ("file", stat.S_IMODE(st.st_mode), f.read())
        return out


GRUBBY = '''\
#!%(python)s
"""Fake grubby: the kernel arguments of one boot entry kept in a file."""
import sys
state = %(state)r
log = %(log)r
with open(log, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
try:
    args = open(state).read().split()
except FileNotFoundError:
    args = "ro root=/dev/vda1".split()
argv = sys.argv[1:]
if argv == ["--info=ALL"]:
    print('index=0\\nkernel="/boot/vmlinuz-6.12.0"\\nargs="%%s"\\nroot="/dev/vda1"\\ntitle="Fake"' %% " ".join(args))
    sys.exit(0)
if "--update-kernel=ALL" in argv and any(a.startswith("--args=") for a in argv):
    new = [a for a in argv if a.startswith("--args=")][0][len("--args="):].split()
    for a in new:
        key = a.split("=")[0]
        args = [x for x in args if x.split("=")[0] != key] + [a]
    open(state, "w").write(" ".join(args) + "\\n")
    sys.exit(0)
sys.stderr.write("fake grubby: unsupported arguments %%r\\n" %% argv)
sys.exit(64)
'''


def fake_grubby(bindir, state_dir) -> dict:
    """Write an executable ``grubby`` into ``bindir``; returns its paths."""
    os.makedirs(str(bindir), exist_ok=True)
    paths = {"bin": os.path.join(str(bindir), "grubby"),
             "state": os.path.join(str(state_dir), "grubby-args"),
             "log": os.path.join(str(state_dir), "grubby-calls")}
    with open(paths["bin"], "w") as f:
        f.write(textwrap.dedent(GRUBBY % {"python": sys.executable, "state": paths["state"], "log": paths["log"]}))
    os.chmod(paths["bin"], 0o755)
    return paths
