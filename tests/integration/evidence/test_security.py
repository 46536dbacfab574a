"""Security checks on the real sandbox hypervisor (instance `evidnm`).

- An injection sweep: every string option of virt_network, nm_bond_bridge,
  virt_iface and pxe_network, given a value with quotes and XML
  metacharacters plus shell syntax, one with path traversal, and one with a
  newline, in check mode.  Each is refused naming the option and showing the
  value, or is one of the few values that are plain data (a DNS TXT text, a
  file name inside the TFTP root), which the tests below carry through the
  real thing.
- A DNS TXT value with XML metacharacters, quotes and shell syntax
  round-trips exactly: escaped in libvirt's XML, served by dnsmasq as given,
  read back by the info module, nothing executed.  A '"', '\\', ',', '#' or a
  newline cannot be passed through libvirt to dnsmasq as given (libvirt
  writes the text unquoted into dnsmasq's configuration): those are refused,
  and the test shows on raw libvirt that a newline really injects a dnsmasq
  directive.
- Names with traversal never become paths: a network name, a TFTP boot file
  name, and a boot file reached through a symlink planted in the TFTP root.
- Files written have the modes the seed asks for: NetworkManager keyfiles
  0600, libvirt's definitions not world-readable-writable, the TFTP root 0755
  and its boot files 0644 owned by nobody (seed: chmod -R a+r, chown nobody).
  The udev rule of sriov_vf (0644) is checked by tests/integration/sriov_vf.
"""
from __future__ import annotations

import copy
import os
import pwd
import stat
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree

from evidence_lib import BASE_VM, BASE_VM_MAC, clean_failure, diff_states, host_state, mod, shows

CANARY = "/tmp/evid-canary"
P_META = "a\"b<c>&'d;touch %s" % CANARY   # quotes, XML metacharacters, shell
P_PATH = "../../etc/evid-x"                  # traversal, otherwise plain characters
P_LINE = "a\nb"                              # newline

SEC = {"name": "ev-sec", "forward": {"mode": "isolated"}, "bridge": {"name": "evsec0", "stp": False},
       "ips": [{"address": "203.0.113.113/28",
                "dhcp": {"ranges": [{"start": "203.0.113.120", "end": "203.0.113.125"}],
                         "hosts": [{"mac": "52:54:00:ee:20:01", "ip": "203.0.113.117", "name": "h1"}]}}],
       "domain": {"name": "sec.example"},
       "dns": {"forwarders": [{"domain": "corp.example", "addr": "198.51.100.1"}],
               "hosts": [{"ip": "203.0.113.118", "hostnames": ["files"]}],
               "srv": [{"service": "ldap", "protocol": "tcp", "target": "files.sec.example", "port": 389}],
               "txt": [{"name": "info", "value": "ok"}]},
       "dnsmasq_options": ["no-ping"]}
NMB = {"name": "evsecbr0", "bond": {"name": "evsecb0", "ports": ["lan1"], "options": {"primary": "lan1"}},
       "ipv4": {"addresses": ["198.51.100.43/24"], "gateway": "198.51.100.1", "dns": ["198.51.100.1"],
                "dns_search": ["sec.example"]},
       "verify_target": "198.51.100.1"}
VIF = {"domain": BASE_VM, "mac": BASE_VM_MAC, "alias": "ua-net0", "type": "network", "source": "ev-base",
       "model": "virtio"}
PXE = {"name": "ev-base", "tftp_root": "@TFTP", "owner": "nobody",
       "boot_files": [{"name": "boot.ipxe", "content": "#!ipxe"}]}

