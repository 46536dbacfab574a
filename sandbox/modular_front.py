#!/usr/bin/env python3
"""The per-driver front of the sandbox's modular-daemon shape (stdlib only).

Why this exists: Debian's libvirt (bookworm's 9.0 and bookworm-backports'
11.3) ships only the monolithic ``libvirtd``; it builds none of the modular
daemons (virtqemud, virtnetworkd, virtnodedevd, virtproxyd) RHEL 9 and 10 run.
vnsb.py's modular shape therefore runs one ``libvirtd`` per driver, each
loading only that driver (``LIBVIRT_DRIVER_DIR`` pointing at a directory with
one ``libvirt_driver_*.so``), each on its own socket
(``/run/libvirt/virtnetworkd-sock`` and so on). What is then real libvirt
code, as on RHEL: the network driver lives in its own process; the qemu
driver reaches it over RPC (``network:///system``, "direct" mode inside a
daemon) for every guest NIC on a network (port allocation, bridge lookup,
restart and reconnect).

The one piece a driver-restricted ``libvirtd`` lacks is what a real
virtqemud does for a *client*: a client connected to ``qemu:///system`` may
call network and node-device APIs, and virtqemud forwards them to
virtnetworkd / virtnodedevd (``MODULE_NAME`` builds only). This process
stands in for that forwarding: it listens on ``virtqemud-sock``, passes every
call to the qemu daemon, and a call that daemon answers with
VIR_ERR_NO_SUPPORT ("not supported by the connection driver") goes to the
network daemon, then to the node-device daemon; the answer (or the last
error) goes back to the client. The procedure is remembered once a daemon
took it. Bytes are forwarded unchanged (client serials are unique per
connection); only the two extra connections' own open handshakes are made
here.

    modular_front.py LISTEN_SOCK QEMU_SOCK NETWORK_SOCK NODEDEV_SOCK
"""
from __future__ import annotations

import os
import socket
import struct
import sys
import threading
import time

REMOTE_PROGRAM = 0x20008086
KEEPALIVE_PROGRAM = 0x6B656570
CALL, REPLY, MESSAGE = 0, 1, 2
STATUS_OK, STATUS_ERROR = 0, 1
PROC_CONNECT_OPEN = 1
VIR_ERR_NO_SUPPORT = 3
KEEPALIVE_PING, KEEPALIVE_PONG = 1, 2
HEADER = struct.Struct(">IIiIII")  # prog, vers, proc, type, serial, status

# Procedure numbers of the remote protocol (append-only, so stable across
# versions) that belong to the network and node-device drivers. These must
# never reach the qemu daemon: libvirt's public functions on a network or
# node-device *object* call its connection's driver table without a NULL
# check, and a daemon without that driver crashes (measured: a qemu-only
# libvirtd segfaults on virNetworkGetAutostart).
NETWORK_PROCS = frozenset([36, 38, *range(39, 51), 52, 152, 153, 283, 291, 313, 314, 341])
NODEDEV_PROCS = frozenset([*range(111, 121), 123, 124, 285, 297, 301, 374, 375])
# Anything else goes to the qemu daemon first; a procedure newer than this
# table that the qemu daemon answers "not supported" is tried on the others.


def recv_msg(s: socket.socket) -> bytes | None:
    head = _recv_exact(s, 4)
    if head is None:
        return None
    (length,) = struct.unpack(">I", head)
    body = _recv_exact(s, length - 4)
    return None if body is None else head + body


