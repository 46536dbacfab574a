"""pxe.engine / pxe.files on a fake tree (FsRoot) and a fake libvirt: what
is planned, what apply does on disk, and that every bad input stops in
have() before anything is touched.  Runs as any user: owners are the
current user's, looked up from the fake tree's /etc files."""

import hashlib
import os

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.pxe import engine as pe
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import info as pinfo
from ansible_collections.virtnet.networking.plugins.module_utils.pxe import files as pfiles
from ansible_collections.virtnet.networking.plugins.module_utils.engine import run
from ansible_collections.virtnet.networking.plugins.modules import pxe_network
from unit import fakes
from unit.fakes import FakeLibvirt
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot

NET_XML = """<network>
  <name>lab</name>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='off' delay='0'/>
  <ip address='192.0.2.1' prefix='24'>
    <dhcp>
      <range start='192.0.2.100' end='192.0.2.150'/>
    </dhcp>
  </ip>
</network>
"""


class FakeNet:
    def __init__(self, xml, active=True):
        self.config = xml
        self.live = xml
        self.active = active

    def XMLDesc(self, flags):
        return self.config if flags or not self.active else self.live

    def isActive(self):
        return self.active

    def isPersistent(self):
        return True


def FakeLv(net):  # noqa: N802 - reads as the class it builds
    """The shared fake libvirt with the one network ``lab``."""
    return FakeLibvirt(networks={"lab": net})


class FakeModule(fakes.FakeModule):
    """pxe_network's parameters as AnsibleModule makes them."""

    def __init__(self, params, check=False):
        super().__init__(params, argument_spec=pxe_network.argument_spec(), check_mode=check)


def fake_tree(tmp_path):
    uid, gid = os.getuid(), os.getgid()
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("tftpuser:x:%d:%d::/:/bin/false\n" % (uid, gid))
    (tmp_path / "etc/group").write_text("tftpgroup:x:%d:\n" % gid)
    (tmp_path / "src").mkdir()
    (tmp_path / "src/pxelinux.0").write_bytes(b"\x00PXE" * 100)
    return FsRoot(str(tmp_path))


def params(**kw):
    p = dict(uri="test:///", name="lab", state="present", address=None, tftp_root="/srv/tftp", owner="tftpuser",
             group=None, boot_files=[{"name": "pxelinux.0", "src": "/src/pxelinux.0"},
                                     {"name": "pxelinux.cfg/default", "content": "default linux\n"}],
             bootp_file="pxelinux.0", bootp_server=None, dhcp_range=None, restart=False, verify=False,
             selinux_reference=None)
    p.update(kw)
    return p


def go(tmp_path, check=False, net=None, **kw):
    fs = fake_tree(tmp_path) if not (tmp_path / "etc").exists() else FsRoot(str(tmp_path))
    net = net or FakeNet(NET_XML)
    lv = FakeLv(net)
    module = FakeModule(params(**kw), check=check)
    with pytest.raises(SystemExit):
        run(module, pe.PxeEngine(module, fs=fs, lv=lv))
    return module.result, lv


def test_apply_creates_root_files_and_defines(tmp_path):
    net = FakeNet(NET_XML)
    check, lv = go(tmp_path, check=True, net=net)
    assert not check.get("failed"), check
    assert [a["kind"] for a in check["actions"]] == ["mkdir", "copy", "copy", "define"]
    assert not (tmp_path / "srv").exists() and lv.defined == []      # check mode touched nothing
    assert check["restart_required"] is True and check["pending"] == ["tftp root", "bootp"]

    done, lv = go(tmp_path, net=net)
    assert not done.get("failed"), done
    assert done["actions"] == check["actions"] and done["diff"]["after"] == check["diff"]["after"]
    root = tmp_path / "srv/tftp"
    assert oct(os.stat(root).st_mode & 0o777) == "0o755"
    assert (root / "pxelinux.0").read_bytes() == b"\x00PXE" * 100
    assert (root / "pxelinux.cfg/default").read_text() == "default linux\n"
    assert oct(os.stat(root / "pxelinux.cfg/default").st_mode & 0o777) == "0o644"
    assert "<tftp root=\"/srv/tftp\"/>" in lv.defined[0] and "<bootp file=\"pxelinux.0\"/>" in lv.defined[0]
    assert done["selinux"] == pe.SELINUX_SKIPPED
    assert done["restart_required"] is True            # restart not allowed, network active
    files = {f["name"]: f for f in done["pxe"]["files"]}
    assert files["pxelinux.0"]["sha256"] == hashlib.sha256(b"\x00PXE" * 100).hexdigest()
    assert files["pxelinux.0"]["owner"] == "tftpuser" and files["pxelinux.0"]["group"] == "tftpgroup"

    again, lv2 = go(tmp_path, net=net)
    assert again["changed"] is False and again["actions"] == [] and lv2.defined == []
    assert again["restart_required"] is True