# (module, base arguments, option paths); dnsmasq_options is left out on
# purpose: it is documented as raw dnsmasq options.
SWEEP = [
    ("virt_network", SEC, [("name",), ("bridge", "name"), ("domain", "name"), ("ips", 0, "address"),
                           ("ips", 0, "dhcp", "ranges", 0, "start"), ("ips", 0, "dhcp", "hosts", 0, "mac"),
                           ("ips", 0, "dhcp", "hosts", 0, "name"), ("dns", "forwarders", 0, "domain"),
                           ("dns", "hosts", 0, "hostnames", 0), ("dns", "srv", 0, "service"),
                           ("dns", "srv", 0, "target"), ("dns", "txt", 0, "name"), ("dns", "txt", 0, "value")]),
    ("nm_bond_bridge", NMB, [("name",), ("bond", "name"), ("bond", "ports", 0), ("bond", "mode"),
                             ("bond", "options", "primary"), ("ipv4", "addresses", 0), ("ipv4", "gateway"),
                             ("ipv4", "dns", 0), ("ipv4", "dns_search", 0), ("verify_target",)]),
    ("virt_iface", VIF, [("domain",), ("alias",), ("source",), ("model",)]),
    ("pxe_network", PXE, [("boot_files", 0, "name"), ("owner",), ("group",), ("bootp_server",)]),
]
# Plain data: accepted, and proven below to be carried as data.
ACCEPTED = {("virt_network", "dns.txt.0.value", P_PATH), ("pxe_network", "boot_files.0.name", P_META)}


def _set(args: dict, path: tuple, value) -> dict:
    args = copy.deepcopy(args)
    cur = args
    for key in path[:-1]:
        cur = cur[key]
    cur[path[-1]] = value
    return args


def _fill(value, tftp: str):
    if isinstance(value, dict):
        return {k: _fill(v, tftp) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, tftp) for v in value]
    return tftp if value == "@TFTP" else value


def test_injection_sweep_every_string_option(base, tftp_root):
    sb = base
    before = host_state(sb)
    jobs = [(m, path, p, _set(_fill(args, tftp_root), path, p))
            for m, args, paths in SWEEP for path in paths for p in (P_META, P_PATH, P_LINE)]

    def run(job):
        return job, mod(sb, job[0], job[3], check=True)

    accepted, vague = [], []
    with ThreadPoolExecutor(4) as pool:
        for (m, path, payload, _args), res in pool.map(run, jobs):
            key = (m, ".".join(str(k) for k in path), payload)
            leaf = [k for k in path if isinstance(k, str)][-1]
            if not res.get("failed"):
                accepted.append(key)
                continue
            clean_failure(res)
            if not (leaf in res["msg"] and shows(payload, res["msg"])):
                vague.append((key, res["msg"]))
    refused = len(jobs) - len(accepted) - len(vague)
    print("sweep: %d runs, %d refused naming the option, accepted: %s" % (len(jobs), refused, sorted(accepted)))
    assert vague == [], vague
    assert set(accepted) <= ACCEPTED, sorted(set(accepted) - ACCEPTED)
    assert len(jobs) >= 90
    after = host_state(sb)
    assert after == before, diff_states(before, after)
    assert sb.run_hv(["test", "-e", CANARY]).returncode != 0


# --------------------------------------------------------------------------
# DNS TXT: escaped, not injected
# --------------------------------------------------------------------------

TXT = "a<b>&c'd \u00e9 `id` $(touch %s) | * ../../etc/evid-x" % CANARY


def _nslookup_txt(sb, name: str, server: str) -> list:
    cp = sb.run_hv(["busybox", "nslookup", "-type=txt", name, server], timeout=20)
    return re.findall(r'text = "(.*)"', cp.stdout)