def _recv_exact(s: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def header(msg: bytes) -> tuple[int, int, int, int, int, int]:
    return HEADER.unpack_from(msg, 4)


def make_msg(prog: int, proc: int, mtype: int, serial: int, payload: bytes = b"",
             status: int = STATUS_OK) -> bytes:
    body = HEADER.pack(prog, 1, proc, mtype, serial, status) + payload
    return struct.pack(">I", len(body) + 4) + body


def xdr_string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * (-len(b) % 4)


class Session:
    """One client connection: the qemu daemon's connection (opened with the
    client, closed with it) and, opened on first use like virtqemud's
    secondary connections, the network and node-device daemons'."""

    URIS = (None, "network:///system", "nodedev:///system")

    def __init__(self, client: socket.socket, upstreams: list[str], routes: dict[int, int]) -> None:
        self.client = client
        self.paths = upstreams
        self.routes = routes  # procedure -> upstream index, shared by all sessions
        for p in NETWORK_PROCS:
            routes.setdefault(p, 1)
        for p in NODEDEV_PROCS:
            routes.setdefault(p, 2)
        self.up: list[socket.socket | None] = [None] * len(upstreams)
        self.pending: dict[int, tuple[int, int, bytes]] = {}  # serial -> (proc, upstream, msg)
        self.lock = threading.Lock()
        self.client_lock = threading.Lock()
        self.up_locks = [threading.Lock() for _ in upstreams]
        self.done = False
        self.up[0] = self._connect(0)  # the client's own connection: fails the session

    def _connect(self, i: int) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.paths[i])
            if self.URIS[i]:
                serial = 0x7FFF0000 + i
                s.sendall(make_msg(REMOTE_PROGRAM, PROC_CONNECT_OPEN, CALL, serial,
                                   struct.pack(">I", 1) + xdr_string(self.URIS[i]) + struct.pack(">I", 0)))
                reply = recv_msg(s)
                if reply is None or header(reply)[5] != STATUS_OK:
                    raise OSError(f"cannot open {self.URIS[i]} on {self.paths[i]}")
        except OSError:
            s.close()
            raise
        if i > 0:
            threading.Thread(target=self.pump_up, args=(i, s), daemon=True).start()
        return s

    def send_client(self, msg: bytes) -> None:
        with self.client_lock:
            self.client.sendall(msg)

    def send_up(self, i: int, msg: bytes) -> None:
        with self.up_locks[i]:
            if self.up[i] is None:
                self.up[i] = self._connect(i)  # OSError: the caller answers the client
            self.up[i].sendall(msg)

    def error_reply(self, msg: bytes, text: str) -> bytes:
        """A libvirt error answer to the call `msg` (VIR_ERR_SYSTEM_ERROR from
        VIR_FROM_RPC, as the remote driver reports a socket it cannot reach)."""
        prog, _vers, proc, _t, serial, _st = header(msg)
        none = struct.pack(">I", 0)
        err = (struct.pack(">ii", 38, 7) + struct.pack(">I", 1) + xdr_string(text)
               + struct.pack(">i", 2) + none * 4 + struct.pack(">ii", 0, 0) + none)
        return make_msg(prog, proc, REPLY, serial, err, status=STATUS_ERROR)

    def forward(self, i: int, proc: int, msg: bytes) -> None:
        serial = header(msg)[4]
        with self.lock:
            self.pending[serial] = (proc, i, msg)
        try:
            self.send_up(i, msg)
        except OSError as e:
            if i == 0:
                raise
            with self.lock:
                self.pending.pop(serial, None)
            self.send_client(self.error_reply(msg, f"Failed to connect socket to '{self.paths[i]}': {e}"))

    def run(self) -> None:
        threading.Thread(target=self.pump_up, args=(0, self.up[0]), daemon=True).start()
        try:
            while True:
                msg = recv_msg(self.client)
                if msg is None:
                    break
                prog, _vers, proc, mtype, _serial, _st = header(msg)
                if prog == REMOTE_PROGRAM and mtype == CALL:
                    self.forward(self.routes.get(proc, 0), proc, msg)
                else:  # keepalive answers, streams, other programs: the qemu daemon's
                    self.send_up(0, msg)
        except OSError:
            pass
        except Exception as e:  # a bug here: say so, the client sees EOF
            print(f"modular_front: client pump: {e!r}", file=sys.stderr, flush=True)
        finally:
            self.close()

    def pump_up(self, i: int, s: socket.socket) -> None:
        try:
            while True:
                msg = recv_msg(s)
                if msg is None:
                    break
                prog, _vers, proc, mtype, serial, status = header(msg)
                if i > 0 and prog == KEEPALIVE_PROGRAM:
                    if proc == KEEPALIVE_PING:
                        self.send_up(i, make_msg(KEEPALIVE_PROGRAM, KEEPALIVE_PONG, MESSAGE, 0))
                    continue
                if prog == REMOTE_PROGRAM and mtype == REPLY:
                    with self.lock:
                        entry = self.pending.pop(serial, None)
                    if entry is not None:
                        cproc, _ui, cmsg = entry
                        code = struct.unpack_from(">i", msg, 28)[0] if status == STATUS_ERROR else None
                        if code == VIR_ERR_NO_SUPPORT and i + 1 < len(self.up) \
                                and cproc != PROC_CONNECT_OPEN \
                                and cproc not in NETWORK_PROCS and cproc not in NODEDEV_PROCS:
                            self.forward(i + 1, cproc, cmsg)
                            continue
                        if status == STATUS_OK and i > 0:
                            self.routes[cproc] = i
                self.send_client(msg)
        except OSError:
            pass
        except Exception as e:
            print(f"modular_front: upstream {i} pump: {e!r}", file=sys.stderr, flush=True)
        finally:
            if i == 0:
                self.close()
            else:
                # The daemon went away (killed, restarted): calls waiting on it
                # get an error, the next call opens the connection again.
                with self.up_locks[i]:
                    if self.up[i] is s:
                        self.up[i] = None
                s.close()
                with self.lock:
                    lost = [(k, v) for k, v in self.pending.items() if v[1] == i]
                    for k, _v in lost:
                        del self.pending[k]
                for _k, (_p, _i, cmsg) in lost:
                    try:
                        self.send_client(self.error_reply(cmsg, f"{self.URIS[i]}: daemon connection closed"))
                    except OSError:
                        pass

    def close(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
        for s in [self.client, *self.up]:
            if s is None:
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        # The pumps see EOF and end; the descriptors go with them (qemu's
        # and the client's here, once both pumps are past their last read).
        time.sleep(0.05)
        for s in [self.client, *self.up]:
            if s is not None:
                s.close()


def main(argv: list[str]) -> int:
    listen, *upstreams = argv
    if len(upstreams) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        os.unlink(listen)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    os.chmod(listen, 0o700)
    srv.listen(64)
    routes: dict[int, int] = {}
    while True:
        c, _ = srv.accept()

        def serve(c: socket.socket = c) -> None:
            try:
                sess = Session(c, upstreams, routes)
            except OSError as e:
                print(f"modular_front: {e}", file=sys.stderr, flush=True)
                c.close()
                return
            sess.run()
        threading.Thread(target=serve, daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
