"""The demo's reachability table, as a user reads it (no sandbox needed):
every cell says what was measured, and a disagreement with the seed's
Table 15.1 is flagged, never hidden."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "playbooks", "demo"))

import probe  # noqa: E402


def _result(**overrides):
    table = {m: {c: probe.SEED_TABLE_15_1[m][c] == "YES" for c, _title in probe.COLUMNS} for m in probe.MODES}
    table["open"] = {c: True for c, _title in probe.COLUMNS}
    for key, val in overrides.items():
        mode, col = key.split("__")
        table[mode][col] = val
    return {"table": table}


def test_agreeing_measurement_has_no_differences():
    res = _result()
    assert probe.differences(res) == []
    text = probe.format_table(res)
    assert "differs" not in text
    assert text.splitlines()[2].startswith("bridged  YES (RHEL YES)")


def test_a_broken_nat_shows_in_the_table():
    res = _result(nat__outside=False)
    assert probe.differences(res) == ["nat / to outside: measured no, RHEL says YES"]
    nat_row = [ln for ln in probe.format_table(res).splitlines() if ln.startswith("nat")][0]
    assert "no  (RHEL YES) <-- differs" in nat_row


def test_open_mode_is_never_a_difference():
    """The seed says open mode depends on the host's firewall: any measurement
    agrees with it, and the table says why."""
    res = _result(open__visible=False, open__host=False)
    assert probe.differences(res) == []
    open_row = [ln for ln in probe.format_table(res).splitlines() if ln.startswith("open")][0]
    assert open_row.count("(RHEL: host firewall)") == 4
    assert "no  (RHEL: host firewall)" in open_row


def test_every_seed_cell_is_transcribed():
    """Table 15.1 of the seed, row by row."""
    assert [tuple(probe.SEED_TABLE_15_1[m][c] for c, _title in probe.COLUMNS) for m in probe.MODES] == [
        ("YES", "YES", "YES", "YES"),
        ("YES", "YES", "YES", "no"),
        ("YES", "YES", "YES", "YES"),
        ("YES", "YES", "no", "no"),
        ("depends",) * 4,
    ]