def test_txt_value_with_metacharacters_round_trips_exactly(base):
    sb = base
    args = dict(SEC, dns={"txt": [{"name": "info", "value": TXT}, {"name": "path", "value": P_PATH}]})
    try:
        res = mod(sb, "virt_network", args)
        assert not res.get("failed"), res
        assert mod(sb, "virt_network", args)["changed"] is False
        xml = sb.virsh("net-dumpxml", "ev-sec").stdout
        # Escaped in libvirt's XML, and one <txt> element per record (nothing injected) ...
        assert "a&lt;b&gt;&amp;c" in xml, xml
        txts = etree.fromstring(xml.encode()).findall("dns/txt")
        assert sorted((t.get("name"), t.get("value")) for t in txts) == [("info", TXT), ("path", P_PATH)]
        # ... read back exactly ...
        info = mod(sb, "virt_network_info", {"name": "ev-sec"})["networks"][0]["dns"]["txt"]
        assert sorted((t["name"], t["value"]) for t in info) == [("info", TXT), ("path", P_PATH)]
        # ... one line of dnsmasq's configuration, served exactly as given.
        conf = sb.run_hv(["cat", "/var/lib/libvirt/dnsmasq/ev-sec.conf"]).stdout
        assert [ln for ln in conf.splitlines() if ln.startswith("txt-record=")] == \
            ["txt-record=info,%s" % TXT, "txt-record=path,%s" % P_PATH], conf
        assert _nslookup_txt(sb, "info", "203.0.113.113") == [TXT]
        assert sb.run_hv(["test", "-e", CANARY]).returncode != 0
    finally:
        mod(sb, "virt_network", {"name": "ev-sec", "state": "absent"})


TXT_BAD = {"quote": 'say "hi"', "backslash": "a\\b", "comma": "a,b", "hash": "a #b", "blank": " a",
           "newline": "x\ndhcp-script=/bin/true", "cr": "x\rb", "nul": "x\x00b"}


@pytest.mark.parametrize("value", list(TXT_BAD.values()), ids=list(TXT_BAD))
def test_txt_value_dnsmasq_cannot_take_is_refused(base, value):
    res = mod(base, "virt_network", dict(SEC, dns={"txt": [{"name": "info", "value": value}]}), check=True)
    clean_failure(res)
    assert "dns.txt[0].value=" in res["msg"] and shows(value, res["msg"]), res["msg"]


def test_raw_libvirt_would_inject_a_txt_newline_into_dnsmasq(base):
    """Why the refusal matters: libvirt (this version) writes a TXT value
    into dnsmasq's configuration file as is, so a newline adds a directive;
    here an extra TXT record that dnsmasq then serves."""
    sb = base
    xml = ("<network><name>ev-raw</name><bridge name='evraw0' stp='off'/><dns>"
           "<txt name='info' value='x&#10;txt-record=evid-injected,injected'/></dns>"
           "<ip address='203.0.113.241' prefix='28'/></network>")
    path = sb.state_dir / "ev-raw.xml"
    path.write_text(xml)
    try:
        sb.virsh("net-create", str(path))
        conf = sb.run_hv(["cat", "/var/lib/libvirt/dnsmasq/ev-raw.conf"]).stdout
        assert "\ntxt-record=evid-injected,injected\n" in conf, conf
        assert _nslookup_txt(sb, "evid-injected", "203.0.113.241") == ["injected"]
    finally:
        sb.virsh("net-destroy", "ev-raw", check=False)
    res = mod(sb, "virt_network", {"name": "ev-raw", "ips": [{"address": "203.0.113.241/28"}],
                                   "dns": {"txt": [{"name": "info",
                                                    "value": "x\ntxt-record=evid-injected,injected"}]}})
    clean_failure(res)
    assert res["msg"].startswith("dns.txt[0].value="), res["msg"]
    assert "ev-raw" not in sb.virsh("net-list", "--all", "--name").stdout.split()


# --------------------------------------------------------------------------
# traversal never becomes a path
# --------------------------------------------------------------------------

def _exists_hv(sb, path: str) -> bool:
    return sb.run_hv(["test", "-e", path]).returncode == 0


def test_traversal_in_names_never_becomes_a_path(base, tftp_root):
    sb = base
    before = host_state(sb)
    for module, args, option in (
            ("virt_network", {"name": "../../etc/evid-x"}, "name"),
            ("virt_network_info", {"name": "../../etc/evid-x"}, "name"),
            ("pxe_network", {"name": "ev-base", "tftp_root": tftp_root,
                             "boot_files": [{"name": "../../../../etc/evid-x", "content": "x"}]}, "boot_files[0].name"),
            ("nm_bond_bridge", {"name": "../evid-x", "ports": ["lan1"]}, "name")):
        for check in (True, False):
            res = mod(sb, module, args, check=check)
            clean_failure(res)
            assert option + "=" in res["msg"], res["msg"]
    for path in ("/etc/evid-x", "/etc/libvirt/qemu/networks/evid-x.xml", "/etc/libvirt/evid-x.xml"):
        assert not _exists_hv(sb, path), path
    after = host_state(sb)
    assert after == before, diff_states(before, after)


