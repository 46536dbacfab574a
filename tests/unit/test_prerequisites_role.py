"""The prerequisites role's package tables: the names the modules need per
distribution, the same names in the role's README table, and the role's
variables documented and prefixed."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "prerequisites"


def table(family: str) -> dict:
    return yaml.safe_load((ROLE / "vars" / f"{family}.yml").read_text())["prerequisites_table"]


@pytest.mark.parametrize("family, want", [
    ("RedHat", {"package_manager": [],
                "python": ["python3-libvirt", "python3-lxml", "python3-netaddr"],
                "libvirt": ["libvirt-daemon-driver-qemu", "libvirt-daemon-driver-network", "dnsmasq"],
                "network_manager": ["NetworkManager"],
                "default_network": ["libvirt-daemon-config-network"],
                "services": ["virtqemud.socket", "virtnetworkd.socket"]}),
    ("Debian", {"package_manager": ["python3-apt"],
                "python": ["python3-libvirt", "python3-lxml", "python3-netaddr"],
                "libvirt": ["libvirt-daemon-system", "dnsmasq-base"],
                "libvirt_backports": ["libvirt-daemon-system", "libvirt-daemon-driver-network"],
                "network_manager": ["network-manager"],
                "default_network": ["libvirt-daemon-config-network"],
                "services": ["libvirtd.service"]}),
])
def test_package_names_per_distribution(family, want):
    t = table(family)
    for key, names in want.items():
        assert t[key] == names, (family, key)


def test_readme_table_names_every_package_and_service():
    readme = (ROLE / "README.md").read_text()
    rows = [ln for ln in readme.splitlines() if ln.startswith("|")]
    documented = set(re.findall(r"`([^`]+)`", "\n".join(rows)))
    for family in ("RedHat", "Debian"):
        for names in table(family).values():
            assert set(names) <= documented, (family, set(names) - documented)


def test_variables_are_documented_prefixed_and_defaulted():
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert spec["version_added"]
    assert set(spec["options"]) == set(defaults)
    for name, opt in spec["options"].items():
        assert name.startswith("prerequisites_"), name
        assert opt["default"] == defaults[name], name
    # installing never starts a service unless asked
    assert defaults["prerequisites_start_services"] is False
