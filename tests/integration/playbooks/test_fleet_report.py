"""playbooks/report.yml on the sandbox hypervisor `frpt`, converged first by
site.yml the way an AWX job does it, then drifted by hand with virsh: the
page is opened in headless Chromium (a screenshot is kept in tests/output/),
and the test reads the DOM Chromium built from it - the SVG nodes of the host
(by their <title>), the red drift marks and the drift list - not only the PNG.
Without Graphviz the page says so and still has its tables."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import lxml.html
import pytest
import yaml

import vnsb
from virtnet_testlib import ANSIBLE_BIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = ANSIBLE_BIN
HV_PYTHON = os.path.join(ROOT, "playbooks", "inventory", "demo", "hv-python")
OUTPUT = os.path.join(ROOT, "tests", "output")
# Another name for the sandbox lets two checkouts run this file side by side
# (as VIRTNET_FLEET_SITE_SANDBOX does for test_fleet_site.py).
NAME = os.environ.get("VIRTNET_FLEET_REPORT_SANDBOX", "frpt")
HOST = "report-hv"
VM = 'web"<&1'                      # a VM name the page and the picture must escape
NETS = ("rep-nat", "rep-iso", "rep-spare")
CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


def _net(name, bridge, third):
    return {"name": name, "forward": {"mode": "nat" if name == "rep-nat" else "isolated"},
            "bridge": {"name": bridge, "stp": False},
            "ips": [{"address": "203.0.113.%d/27" % (third + 1),
                     "dhcp": {"ranges": [{"start": "203.0.113.%d" % (third + 10),
                                          "end": "203.0.113.%d" % (third + 20)}]}}],
            "dnsmasq_options": ["no-ping"], "autostart": True}


HOST_VARS = {
    "virtnet_networks": [_net("rep-nat", "virbr-rnat", 0), _net("rep-iso", "virbr-riso", 32),
                         _net("rep-spare", "virbr-rspare", 64)],
    "virtnet_vm_interfaces": [
        {"domain": VM, "alias": "ua-nat", "mac": "52:54:00:f2:ee:01", "type": "network", "source": "rep-nat"},
        {"domain": VM, "alias": "ua-iso", "mac": "52:54:00:f2:ee:02", "type": "network", "source": "rep-iso",
         "link": "down"},
    ],
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = vnsb.missing_requirements(False)
    if reason:
        pytest.skip(reason)
    if not shutil.which("dot") or not CHROMIUM:
        pytest.skip("graphviz and chromium-headless-shell are needed (sandbox/install-packages.sh)")
    sb = vnsb.Sandbox(NAME)
    sb.up(reuse=True)
    sb.virsh("undefine", VM, check=False)
    for net in NETS:
        sb.virsh("net-destroy", net, check=False)
        sb.virsh("net-undefine", net, check=False)
    base = tmp_path_factory.mktemp("report")
    xml = base / "vm.xml"
    xml.write_text(sb.guest_xml("reportvm", []).replace("<name>reportvm</name>", "<name>web&quot;&lt;&amp;1</name>"))
    sb.virsh("define", str(xml))
    inv = base / "inventory"
    (inv / "host_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"hypervisors": {"hosts": {HOST: {
        "ansible_connection": "local", "ansible_python_interpreter": HV_PYTHON}}}}}}))
    (inv / "host_vars" / f"{HOST}.yml").write_text(yaml.safe_dump(HOST_VARS))
    box = {"sb": sb, "inv": str(inv), "base": base}
    cp = play(box, "site.yml")
    assert re.search(HOST + r" +: ok=\d+ +changed=\d+ +unreachable=0 +failed=0", cp.stdout), cp.stdout[-4000:]
    yield box
    if os.environ.get("VIRTNET_SANDBOX_KEEP") != "1":
        sb.down()


def play(box, playbook: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, VIRTNET_SANDBOX_NAME=NAME, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", box["inv"],
                           os.path.join(ROOT, "playbooks", playbook), *extra],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def report(box, name: str, *extra: str):
    """Run report.yml, open the page in headless Chromium: (page path, the DOM Chromium built, PNG path)."""
    page = box["base"] / ("%s.html" % name)
    cp = play(box, "report.yml", "-e", "virtnet_report_path=%s" % page, *extra)
    # the one change is the page on the controller; the hypervisor is only read
    assert re.search(HOST + r" +: ok=\d+ +changed=1 +unreachable=0 +failed=0", cp.stdout), cp.stdout[-4000:]
    assert re.search(r"changed: \[%s -> localhost\]" % HOST, cp.stdout)
    assert "Fleet report written to %s" % page in cp.stdout
    os.makedirs(OUTPUT, exist_ok=True)
    png = os.path.join(OUTPUT, "report-%s.png" % name)
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1500,1000"]
    shot = subprocess.run(flags + ["--screenshot=%s" % png, page.as_uri()], capture_output=True, text=True,
                          timeout=60, check=False)
    assert shot.returncode == 0 and os.path.getsize(png) > 10000, shot.stderr[-2000:]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return page, lxml.html.fromstring(dom), png


def svg_nodes(doc, cls: str = "node") -> list:
    """The <title> of every Graphviz node of that class, as the browser parsed the inline SVG."""
    return sorted(g.xpath("string(./*[local-name()='title'])")
                  for g in doc.xpath("//*[local-name()='svg']//*[local-name()='g'][@class=$c]", c=cls))


def summary(doc) -> list:
    return [[c.text_content().strip() for c in tr.xpath("./td")] for tr in doc.xpath("//table[@id='summary']/tbody/tr")]


def test_report_of_a_converged_lab_shows_its_nodes_and_no_drift(lab):
    page, doc, _png = report(lab, "converged")
    nodes = svg_nodes(doc)
    vm = "vnic:web___1~%s" % __import__("hashlib").sha1(VM.encode()).hexdigest()[:6]
    for want in ("net:rep-nat", "net:rep-iso", "net:rep-spare",
                 vm + "/52:54:00:f2:ee:01", vm + "/52:54:00:f2:ee:02"):
        assert want in nodes, nodes
    assert svg_nodes(doc, "node drift") == []
    assert summary(doc) == [[HOST, "3", "1", "2", "0"]]
    assert doc.xpath("//section[@data-host=$h]//p[@class='ok']/text()", h=HOST) == [
        "None: the host is as its inventory declares."]
    # the VM's name reached the page escaped once: the browser shows it as written, in the picture and the table
    assert "VM %s (shut off)" % VM in doc.xpath("string(//*[local-name()='svg'])")
    assert VM in [td.text for td in doc.xpath("//section//table//td")]
    # self-contained: nothing loaded from elsewhere
    assert not re.search(r'(src|href)="(https?:|//|file:)', page.read_text())


def test_report_of_a_drifted_lab_marks_the_drift_in_red(lab):
    sb = lab["sb"]
    # by hand, as an operator would: rep-iso's DHCP range shrunk, rep-spare removed
    old, new = "<range start='203.0.113.42' end='203.0.113.52'/>", "<range start='203.0.113.42' end='203.0.113.45'/>"
    sb.virsh("net-update", "rep-iso", "delete", "ip-dhcp-range", old, "--live", "--config")
    sb.virsh("net-update", "rep-iso", "add", "ip-dhcp-range", new, "--live", "--config")
    sb.virsh("net-destroy", "rep-spare")
    sb.virsh("net-undefine", "rep-spare")
    try:
        _page, doc, png = report(lab, "drifted")
        assert svg_nodes(doc, "node drift") == ["net:rep-iso", "net:rep-spare"]
        red = doc.xpath("//*[local-name()='g'][@class='node drift']//*[local-name()='text']/@fill")
        assert red and set(red) == {"#d00000"}, red
        texts = doc.xpath("//*[local-name()='g'][@class='node drift']//*[local-name()='text']/text()")
        assert ["DRIFT: DHCP range 203.0.113.42-203.0.113.45", "(want 203.0.113.42-203.0.113.52)"] == \
            [t for t in texts if "203.0.113.42-" in t and "DHCP 203" not in t], texts
        assert [li.text_content() for li in doc.xpath("//section[@data-host=$h]//li[@class='drift']", h=HOST)] == [
            "network rep-iso: DHCP range on 203.0.113.33/27 is 203.0.113.42-203.0.113.45, inventory wants "
            "203.0.113.42-203.0.113.52",
            "network rep-spare: missing, inventory declares it"]
        assert summary(doc) == [[HOST, "2", "1", "2", "2"]]
        assert doc.xpath("//table[@id='summary']//td[contains(@class, 'drift')]/text()") == ["2"]
        if os.environ.get("VIRTNET_REPORT_EXAMPLE"):
            shutil.copy(png, os.environ["VIRTNET_REPORT_EXAMPLE"])

        # without Graphviz on the controller: said, and the tables and the list are still there
        _page, bare, _png = report(lab, "no-graphviz", "-e", "virtnet_report_graphviz_dot=/nonexistent/dot")
        assert "Graphviz (dot) is not installed on the controller" in bare.xpath("string(//p[@id='no-graphviz'])")
        assert bare.xpath("//*[local-name()='svg']") == []
        assert summary(bare) == [[HOST, "2", "1", "2", "2"]]
        assert len(bare.xpath("//li[@class='drift']")) == 2
    finally:
        cp = play(lab, "site.yml")
    # site.yml puts the hand-changed range back (live) and defines the removed network again
    assert re.search(HOST + r" +: ok=\d+ +changed=[1-9]\d* +unreachable=0 +failed=0", cp.stdout), cp.stdout[-4000:]
    assert "<range start='203.0.113.42' end='203.0.113.52'" in sb.virsh("net-dumpxml", "rep-iso").stdout
    assert "rep-spare" in sb.virsh("net-list", "--name").stdout.split()