@pytest.mark.parametrize("name", [
    "linked.ipxe",
    "linkdir/evid.ipxe",
], ids=["symlinked-file", "symlinked-directory"])
def test_tftp_boot_files_do_not_follow_symlinks_out_of_the_root(base, tftp_root, name):
    """A symlink planted in the TFTP root (by whoever can write there) must
    not make the module write or chmod a file outside the root."""
    sb = base
    outside = sb.state_dir / "evid-outside"
    outside.mkdir(exist_ok=True)
    target = outside / "target.txt"
    target.write_text("outside\n")
    os.chmod(target, 0o600)
    link_file = os.path.join(tftp_root, "linked.ipxe")
    link_dir = os.path.join(tftp_root, "linkdir")
    for p in (link_file, link_dir):
        if os.path.lexists(p):
            os.unlink(p)
    os.symlink(str(target), link_file)
    os.symlink(str(outside), link_dir)
    try:
        res = mod(sb, "pxe_network", {"name": "ev-base", "tftp_root": tftp_root,
                                      "boot_files": [{"name": name, "content": "#!ipxe\n"}]})
        print("pxe_network, boot file %s through a planted symlink: %s"
              % (name, res.get("msg") or [a["summary"] for a in res.get("actions", [])]))
        # Whatever the module decided, nothing outside the root changed.
        assert target.read_text() == "outside\n"
        assert oct(os.stat(target).st_mode & 0o777) == "0o600"
        assert sorted(os.listdir(outside)) == ["target.txt"]
        # And the module said so, naming the option and the value.
        assert res.get("failed"), res
        clean_failure(res)
        assert "boot_files[0].name=%r: " % name in res["msg"], res["msg"]
        assert "symlinks are refused" in res["msg"], res["msg"]
    finally:
        for p in (link_file, link_dir):
            if os.path.lexists(p):
                os.unlink(p)
        for leftover in os.listdir(outside):
            if leftover != "target.txt":
                os.unlink(outside / leftover)
        mod(sb, "pxe_network", {"name": "ev-base", "state": "absent", "restart": False})


def test_a_symlinked_tftp_root_is_refused_and_its_target_left_alone(base, tftp_root):
    """The module sets the root's owner and mode (and SELinux label): through
    a symlinked root that would change the target, so it refuses."""
    sb = base
    outside = sb.state_dir / "evid-outside-root"
    outside.mkdir(exist_ok=True)
    os.chmod(outside, 0o700)
    link = os.path.join(tftp_root, "..", "evid-linked-root")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(str(outside), link)
    link = os.path.normpath(link)
    try:
        before = host_state(sb)
        for check in (True, False):
            res = mod(sb, "pxe_network", {"name": "ev-base", "tftp_root": link,
                                          "boot_files": [{"name": "boot.ipxe", "content": "#!ipxe\n"}]}, check=check)
            clean_failure(res)
            assert res["msg"].startswith("tftp_root=%r: is a symlink" % link), res["msg"]
        assert os.listdir(outside) == [] and oct(os.stat(outside).st_mode & 0o777) == "0o700"
        after = host_state(sb)
        assert after == before, diff_states(before, after)
    finally:
        os.unlink(link)


# --------------------------------------------------------------------------
# modes of the files written
# --------------------------------------------------------------------------

def _stat_hv(sb, path: str) -> tuple:
    cp = sb.run_hv(["stat", "-c", "%a %U %F", path])
    assert cp.returncode == 0, cp.stderr
    mode, user, kind = cp.stdout.strip().split(" ", 2)
    return int(mode, 8), user, kind


