"""The TFTP read client against a small RFC 1350 server on loopback: plain
512-byte transfers, negotiated block sizes, block-number wrap, a lost packet,
server errors and silence.  (The client against libvirt's real dnsmasq is in
tests/integration/pxe_network.)"""

import hashlib
import socket
import struct
import threading

import pytest

from ansible_collections.virtnet.networking.plugins.module_utils.pxe import tftp


class Server(threading.Thread):
    """Serves ``files`` once per request; ``options`` says whether it
    answers RFC 2347 options; ``drop_first_data`` loses block 1 once."""

    def __init__(self, files, *, options=True, drop_first_data=False, silent=False):
        super().__init__(daemon=True)
        self.files = files
        self.options = options
        self.drop = drop_first_data
        self.silent = silent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = []

    def run(self):
        try:
            self._serve()
        except socket.timeout:
            pass  # the client gave up (as it should, e.g. over the size limit)
        finally:
            self.sock.close()

    def _serve(self):
        self.sock.settimeout(5)
        try:
            req, client = self.sock.recvfrom(1024)
        except socket.timeout:
            return
        fields = req[2:].split(b"\0")
        name = fields[0].decode()
        opts = {fields[i].decode(): fields[i + 1].decode() for i in range(2, len(fields) - 1, 2) if fields[i]}
        self.requests.append((name, opts))
        if self.silent:
            return
        t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # the transfer TID
        t.bind(("127.0.0.1", 0))
        t.settimeout(2)
        with t:
            if name not in self.files:
                t.sendto(struct.pack("!HH", 5, 1) + b"File not found\0", client)
                return
            data = self.files[name]
            blk = 512
            if self.options and "blksize" in opts:
                blk = int(opts["blksize"])
                t.sendto(struct.pack("!H", 6) + b"blksize\0%d\0tsize\0%d\0" % (blk, len(data)), client)
                t.recvfrom(100)  # ACK 0
            n = 0
            retries = 0
            while True:
                chunk = data[n * blk:(n + 1) * blk]
                pkt = struct.pack("!HH", 3, (n + 1) & 0xFFFF) + chunk
                if self.drop and n == 0:
                    self.drop = False           # lost: the client times out and re-ACKs
                else:
                    t.sendto(pkt, client)
                while True:
                    try:
                        ack = t.recvfrom(100)[0]
                    except socket.timeout:
                        retries += 1
                        if retries > 5:
                            return
                        t.sendto(pkt, client)
                        continue
                    if struct.unpack("!HH", ack[:4]) == (4, (n + 1) & 0xFFFF):
                        break
                    t.sendto(pkt, client)      # a re-ACK of the previous block: resend
                n += 1
                if len(chunk) < blk:
                    return


def serve(files, **kw):
    s = Server(files, **kw)
    s.start()
    return s


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 1468, 1469, 100000])
def test_sizes_with_negotiated_blocks(size):
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    s = serve({"f": data})
    got = tftp.fetch("127.0.0.1", "f", port=s.port, timeout=1)
    assert (got.size, got.sha256, got.blksize) == (size, hashlib.sha256(data).hexdigest(), 1468)
    assert s.requests == [("f", {"blksize": "1468", "tsize": "0"})]


def test_server_without_options_sends_512_byte_blocks():
    data = b"k" * 5000
    s = serve({"vmlinuz": data}, options=False)
    got = tftp.fetch("127.0.0.1", "vmlinuz", port=s.port, timeout=1)
    assert (got.size, got.blksize) == (5000, 512)


def test_block_number_wraps_past_65535():
    data = b"w" * (512 * 65537 + 10)  # 65538 blocks of 512
    s = serve({"big": data}, options=False)
    got = tftp.fetch("127.0.0.1", "big", port=s.port, timeout=2, blksize=None)
    assert got.size == len(data) and got.sha256 == hashlib.sha256(data).hexdigest()


def test_lost_packet_is_recovered():
    s = serve({"f": b"a" * 3000}, drop_first_data=True)
    got = tftp.fetch("127.0.0.1", "f", port=s.port, timeout=0.3)
    assert got.size == 3000


def test_server_error_is_reported_with_its_code():
    s = serve({})
    with pytest.raises(tftp.TftpError) as exc:
        tftp.fetch("127.0.0.1", "missing.0", port=s.port, timeout=1)
    assert exc.value.code == 1 and "refused 'missing.0': File not found (error 1)" in str(exc.value)


def test_silence_times_out():
    s = serve({}, silent=True)
    with pytest.raises(tftp.TftpError) as exc:
        tftp.fetch("127.0.0.1", "f", port=s.port, timeout=0.1, retries=2)
    assert "no answer from the TFTP server 127.0.0.1 for 'f' after 3 tries" in str(exc.value)


def test_size_limit_from_tsize():
    s = serve({"f": b"z" * 4000})
    with pytest.raises(tftp.TftpError) as exc:
        tftp.fetch("127.0.0.1", "f", port=s.port, timeout=1, max_size=1000)
    assert "4000 bytes, more than the 1000 allowed" in str(exc.value)


def test_request_packet():
    assert tftp.rrq_packet("a.0", blksize=None) == b"\x00\x01a.0\x00octet\x00"
    assert tftp.rrq_packet("a.0") == b"\x00\x01a.0\x00octet\x00blksize\x001468\x00tsize\x000\x00"
    assert tftp.parse_oack(b"blksize\x001468\x00tsize\x0042\x00") == {"blksize": "1468", "tsize": "42"}