def test_changed_source_and_loose_modes_are_fixed(tmp_path):
    net = FakeNet(NET_XML)
    go(tmp_path, net=net)
    (tmp_path / "src/pxelinux.0").write_bytes(b"new")
    os.chmod(tmp_path / "srv/tftp", 0o777)
    os.chmod(tmp_path / "srv/tftp/pxelinux.cfg/default", 0o666)
    r, _lv = go(tmp_path, net=net)
    assert [a["kind"] for a in r["actions"]] == ["attrs", "copy", "attrs"], r["actions"]
    assert "set TFTP root /srv/tftp to 0755" in r["actions"][0]["summary"]
    assert r["actions"][1]["summary"].startswith("replace boot file /srv/tftp/pxelinux.0")
    assert (tmp_path / "srv/tftp/pxelinux.0").read_bytes() == b"new"
    assert oct(os.stat(tmp_path / "srv/tftp").st_mode & 0o777) == "0o755"


def test_restart_allowed_plans_a_restart(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(pe, "restart_network", lambda lv, name: calls.append(name) or [])
    net = FakeNet(NET_XML)
    r, _lv = go(tmp_path, net=net, restart=True, check=True)
    assert [a["kind"] for a in r["actions"]][-2:] == ["define", "restart"]
    assert r["restart_required"] is False
    assert calls == []


@pytest.mark.parametrize("change,message", [
    ({"name": "nope"}, "name='nope': no such libvirt network"),
    ({"owner": "nosuchuser"}, "owner='nosuchuser': no such user on the hypervisor"),
    ({"group": "nosuchgroup"}, "group='nosuchgroup': no such group on the hypervisor"),
    ({"tftp_root": "/src/pxelinux.0"}, "tftp_root='/src/pxelinux.0': exists and is not a directory"),
    ({"tftp_root": "/src/pxelinux.0/sub"}, "tftp_root='/src/pxelinux.0/sub': /src/pxelinux.0 is a file"),
    ({"boot_files": [{"name": "pxelinux.0", "src": "/src/missing"}]},
     "boot_files[0].src='/src/missing': no such file on the hypervisor"),
    ({"boot_files": [{"name": "pxelinux.0", "src": "/src"}]},
     "boot_files[0].src='/src': is a directory, not a file"),
    ({"boot_files": [{"name": "pxelinux.0", "src": None}]},
     "boot_files[0].name='pxelinux.0': is not in the TFTP root /srv/tftp"),
    ({"address": "203.0.113.1"}, "address='203.0.113.1': is not an IPv4 address of network 'lab'"),
])
def test_bad_input_fails_before_anything_changes(tmp_path, change, message):
    fake_tree(tmp_path)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    net = FakeNet(NET_XML)
    r, lv = go(tmp_path, net=net, **change)
    assert r.get("failed") and message in r["msg"], r
    assert lv.defined == [] and sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_symlinked_boot_file_is_refused(tmp_path):
    fake_tree(tmp_path)
    (tmp_path / "srv/tftp").mkdir(parents=True)
    os.symlink("/etc/shadow", tmp_path / "srv/tftp/pxelinux.0")
    r, _lv = go(tmp_path)
    assert r.get("failed") and "symlinks are refused" in r["msg"]


def _outside(tmp_path):
    out = tmp_path / "outside"
    out.mkdir()
    (out / "target.txt").write_text("outside\n")
    os.chmod(out / "target.txt", 0o600)
    return out


def _untouched(out):
    assert sorted(os.listdir(out)) == ["target.txt"]
    assert (out / "target.txt").read_text() == "outside\n"
    assert oct(os.stat(out / "target.txt").st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("name,link", [
    ("linkdir/evil.ipxe", "linkdir"),           # a symlinked directory
    ("a/linkdir/evil.ipxe", "a/linkdir"),       # deeper down
    ("linkdir/target.txt", "linkdir"),          # an existing file through the link
])
def test_symlinked_directory_in_the_root_is_refused_naming_the_option(tmp_path, name, link, check):
    fake_tree(tmp_path)
    out = _outside(tmp_path)
    (tmp_path / "srv/tftp/a").mkdir(parents=True)
    os.symlink(str(out), tmp_path / "srv/tftp" / link)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    r, lv = go(tmp_path, check=check, boot_files=[{"name": name, "content": "#!ipxe\n"}],
               bootp_file=None)
    assert r.get("failed"), r
    assert r["msg"] == ("boot_files[0].name=%r: /srv/tftp/%s in the TFTP root is a symlink (to %s); symlinks are "
                        "refused, nothing is written through them" % (name, link, out)), r["msg"]
    assert lv.defined == [] and sorted(str(p) for p in tmp_path.rglob("*")) == before
    _untouched(out)


def test_symlinked_tftp_root_is_refused(tmp_path):
    fake_tree(tmp_path)
    (tmp_path / "srv/real").mkdir(parents=True)
    os.symlink("real", tmp_path / "srv/tftp")
    r, lv = go(tmp_path)
    assert r.get("failed") and r["msg"] == "tftp_root='/srv/tftp': is a symlink (to real); give the directory it " \
                                           "points to", r
    assert lv.defined == [] and os.listdir(tmp_path / "srv/real") == []


def test_symlinked_ancestor_of_the_tftp_root_is_followed(tmp_path):
    """The path to the root is the administrator's layout (/srv -> /data/srv)."""
    fake_tree(tmp_path)
    (tmp_path / "data/srv").mkdir(parents=True)
    os.symlink("data/srv", tmp_path / "srv")
    r, _lv = go(tmp_path)
    assert not r.get("failed"), r
    assert (tmp_path / "data/srv/tftp/pxelinux.cfg/default").read_text() == "default linux\n"


def test_a_symlink_planted_after_planning_is_not_followed_when_writing(tmp_path):
    """The race: have() saw a directory, apply finds a symlink.  The
    O_NOFOLLOW walk fails (ELOOP) instead of writing outside the root."""
    fs = fake_tree(tmp_path)
    out = _outside(tmp_path)
    (tmp_path / "srv/tftp").mkdir(parents=True)
    os.symlink(str(out), tmp_path / "srv/tftp/menu")
    os.symlink(str(out / "target.txt"), tmp_path / "srv/tftp/file")
    owner = pfiles.resolve_owner(fs, "tftpuser", None)
    created = []
    with pytest.raises(OSError):
        pfiles.put_file(fs, "/srv/tftp", "menu/default", src=None, content="x", mode=0o644, owner=owner,
                        created=created)
    with pytest.raises(OSError):
        pfiles.put_file(fs, "/srv/tftp", "menu/sub/default", src=None, content="x", mode=0o644, owner=owner,
                        created=created)
    with pytest.raises(OSError):
        pfiles.set_attrs(fs, "/srv/tftp", "file", 0o644, owner)
    with pytest.raises(OSError):
        pfiles.set_attrs(fs, "/srv/tftp", "menu/target.txt", 0o644, owner)
    assert created == []
    _untouched(out)
    # a symlink as the file itself is replaced by the new file, its target untouched
    pfiles.put_file(fs, "/srv/tftp", "file", src=None, content="new\n", mode=0o644, owner=owner, created=created)
    assert not os.path.islink(tmp_path / "srv/tftp/file") and (tmp_path / "srv/tftp/file").read_text() == "new\n"
    assert sorted(os.listdir(tmp_path / "srv/tftp")) == ["file", "menu"]     # no temporary file left
    _untouched(out)


def test_absent_removes_only_the_pxe_elements(tmp_path):
    net = FakeNet(NET_XML)
    go(tmp_path, net=net, restart=False)
    r, lv = go(tmp_path, net=net, state="absent")
    assert [a["kind"] for a in r["actions"]] == ["define"]
    assert "<tftp" not in lv.defined[0] and "<bootp" not in lv.defined[0] and "<range" in lv.defined[0]
    assert (tmp_path / "srv/tftp/pxelinux.0").exists()


def test_verify_needs_an_active_network(tmp_path):
    net = FakeNet(NET_XML, active=False)
    r, _lv = go(tmp_path, net=net, verify=True)
    assert r.get("failed") and "verify: network 'lab' is not active" in r["msg"]


# --------------------------------------------------------------------------
# pxe.files helpers
# --------------------------------------------------------------------------

def test_selinux_detection_and_helpers(tmp_path):
    fs = FsRoot(str(tmp_path))
    assert pfiles.selinux_enabled(fs, None) is False

    class Runner:
        available = True

        def __init__(self, rc):
            self.rc = rc

        def run(self, args, check=True):
            return type("R", (), {"ok": self.rc == 0})()

    assert pfiles.selinux_enabled(fs, Runner(0)) is True
    assert pfiles.selinux_enabled(fs, Runner(1)) is False
    (tmp_path / "sys/fs/selinux").mkdir(parents=True)
    (tmp_path / "sys/fs/selinux/enforce").write_text("1")
    assert pfiles.selinux_enabled(fs, None) is True
    assert pfiles.context_type("system_u:object_r:dnsmasq_exec_t:s0") == "dnsmasq_exec_t"
    assert pfiles.context_type(None) is None
    listing = "/var/lib/tftpboot(/.*)?  all files  system_u:object_r:dnsmasq_exec_t:s0\n"
    assert pfiles.has_fcontext_rule(listing, "/var/lib/tftpboot")
    assert not pfiles.has_fcontext_rule(listing, "/srv/tftp")
    with pytest.raises(VirtnetError) as exc:
        pfiles.selinux_reference(fs, None)
    assert "set selinux_reference" in exc.value.msg
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/dnsmasq").write_text("")
    assert pfiles.selinux_reference(fs, None) == "/usr/sbin/dnsmasq"


def test_resolve_owner_on_the_real_root():
    owner = pfiles.resolve_owner(FsRoot("/"), "root", None)
    assert (owner.user, owner.uid) == ("root", 0)
    with pytest.raises(ValidationError):
        pfiles.resolve_owner(FsRoot("/"), "vn-no-such-user", None)


def FakeNets(nets):  # noqa: N802
    return FakeLibvirt(networks=nets)


def named(name, net):
    net.name = lambda: name
    return net


def test_info_lists_pxe_addresses_with_file_and_pending_restart(tmp_path):
    net = FakeNet(NET_XML)
    go(tmp_path, net=net)  # config has tftp/bootp now; the "running" XML does not
    plain = FakeNet(NET_XML.replace("lab", "plain"))
    lv = FakeNets({"lab": named("lab", net), "plain": named("plain", plain)})
    out = pinfo.info(lv, FsRoot(str(tmp_path)))
    (entry,) = out["pxe_networks"]
    assert entry["network"] == "lab" and entry["tftp_root"] == "/srv/tftp" and entry["restart_pending"] is True
    assert entry["bootp"] == {"file": "pxelinux.0", "server": None}
    assert entry["file"] == {"path": "/srv/tftp/pxelinux.0", "exists": True, "size": 400,
                             "sha256": hashlib.sha256(b"\x00PXE" * 100).hexdigest()}
    assert "served" not in entry
    net.live = net.config
    assert pinfo.info(lv, FsRoot(str(tmp_path)), name="lab")["pxe_networks"][0]["restart_pending"] is False
    assert pinfo.info(lv, FsRoot(str(tmp_path)), name="nope") == {"pxe_networks": []}


class SelinuxModule(FakeModule):
    """chcon and semanage exist; every command is recorded and succeeds."""

    def __init__(self, params, check=False, semanage=True):
        super().__init__(params, check=check)
        self.tools = {"chcon", "selinuxenabled"} | ({"semanage"} if semanage else set())
        self.commands = []

    def get_bin_path(self, tool, required=False):
        return "/usr/bin/" + tool if tool in self.tools else None

    def run_command(self, argv, environ_update=None, data=None, check_rc=False):
        self.commands.append(argv)
        return 0, "", ""


CTX = "system_u:object_r:dnsmasq_exec_t:s0"


@pytest.mark.parametrize("semanage", [True, False])
def test_selinux_host_gets_the_reference_label(tmp_path, monkeypatch, semanage):
    """chcon copies the lease helper's label onto the root (the fake chcon
    marks the tree labelled; the re-plan then finds nothing to do), and
    semanage records a rule for the root once."""
    fs = fake_tree(tmp_path)
    (tmp_path / "sys/fs/selinux").mkdir(parents=True)
    (tmp_path / "sys/fs/selinux/enforce").write_text("1\n")
    (tmp_path / "usr/libexec").mkdir(parents=True)
    ref = tmp_path / "usr/libexec/libvirt_leaseshelper"
    ref.write_text("")
    labelled = []
    monkeypatch.setattr(pfiles, "context_of", lambda real: CTX if real == str(ref) or any(
        real.startswith(p) for p in labelled) else "system_u:object_r:var_t:s0")

    class Module(SelinuxModule):
        def run_command(self, argv, environ_update=None, data=None, check_rc=False):
            if argv[0] == "/usr/bin/chcon":
                labelled.append(argv[-1])
            return super().run_command(argv, environ_update, data, check_rc)

    net = FakeNet(NET_XML)
    module = Module(params(), semanage=semanage)
    with pytest.raises(SystemExit):
        run(module, pe.PxeEngine(module, fs=fs, lv=FakeLv(net)))
    r = module.result
    assert not r.get("failed"), r
    assert r["actions"][-2]["summary"] == "label /srv/tftp like /usr/libexec/libvirt_leaseshelper (SELinux type " \
                                          "dnsmasq_exec_t)"
    assert r["pxe"]["root"]["selinux_type"] == "dnsmasq_exec_t"
    chcon = [c for c in module.commands if c[0] == "/usr/bin/chcon"]
    assert chcon == [["/usr/bin/chcon", "-R", "--reference", str(ref), str(tmp_path / "srv/tftp")]]
    semanage_cmds = [c[1:] for c in module.commands if c[0] == "/usr/bin/semanage"]
    if semanage:
        assert semanage_cmds == [["fcontext", "-l", "-C"],
                                 ["fcontext", "-a", "-t", "dnsmasq_exec_t", "/srv/tftp(/.*)?"]]
        assert r["selinux"] == "labelled /srv/tftp with type dnsmasq_exec_t (chcon, semanage fcontext)"
    else:
        assert semanage_cmds == [] and "no semanage" in r["selinux"]
    # A second run: labels in place, nothing to do.
    module2 = Module(params(), semanage=semanage)
    with pytest.raises(SystemExit):
        run(module2, pe.PxeEngine(module2, fs=fs, lv=FakeLv(net)))
    assert module2.result["changed"] is False, module2.result


@pytest.mark.parametrize("rng,message", [
    ({"start": "192.0.2.140", "end": "203.0.113.200"},
     "dhcp_range.end='203.0.113.200': is not a host address of the network's subnet 192.0.2.0/24"),
    ({"start": "192.0.2.0", "end": "192.0.2.20"}, "dhcp_range.start='192.0.2.0': is not a host address"),
    ({"start": "192.0.2.200", "end": "192.0.2.255"}, "dhcp_range.end='192.0.2.255': is not a host address"),
    ({"start": "192.0.2.1", "end": "192.0.2.20"},
     "dhcp_range='192.0.2.1-192.0.2.20': includes the network's own address 192.0.2.1"),
])
def test_dhcp_range_must_fit_the_subnet(tmp_path, rng, message):
    fake_tree(tmp_path)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    r, lv = go(tmp_path, dhcp_range=rng)
    assert r.get("failed") and message in r["msg"], r
    assert lv.defined == [] and sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_dhcp_range_inside_is_set(tmp_path):
    r, lv = go(tmp_path, dhcp_range={"start": "192.0.2.20", "end": "192.0.2.30"})
    assert not r.get("failed"), r
    assert r["pxe"]["dhcp_ranges"] == [{"start": "192.0.2.20", "end": "192.0.2.30"}]
    assert "<range start=\"192.0.2.20\" end=\"192.0.2.30\"/>" in lv.defined[0]


PXE_XML = NET_XML.replace("<ip address='192.0.2.1' prefix='24'>",
                          "<ip address='192.0.2.1' prefix='24'>\n    <tftp root='/srv/tftp'/>").replace(
    "</dhcp>", "  <bootp file='BOOT'/>\n    </dhcp>")


@pytest.mark.parametrize("bootp,link", [("menu/boot.ipxe", "menu"), ("boot.ipxe", "boot.ipxe")],
                         ids=["directory", "file"])
def test_info_does_not_read_through_a_symlink_in_the_tftp_root(tmp_path, bootp, link):
    """A symlink planted in the TFTP root (a directory on the way or the boot
    file itself) is reported as such; the file it points to outside the root
    is not opened, so neither its size nor its hash comes back."""
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "boot.ipxe").write_bytes(b"secret outside the root\n")
    (tmp_path / "srv/tftp").mkdir(parents=True)
    target = str(outside) if link == "menu" else str(outside / "boot.ipxe")
    os.symlink(target, tmp_path / "srv/tftp" / link)
    net = named("lab", FakeNet(PXE_XML.replace("BOOT", bootp)))
    (entry,) = pinfo.info(FakeNets({"lab": net}), FsRoot(str(tmp_path)))["pxe_networks"]
    disk = entry["file"]
    assert disk["path"] == "/srv/tftp/" + bootp
    assert disk["exists"] is False and disk["size"] is None and disk["sha256"] is None, disk
    assert disk["symlink"] == "/srv/tftp/%s -> %s (not read: pxe_network refuses symlinks in the TFTP root)" % (
        link, target)