def test_files_written_have_the_modes_the_seed_asks_for(base, tftp_root):
    sb = base
    base_xml = sb.virsh("net-dumpxml", "--inactive", "ev-base").stdout
    # NetworkManager keyfiles of the bridge nm_bond_bridge made: 0600, root.
    keyfiles = sb.run_hv(["ls", "/etc/NetworkManager/system-connections"]).stdout.split()
    assert {"evbr0.nmconnection", "evbr0-port-lan2.nmconnection"} <= set(keyfiles), keyfiles
    for k in keyfiles:
        assert _stat_hv(sb, "/etc/NetworkManager/system-connections/" + k)[:2] == (0o600, "root"), k
    # libvirt's network definitions (from virt_network): not world-accessible.
    mode, user, _kind = _stat_hv(sb, "/etc/libvirt/qemu/networks/ev-base.xml")
    assert mode & 0o007 == 0 and user == "root", oct(mode)
    # The TFTP root and boot files pxe_network writes (seed: readable by all,
    # owned by nobody); nothing group- or world-writable.
    root = os.path.join(tftp_root, "modes")
    try:
        res = mod(sb, "pxe_network", {"name": "ev-base", "tftp_root": root,
                                      "boot_files": [{"name": "boot.ipxe", "content": "#!ipxe\necho hi\n"},
                                                     {"name": "menu/default", "content": "DEFAULT x\n"},
                                                     # accepted by the sweep: a file name, nothing more
                                                     {"name": P_META, "content": "data\n"}],
                                      "bootp_file": "boot.ipxe"})
        assert not res.get("failed"), res
        nobody = pwd.getpwnam("nobody").pw_uid
        for rel, want in (("", 0o755), ("boot.ipxe", 0o644), ("menu/default", 0o644)):
            st = os.stat(os.path.join(root, rel))
            assert (st.st_mode & 0o777, st.st_uid) == (want, nobody), (rel, oct(st.st_mode))
        assert os.stat(os.path.join(root, "menu")).st_mode & 0o022 == 0
        with open(os.path.join(root, P_META), encoding="utf-8") as f:
            assert f.read() == "data\n"
        assert not _exists_hv(sb, CANARY)
    finally:
        mod(sb, "pxe_network", {"name": "ev-base", "state": "absent", "restart": False})
    assert sb.virsh("net-dumpxml", "--inactive", "ev-base").stdout == base_xml


def test_udev_rule_is_not_written_through_a_planted_symlink(base):
    """sriov_vf writes /etc/udev/rules.d/<pf>.rules (here below the SR-IOV
    helper's fake kernel root): a symlink planted there must not redirect the
    write (or the chmod) to a file elsewhere."""
    from fakesysfs import FakeKernel
    sb = base
    root = sb.state_dir / "evid-fakeroot-sec"
    outside = sb.state_dir / "evid-outside-udev"
    outside.mkdir(exist_ok=True)
    target = outside / "target.rules"
    target.write_text("# not the module's\n")
    os.chmod(target, 0o600)
    kernel = FakeKernel(root)
    kernel.add_pf("eth1", driver="ixgbe", total=7, slot=3)
    rule = os.path.join(kernel.root, "etc/udev/rules.d/eth1.rules")
    if os.path.lexists(rule):
        os.unlink(rule)
    os.symlink(str(target), rule)
    kernel.watch()
    try:
        res = mod(sb, "sriov_vf", {"pf": "eth1", "num_vfs": 1, "sysfs_root": kernel.root})
        print("sriov_vf with a planted rule symlink:", res.get("msg") or [a["summary"] for a in res["actions"]])
        assert target.read_text() == "# not the module's\n"
        assert oct(os.stat(target).st_mode & 0o777) == "0o600"
        if res.get("failed"):
            clean_failure(res)
        else:
            st = os.lstat(rule)
            assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644, oct(st.st_mode)
    finally:
        mod(sb, "sriov_vf", {"pf": "eth1", "state": "absent", "sysfs_root": kernel.root})
        kernel.stop()
