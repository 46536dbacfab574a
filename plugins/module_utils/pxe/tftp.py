# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small TFTP read client (RFC 1350), stdlib sockets only.

Used to prove that a boot file is *served*, not just configured: the file
is fetched from the server the guests will ask and hashed on the fly
(nothing is written to disk).  It asks for a larger block size (RFC 2347 /
2348 option negotiation) because 512-byte blocks make a kernel image take
thousands of round trips; a server that ignores options answers with plain
512-byte DATA, which is handled too.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import time
from dataclasses import dataclass

OP_RRQ, OP_DATA, OP_ACK, OP_ERROR, OP_OACK = 1, 3, 4, 5, 6
DEFAULT_BLKSIZE = 512
# 1500-byte Ethernet minus IPv4 (20), UDP (8) and TFTP (4) headers.
WANT_BLKSIZE = 1468
PORT = 69


class TftpError(Exception):
    """The file could not be fetched; ``code`` is the server's TFTP error
    code when it sent one (1 = file not found, 2 = access violation)."""

    def __init__(self, msg: str, code: int | None = None) -> None:
        super().__init__(msg)
        self.code = code


@dataclass
class Fetched:
    size: int
    sha256: str
    blksize: int
    seconds: float


def rrq_packet(filename: str, *, blksize: int | None = WANT_BLKSIZE) -> bytes:
    """An octet-mode read request, with the blksize/tsize options when asked."""
    parts = [filename.encode(), b"octet"]
    if blksize and blksize != DEFAULT_BLKSIZE:
        parts += [b"blksize", str(blksize).encode(), b"tsize", b"0"]
    return struct.pack("!H", OP_RRQ) + b"".join(p + b"\0" for p in parts)


def parse_oack(payload: bytes) -> dict:
    fields = payload.split(b"\0")
    return {fields[i].decode().lower(): fields[i + 1].decode() for i in range(0, len(fields) - 1, 2) if fields[i]}


def fetch(host: str, filename: str, *, port: int = PORT, timeout: float = 2.0, retries: int = 5,
          max_size: int = 1 << 30, blksize: int | None = WANT_BLKSIZE) -> Fetched:
    """Read ``filename`` from the TFTP server at ``host``; return its size and
    SHA-256.  Raises :class:`TftpError` on a server error, a timeout, or a
    file larger than ``max_size``."""
    start = time.monotonic()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        request = rrq_packet(filename, blksize=blksize)
        server = None          # (addr, port) of the server's transfer TID
        size = 0
        block = 0              # last block received, mod 2**16
        cur_blk = DEFAULT_BLKSIZE
        digest = hashlib.sha256()
        last_sent = request
        dest = (host, port)
        tries = 0
        while True:
            sock.sendto(last_sent, dest)
            try:
                data, peer = sock.recvfrom(65536 + 4)
            except socket.timeout:
                tries += 1
                if tries > retries:
                    raise TftpError("no answer from the TFTP server %s for %r after %d tries (%.0f s)"
                                    % (host, filename, tries, time.monotonic() - start))
                continue
            if server is None:
                server = peer
                dest = peer
            elif peer[:2] != server[:2]:
                # RFC 1350: a packet from another TID gets an error and is ignored.
                sock.sendto(struct.pack("!HH", OP_ERROR, 5) + b"unknown transfer ID\0", peer)
                continue
            if len(data) < 4:
                continue
            op = struct.unpack("!H", data[:2])[0]
            if op == OP_ERROR:
                code = struct.unpack("!H", data[2:4])[0]
                text = data[4:].split(b"\0")[0].decode(errors="replace")
                raise TftpError("TFTP server %s refused %r: %s (error %d)" % (host, filename, text, code), code)
            if op == OP_OACK and block == 0:
                opts = parse_oack(data[2:])
                cur_blk = int(opts.get("blksize", DEFAULT_BLKSIZE))
                if "tsize" in opts and int(opts["tsize"]) > max_size:
                    raise TftpError("%r is %s bytes, more than the %d allowed" % (filename, opts["tsize"], max_size))
                last_sent = struct.pack("!HH", OP_ACK, 0)
                tries = 0
                continue
            if op != OP_DATA:
                continue
            num = struct.unpack("!H", data[2:4])[0]
            if num == (block + 1) & 0xFFFF:
                chunk = data[4:]
                digest.update(chunk)
                size += len(chunk)
                if size > max_size:
                    raise TftpError("%r is larger than the %d bytes allowed" % (filename, max_size))
                block = num
                tries = 0
                last_sent = struct.pack("!HH", OP_ACK, num)
                if len(chunk) < cur_blk:
                    sock.sendto(last_sent, dest)  # the final ACK; the server may resend DATA otherwise
                    return Fetched(size=size, sha256=digest.hexdigest(), blksize=cur_blk,
                                   seconds=round(time.monotonic() - start, 3))
            # A duplicate of the previous block: the ACK is resent by the loop.
    except OSError as err:
        raise TftpError("TFTP transfer of %r from %s failed: %s" % (filename, host, err))
    finally:
        sock.close()
