"""The execution environment installs only an ansible-core the tests run on:
its ansible_core range starts at the oldest core of the matrix
(tests/matrix/cores.sh, sanity and unit on each, integration on the oldest
and the newest), takes every core there, and stops before the next one. A
core added to the matrix without the EE following (or the reverse) fails
here; it did: the EE stayed capped below 2.20 while the matrix ran 2.21."""
from __future__ import annotations

import os
import re

import yaml
from packaging.specifiers import SpecifierSet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def matrix_cores() -> list:
    text = open(os.path.join(ROOT, "tests", "matrix", "cores.sh"), encoding="utf-8").read()
    m = re.search(r"^ALL=\(([^)]*)\)", text, re.M)
    assert m, "tests/matrix/cores.sh has no ALL=(...) list"
    return [tuple(int(n) for n in v.split(".")) for v in m.group(1).split()]


def ee_range() -> SpecifierSet:
    with open(os.path.join(ROOT, "execution-environment.yml"), encoding="utf-8") as f:
        pin = yaml.safe_load(f)["dependencies"]["ansible_core"]["package_pip"]
    m = re.fullmatch(r"ansible-core\s*(.+)", pin)
    assert m, pin
    return SpecifierSet(m.group(1))


def test_the_ee_takes_every_core_the_matrix_tests_and_no_other():
    cores = matrix_cores()
    spec = ee_range()
    for major, minor in cores:
        assert spec.contains("%d.%d.0" % (major, minor)), (major, minor, str(spec))
    oldest, newest = cores[0], cores[-1]
    assert not spec.contains("%d.%d.99" % (oldest[0], oldest[1] - 1)), str(spec)
    assert not spec.contains("%d.%d.0" % (newest[0], newest[1] + 1)), str(spec)
