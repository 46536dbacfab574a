import os

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils import validate as v
from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
from ansible_collections.virtnet.networking.plugins.module_utils.runner import CommandRunner


@pytest.mark.parametrize("raw,norm", [("52:54:00:AB:cd:01", "52:54:00:ab:cd:01"), ("52-54-00-00-00-01", "52:54:00:00:00:01")])
def test_mac_normalized(raw, norm):
    assert v.mac("mac", raw) == norm


@pytest.mark.parametrize("raw,why", [
    ("52:54:00:ab:cd", "not a MAC"), ("01:00:5e:00:00:01", "multicast"), ("00:00:00:00:00:00", "all-zero"),
    ("52:54:00:ab:cd:0g", "not a MAC"), (12, "not a MAC"), ("52:54:00-ab:cd:01", "not a MAC"),
])
def test_mac_refused(raw, why):
    with pytest.raises(ValidationError) as exc:
        v.mac("interfaces[0].mac", raw)
    assert exc.value.msg.startswith("interfaces[0].mac=") and why in exc.value.msg


def test_random_mac_is_stable_for_a_seed_and_in_libvirt_range():
    a = v.random_libvirt_mac("vm1/net1")
    assert a == v.random_libvirt_mac("vm1/net1") and a.startswith("52:54:00:")
    assert v.mac("m", a) == a


@pytest.mark.parametrize("name", ["br0", "a" * 15, "bond0.100"])
def test_ifname_ok(name):
    assert v.ifname("bridge", name) == name


@pytest.mark.parametrize("name", ["a" * 16, "", "br 0", "br/0", "..", "br0\n"])
def test_ifname_refused(name):
    with pytest.raises(ValidationError) as exc:
        v.ifname("bridge", name)
    assert "bridge=" in exc.value.msg


def test_prefix_from_netmask_and_number():
    assert v.prefix_len("netmask", "255.255.255.0") == 24
    assert v.prefix_len("prefix", 64, version=6) == 64
    with pytest.raises(ValidationError):
        v.prefix_len("netmask", "255.0.255.0")
    with pytest.raises(ValidationError):
        v.prefix_len("prefix", 33)


def test_fsroot_confines_and_writes_atomically(tmp_path):
    fs = FsRoot(str(tmp_path))
    os.makedirs(tmp_path / "etc/udev/rules.d")
    fs.write_atomic("/etc/udev/rules.d/70-x.rules", "hello\n", mode=0o644)
    assert (tmp_path / "etc/udev/rules.d/70-x.rules").read_text() == "hello\n"
    assert fs.mode("/etc/udev/rules.d/70-x.rules") == 0o644
    assert fs.read_value("/etc/udev/rules.d/70-x.rules") == "hello"
    assert fs.read("/nope") is None
    with pytest.raises(VirtnetError):
        fs.path("/sys/../../etc/passwd")
    assert os.listdir(tmp_path / "etc/udev/rules.d") == ["70-x.rules"]


class FakeRunModule:
    def __init__(self):
        self.calls = []

    def get_bin_path(self, name, required=False):
        return "/usr/bin/" + name if name == "nmcli" else None

    def run_command(self, argv, environ_update=None, data=None, check_rc=False):
        self.calls.append((argv, environ_update))
        return (0, "ok\n", "") if argv[1] != "bad" else (8, "", "Error: nope\n")


def test_runner_argv_locale_and_failure():
    m = FakeRunModule()
    r = CommandRunner(m, "nmcli")
    assert r.run(["-t", "con", "show"]).out == "ok\n"
    assert m.calls[0][0] == ["/usr/bin/nmcli", "-t", "con", "show"] and m.calls[0][1]["LC_ALL"] == "C"
    with pytest.raises(VirtnetError) as exc:
        r.run(["bad", "it's; rm -rf /"])
    assert exc.value.details["rc"] == 8 and "Error: nope" in exc.value.msg
    assert exc.value.details["argv"][-1] == "it's; rm -rf /"
    with pytest.raises(VirtnetError) as exc:
        CommandRunner(m, "grubby")
    assert "'grubby' was not found" in exc.value.msg
