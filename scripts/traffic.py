#!/usr/bin/env python3
"""Traffic generator for scripts/make-capture (stdlib only).

Three roles live in three network namespaces made by make-capture:

    client (10.99.1.1, fd99:1::1)
      |  veth, captured on the host's side (veth-client)
    host   (10.99.1.2, fd99:1::2 | 10.99.2.1, fd99:2::1)   <- the observed host, forwarding on
      |  veth
    inner  (10.99.2.2, fd99:2::2)

Sub-commands (each runs inside one namespace, via `ip netns exec`):

    traffic.py plan              print "PHASE NAMESPACE" lines, in the order they must run
    traffic.py serve ROLE        run ROLE's listeners (TCP and UDP, IPv4 and IPv6) until killed
                                 or --lifetime seconds have passed
    traffic.py phase NAME        run one phase (the namespace must be the phase's namespace)

Everything is bounded: every socket has a timeout, every loop a count, servers a lifetime.
The plan below (PHASES) is also imported by scripts/label-capture.py, which uses it to name the
phase of every captured frame and to check that what was captured is what was intended.

Timing: every application step is separated by PAUSE seconds (default 0.4 s), longer than Linux's
largest delayed-ACK timeout (200 ms), so that every TCP acknowledgement is a segment of its own and
the frame sequence is the same from run to run.
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field

PAUSE = float(os.environ.get("STRATA_CAPTURE_PAUSE", "0.4"))
TIMEOUT = 5.0          # any single wait for the peer
FRAG_SIZE = 3000       # UDP payload bytes of the fragmented datagrams (MTU is 1500)

ADDR = {
    4: {"client": "10.99.1.1", "host": "10.99.1.2", "host_inner": "10.99.2.1", "inner": "10.99.2.2"},
    6: {"client": "fd99:1::1", "host": "fd99:1::2", "host_inner": "fd99:2::1", "inner": "fd99:2::2"},
}

# Fixed MAC addresses (so that IPv6 link-local addresses are the same in every run).
MAC = {
    "client": "02:99:01:00:00:01",      # client, veth-host
    "host": "02:99:01:00:00:02",        # host, veth-client (the captured interface)
    "host_inner": "02:99:02:00:00:01",  # host, veth-inner
    "inner": "02:99:02:00:00:02",       # inner, veth-host
}

TCP_SERVICE = 8080        # host and inner listen here
TCP_CLIENT_SERVICE = 9000  # client listens here (host's active open)
UDP_SERVICE = 5354        # host and inner listen here (request/response, also the fragmented datagrams);
                          # not 5353, which tcpdump would decode as mDNS
UDP_CLIENT_SERVICE = 5000  # client listens here (host-originated datagram)
TCP_CLOSED = 9            # nobody listens (RST)
UDP_CLOSED = 9999         # nobody listens (ICMP port unreachable)

LISTENERS = {
    "host": [("tcp", TCP_SERVICE), ("udp", UDP_SERVICE)],
    "client": [("tcp", TCP_CLIENT_SERVICE), ("udp", UDP_CLIENT_SERVICE)],
    "inner": [("tcp", TCP_SERVICE), ("udp", UDP_SERVICE)],
}


@dataclass
class Flow:
    """One flow a phase intends to create, oriented from its initiator."""
    proto: str                 # tcp, udp, icmp (echo; icmp6 for IPv6)
    src: str
    sport: int                 # for ICMP echo: the identifier
    dst: str
    dport: int                 # for ICMP echo: 0
    listener: bool = True      # does the responder have a socket for it?
    size: int = 0              # UDP payload size when it is not a small datagram


@dataclass
class Phase:
    name: str
    ns: str                    # namespace the phase's process runs in
    fam: int
    what: str                  # one line for humans
    action: str                # function name below
    flows: list = field(default_factory=list)
    count: int = 1             # echo requests / UDP request-response rounds


def _plan():
    phases = []
    for fam in (4, 6):
        a = ADDR[fam]
        base = 40000 if fam == 4 else 46000
        icmp = "icmp" if fam == 4 else "icmp6"
        idb = 0x4300 if fam == 4 else 0x6300
        c, h, i = a["client"], a["host"], a["inner"]
        P = lambda *args, **kw: phases.append(Phase(*args, **kw))  # noqa: E731
        P(f"ping{fam}-client-host", "client", fam,
          f"client pings host twice ({'ARP' if fam == 4 else 'neighbour discovery'} for the host first)",
          "ping", [Flow(icmp, c, idb + 1, h, 0)], count=2)
        P(f"tcp{fam}-client-host", "client", fam,
          f"client:{base + 80} -> host:{TCP_SERVICE}: handshake, request, response, client closes first",
          "tcp_exchange", [Flow("tcp", c, base + 80, h, TCP_SERVICE)])
        P(f"tcp{fam}-host-client", "host", fam,
          f"host:{base + 90} -> client:{TCP_CLIENT_SERVICE}: active open by the host, data both ways, host closes first",
          "tcp_exchange", [Flow("tcp", h, base + 90, c, TCP_CLIENT_SERVICE)])
        P(f"tcp{fam}-closed", "client", fam,
          f"client:{base + 9} -> host:{TCP_CLOSED}: SYN to a closed port, answered by RST",
          "tcp_closed", [Flow("tcp", c, base + 9, h, TCP_CLOSED, listener=False)])
        P(f"udp{fam}-client-host", "client", fam,
          f"client:{base + 53} -> host:{UDP_SERVICE}: two request/response rounds",
          "udp_exchange", [Flow("udp", c, base + 53, h, UDP_SERVICE)], count=2)
        P(f"udp{fam}-closed", "client", fam,
          f"client:{base + 99} -> host:{UDP_CLOSED}: datagram to a closed port, answered by port unreachable",
          "udp_closed", [Flow("udp", c, base + 99, h, UDP_CLOSED, listener=False)])
        P(f"udp{fam}-host-client", "host", fam,
          f"host:{base + 50} -> client:{UDP_CLIENT_SERVICE}: host-originated datagram, client answers",
          "udp_exchange", [Flow("udp", h, base + 50, c, UDP_CLIENT_SERVICE)], count=1)
        P(f"frag{fam}-client-host", "client", fam,
          f"client:{base + 30} -> host:{UDP_SERVICE}: {FRAG_SIZE}-byte datagram, {FRAG_SIZE}-byte answer (both fragmented)",
          "udp_exchange", [Flow("udp", c, base + 30, h, UDP_SERVICE, size=FRAG_SIZE)], count=1)
        P(f"ping{fam}-host-client", "host", fam, "host pings client twice",
          "ping", [Flow(icmp, h, idb + 2, c, 0)], count=2)
        P(f"fwd{fam}-ping", "client", fam, "client pings inner twice (forwarded by the host)",
          "ping", [Flow(icmp, c, idb + 3, i, 0)], count=2)
        P(f"fwd{fam}-ping-inner", "inner", fam, "inner pings client twice (forwarded by the host)",
          "ping", [Flow(icmp, i, idb + 4, c, 0)], count=2)
        P(f"fwd{fam}-tcp", "client", fam,
          f"client:{base + 180} -> inner:{TCP_SERVICE}: full TCP exchange, forwarded",
          "tcp_exchange", [Flow("tcp", c, base + 180, i, TCP_SERVICE)])
        P(f"fwd{fam}-tcp-closed", "client", fam,
          f"client:{base + 109} -> inner:{TCP_CLOSED}: SYN to a closed port of inner, RST, forwarded",
          "tcp_closed", [Flow("tcp", c, base + 109, i, TCP_CLOSED, listener=False)])
        P(f"fwd{fam}-udp", "client", fam,
          f"client:{base + 153} -> inner:{UDP_SERVICE}: one request/response, forwarded",
          "udp_exchange", [Flow("udp", c, base + 153, i, UDP_SERVICE)], count=1)
        P(f"fwd{fam}-udp-closed", "client", fam,
          f"client:{base + 199} -> inner:{UDP_CLOSED}: closed port of inner, port unreachable, forwarded",
          "udp_closed", [Flow("udp", c, base + 199, i, UDP_CLOSED, listener=False)])
        P(f"fwd{fam}-frag", "client", fam,
          f"client:{base + 130} -> inner:{UDP_SERVICE}: {FRAG_SIZE}-byte datagram and answer, fragments forwarded",
          "udp_exchange", [Flow("udp", c, base + 130, i, UDP_SERVICE, size=FRAG_SIZE)], count=1)
    return phases


PHASES = _plan()


def log(msg):
    print(msg, flush=True)


def family(fam):
    return socket.AF_INET if fam == 4 else socket.AF_INET6


def sockaddr(fam, addr, port):
    return (addr, port) if fam == 4 else (addr, port, 0, 0)


def fam_of(addr):
    return 6 if ":" in addr else 4


def recv_exact(sock, n):
    buf = b""
    for _ in range(1000):
        if len(buf) >= n:
            break
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def recv_line(sock, limit=4096):
    buf = b""
    for _ in range(1000):
        if b"\n" in buf or len(buf) >= limit:
            break
        chunk = sock.recv(limit - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def wait_eof(sock):
    for _ in range(1000):
        if not sock.recv(4096):
            return True
    return False


# ---------------------------------------------------------------- messages

def tcp_request(flow):
    return f"strata tcp request {flow.src} {flow.sport}\n".encode()


def tcp_response(req):
    return b"strata tcp response to " + req


def udp_request(flow, n):
    if flow.size:
        return bytes((i * 7 + n) & 0xFF for i in range(flow.size))
    return f"strata udp request {n} from {flow.src} {flow.sport}\n".encode()


def udp_response(req):
    if len(req) > 512:
        return bytes(b ^ 0x55 for b in req)   # same length: fragmented in the other direction too
    return b"strata udp response to " + req


ECHO_PAYLOAD = bytes(range(0x20, 0x20 + 48))


# ---------------------------------------------------------------- phases (the initiator's side)

def tcp_exchange(ph, flow):
    fam = ph.fam
    s = socket.socket(family(fam), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.bind(sockaddr(fam, flow.src, flow.sport))
        s.connect(sockaddr(fam, flow.dst, flow.dport))      # SYN, SYN-ACK, final ACK
        time.sleep(PAUSE)
        req = tcp_request(flow)
        s.sendall(req)                                        # data -> (server ACKs it)
        resp = recv_exact(s, len(tcp_response(req)))          # <- data (after the server's pause)
        if resp != tcp_response(req):
            raise RuntimeError(f"unexpected response {resp!r}")
        time.sleep(PAUSE)                                     # our ACK of the response goes out alone
        s.shutdown(socket.SHUT_WR)                            # FIN -> (server ACKs it)
        if not wait_eof(s):                                   # <- server's FIN after its pause; we ACK
            raise RuntimeError("no FIN from the server")
    finally:
        s.close()


def tcp_closed(ph, flow):
    fam = ph.fam
    s = socket.socket(family(fam), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.bind(sockaddr(fam, flow.src, flow.sport))
        try:
            s.connect(sockaddr(fam, flow.dst, flow.dport))
        except ConnectionRefusedError:
            return
        raise RuntimeError("connect to a closed port succeeded")
    finally:
        s.close()


def udp_exchange(ph, flow):
    fam = ph.fam
    s = socket.socket(family(fam), socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    try:
        if fam == 4 and flow.size:
            s.setsockopt(socket.IPPROTO_IP, 10, 0)    # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: DF off
        s.bind(sockaddr(fam, flow.src, flow.sport))
        for n in range(1, ph.count + 1):
            if n > 1:
                time.sleep(PAUSE)
            req = udp_request(flow, n)
            s.sendto(req, sockaddr(fam, flow.dst, flow.dport))
            data, peer = s.recvfrom(65535)
            if data != udp_response(req):
                raise RuntimeError(f"unexpected answer from {peer}")
    finally:
        s.close()


def udp_closed(ph, flow):
    fam = ph.fam
    s = socket.socket(family(fam), socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    try:
        s.bind(sockaddr(fam, flow.src, flow.sport))
        s.connect(sockaddr(fam, flow.dst, flow.dport))  # connected: the ICMP error is reported to us
        s.send(udp_request(flow, 1))
        try:
            s.recv(65535)
        except ConnectionRefusedError:
            return
        raise RuntimeError("a closed port answered")
    finally:
        s.close()


def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ping(ph, flow):
    fam = ph.fam
    if fam == 4:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        req_type, rep_type = 8, 0
    else:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        req_type, rep_type = 128, 129
    s.settimeout(TIMEOUT)
    try:
        s.bind(sockaddr(fam, flow.src, 0))
        for seq in range(1, ph.count + 1):
            if seq > 1:
                time.sleep(PAUSE)
            msg = struct.pack("!BBHHH", req_type, 0, 0, flow.sport, seq) + ECHO_PAYLOAD
            if fam == 4:
                msg = msg[:2] + struct.pack("!H", inet_checksum(msg)) + msg[4:]
            # (the kernel computes the ICMPv6 checksum of a raw ICMPv6 socket)
            s.sendto(msg, sockaddr(fam, flow.dst, 0))
            deadline = time.monotonic() + TIMEOUT
            for _ in range(100):
                if time.monotonic() > deadline:
                    raise RuntimeError("no echo reply")
                data = s.recv(65535)
                if fam == 4:
                    data = data[(data[0] & 0x0F) * 4:]     # raw IPv4 sockets deliver the IP header
                if len(data) >= 8:
                    t, _, _, ident, sq = struct.unpack("!BBHHH", data[:8])
                    if t == rep_type and ident == flow.sport and sq == seq:
                        break
            else:
                raise RuntimeError("no echo reply")
    finally:
        s.close()


ACTIONS = {"tcp_exchange": tcp_exchange, "tcp_closed": tcp_closed, "udp_exchange": udp_exchange,
           "udp_closed": udp_closed, "ping": ping}


def run_phase(name):
    for ph in PHASES:
        if ph.name == name:
            break
    else:
        sys.exit(f"traffic.py: no phase {name!r}")
    log(f"phase {ph.name} [{ph.ns}]: {ph.what}")
    for flow in ph.flows:
        ACTIONS[ph.action](ph, flow)


# ---------------------------------------------------------------- servers (the responder's side)

def serve_tcp_conn(conn):
    try:
        conn.settimeout(TIMEOUT)
        req = recv_line(conn)
        if not req:
            return
        time.sleep(PAUSE)            # the request's ACK goes out alone
        conn.sendall(tcp_response(req))
        wait_eof(conn)               # the peer's FIN (we ACK it, delayed)
        time.sleep(PAUSE)            # ... so the ACK of the FIN goes out before our FIN
    except OSError as e:
        log(f"serve: tcp connection: {e}")
    finally:
        conn.close()


def serve(role, lifetime, ready_file):
    socks = []
    for proto, port in LISTENERS[role]:
        for fam in (4, 6):
            s = socket.socket(family(fam), socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == 6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(sockaddr(fam, "0.0.0.0" if fam == 4 else "::", port))
            if proto == "tcp":
                s.listen(8)
            socks.append((proto, s))
    if ready_file:
        with open(ready_file, "w") as f:
            f.write(f"{os.getpid()}\n")
    log(f"serve {role}: listening on " + ", ".join(f"{p}/{s.getsockname()[1]}" for p, s in socks[::2]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + lifetime
    by_fd = {s.fileno(): (p, s) for p, s in socks}
    threads = []
    while time.monotonic() < deadline:
        readable, _, _ = select.select(list(by_fd), [], [], 0.5)
        for fd in readable:
            proto, s = by_fd[fd]
            if proto == "tcp":
                conn, _ = s.accept()
                t = threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True)
                t.start()
                threads.append(t)
            else:
                data, peer = s.recvfrom(65535)
                s.sendto(udp_response(data), peer)
        threads = [t for t in threads if t.is_alive()]
    log(f"serve {role}: lifetime over")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("plan")
    sp = sub.add_parser("serve")
    sp.add_argument("role", choices=sorted(LISTENERS))
    sp.add_argument("--lifetime", type=float, default=180.0)
    sp.add_argument("--ready-file")
    pp = sub.add_parser("phase")
    pp.add_argument("name")
    args = ap.parse_args()
    if args.cmd == "plan":
        for ph in PHASES:
            print(ph.name, ph.ns)
    elif args.cmd == "serve":
        serve(args.role, args.lifetime, args.ready_file)
    else:
        run_phase(args.name)


if __name__ == "__main__":
    main()
