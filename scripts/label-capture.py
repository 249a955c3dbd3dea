#!/usr/bin/env python3
"""Label every frame of a capture made by scripts/make-capture (stdlib only).

    label-capture.py [--check] [--markdown] [--local ADDR ...] CAPTURE.pcap > CAPTURE.frames.tsv

Reads the classic pcap format by hand (struct), Ethernet link type, and writes one tab-separated line
per frame, labelled from the frame's own bytes, from the observed host's addresses, and from the
generator's plan (scripts/traffic.py: which phase made which flow, and whether a listener was meant to
be there). It never uses strata: its output is the oracle's input.

Columns (a header line starting with '#' comes first):
  frame     1-based frame number in the capture
  dir       relative to the observed host: in, out, fwd, loop, or - (no IP layer: ARP)
  fam       4, 6 or -
  proto     tcp, udp, icmp, icmp6, arp
  kind      tcp: syn, syn_ack, final_ack (the handshake's third segment), data, ack (pure ACK), fin,
            data_fin, rst, syn_retx;
            udp: udp_first (first datagram of the flow), udp (later datagrams), udp_closed (answered by
            port unreachable: no listener);
            fragments: frag_first (offset 0), frag_more (offset > 0, more follow), frag_last;
            icmp/icmp6: echo_req, echo_rep, icmp_unreach (destination/port unreachable), icmp_err
            (other errors), nd_ns, nd_na, rs, ra, redirect, mld_query, mld_report, mld_done, icmp_other;
            arp: arp_req, arp_rep
  flow      the flow, oriented from its initiator: "tcp 10.99.1.1:40080 > 10.99.1.2:8080",
            "udp [fd99:1::1]:46053 > [fd99:1::2]:5353", "icmp 10.99.1.1 > 10.99.1.2 echo id=17153";
            for ICMP errors and ND/MLD: "icmp6 SRC > DST type=T code=C" (the frame's own addresses);
            for ARP: "arp SENDER > TARGET"
  new       1 when the frame (for fragments: its datagram) starts a flow not seen before in the capture,
            0 otherwise; ICMP errors and ND/MLD use the key (family, protocol, addresses, type, code)
  listener  for an inbound datagram/SYN that starts a flow at the host: yes or no (inferred from the
            host's answer: RST or port unreachable means no); - otherwise
  bind      for an outbound packet that starts a TCP or UDP flow: yes when its local endpoint (protocol,
            address, port) has neither sent nor received before in the capture (every TCP active open:
            yes), no otherwise; - for everything else (ICMP has no ports and never binds)
  frag      - or "id=0x1234 off=1480 mf=1" (IPv4 identification or IPv6 fragment header identification)
  datagram  for fragments: the kind of the whole (reassembled) datagram, e.g. udp_first; - otherwise
  tcpflags  tcpdump-style flags ("S", "S.", ".", "P.", "F.", "R.") or -
  len       transport payload bytes in this frame (TCP data, UDP payload, ICMP message; for a fragment:
            the bytes of the fragment's data)
  phase     the generator phase that made the frame (neighbour resolution is counted in the phase whose
            packet triggered it)
  note      free text: for ICMP errors the flow of the quoted packet, for ND the target address, ...

--check compares the capture with the plan: every phase's frames, in order, must be exactly the
sequence the generator intends; listener inference must match the plan. Exit 1 on a mismatch.
--markdown prints per-phase tables (for tests/data/strata-demo.md) instead of the TSV.
"""

import argparse
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import traffic  # noqa: E402  (the generator's plan)


def mac_to_link_local(mac):
    b = bytearray(int(x, 16) for x in mac.split(":"))
    b[0] ^= 0x02
    eui = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
    return ipaddress.IPv6Address(b"\xfe\x80" + b"\0" * 6 + eui)


def host_addresses():
    a4, a6 = traffic.ADDR[4], traffic.ADDR[6]
    return [a4["host"], a4["host_inner"], a6["host"], a6["host_inner"],
            str(mac_to_link_local(traffic.MAC["host"])), str(mac_to_link_local(traffic.MAC["host_inner"]))]


# ------------------------------------------------------------------ pcap

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit(f"{path}: not a pcap file (too short)")
    magic = data[:4]
    forms = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
             b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
    if magic not in forms:
        raise SystemExit(f"{path}: not a classic pcap file (magic {magic.hex()})")
    e, unit = forms[magic]
    _, _, _, _, _, linktype = struct.unpack(e + "HHiIII", data[4:24])
    linktype &= 0x0FFFFFFF
    if linktype != 1:
        raise SystemExit(f"{path}: link type {linktype}, expected 1 (Ethernet)")
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            raise SystemExit(f"{path}: truncated record at byte {off - 16}")
        frames.append((sec + frac * unit, data[off:off + incl], orig))
        off += incl
    return frames


# ------------------------------------------------------------------ parsing

class Pkt:
    """What one frame holds, as far as labelling needs it."""

    def __init__(self):
        self.l3 = None         # "arp", 4, 6
        self.src = self.dst = None
        self.proto = None      # tcp udp icmp icmp6
        self.frag = None       # (ident, offset, more)
        self.l4 = None         # bytes of the transport header+payload (unfragmented or first fragment)
        self.frag_len = 0
        self.frag_body = b""   # a fragment's data (for rebuilding a datagram whose first fragment is short)
        self.arp = None        # (op, sender ip, target ip)
        self.sport = self.dport = None
        self.flags = 0
        self.paylen = 0
        self.icmp = None       # (type, code, ident, seq)
        self.quoted = None     # flow tuple quoted by an ICMP error: (proto, src, sport, dst, dport)


PROTO = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}


def parse_l3(p, fam, b):
    """Parse an IP packet (IPv4/IPv6 header onward). Returns False when it is cut short."""
    if fam == 4:
        if len(b) < 20:
            return False
        ihl = (b[0] & 0x0F) * 4
        total = struct.unpack("!H", b[2:4])[0]
        ident, fl = struct.unpack("!HH", b[4:8])
        proto = b[9]
        p.src, p.dst = ipaddress.IPv4Address(b[12:16]), ipaddress.IPv4Address(b[16:20])
        body = b[ihl:min(total, len(b))]
        off, more = (fl & 0x1FFF) * 8, bool(fl & 0x2000)
        if off or more:
            p.frag = (ident, off, more)
    else:
        if len(b) < 40:
            return False
        plen = struct.unpack("!H", b[4:6])[0]
        nh = b[6]
        p.src, p.dst = ipaddress.IPv6Address(b[8:24]), ipaddress.IPv6Address(b[24:40])
        body = b[40:40 + plen]
        for _ in range(16):
            if nh in (0, 43, 60) and len(body) >= 8:
                nh, body = body[0], body[(body[1] + 1) * 8:]
            elif nh == 51 and len(body) >= 8:
                nh, body = body[0], body[(body[1] + 2) * 4:]
            elif nh == 44 and len(body) >= 8:
                offlg, ident = struct.unpack("!HI", body[2:8])
                p.frag = (ident, offlg & 0xFFF8, bool(offlg & 1))
                nh, body = body[0], body[8:]
            else:
                break
        proto = nh
    p.proto = PROTO.get(proto, f"ip{proto}")
    p.frag_len = len(body)
    p.frag_body = body
    if p.frag and p.frag[1] != 0:
        return True            # no transport header in a later fragment
    p.l4 = body
    return True


def parse_l4(p, quoted=False):
    b = p.l4
    if p.proto == "tcp" and len(b) >= 20:
        p.sport, p.dport = struct.unpack("!HH", b[:4])
        doff = (b[12] >> 4) * 4
        p.flags = b[13]
        p.paylen = max(0, len(b) - doff)
    elif p.proto == "udp" and len(b) >= 8:
        p.sport, p.dport, ulen = struct.unpack("!HHH", b[:6])
        p.paylen = ulen - 8 if not p.frag else len(b) - 8
    elif p.proto in ("icmp", "icmp6") and len(b) >= 4:
        t, c = b[0], b[1]
        ident, seq = struct.unpack("!HH", b[4:8]) if len(b) >= 8 else (0, 0)
        p.icmp = (t, c, ident, seq)
        p.paylen = len(b)
        is_err = (p.proto == "icmp" and t in (3, 4, 5, 11, 12)) or (p.proto == "icmp6" and t < 128)
        if is_err and not quoted and len(b) >= 8:
            q = Pkt()
            if parse_l3(q, 4 if p.proto == "icmp" else 6, b[8:]) and q.l4 is not None:
                parse_l4(q, quoted=True)
                p.quoted = (q.proto, q.src, q.sport, q.dst, q.dport)


def parse_frame(raw):
    p = Pkt()
    if len(raw) < 14:
        return p
    et, off = struct.unpack("!H", raw[12:14])[0], 14
    for _ in range(2):
        if et in (0x8100, 0x88A8) and len(raw) >= off + 4:
            et, off = struct.unpack("!H", raw[off + 2:off + 4])[0], off + 4
    b = raw[off:]
    if et == 0x0806 and len(b) >= 28:
        p.l3 = "arp"
        op = struct.unpack("!H", b[6:8])[0]
        p.arp = (op, ipaddress.IPv4Address(b[14:18]), ipaddress.IPv4Address(b[24:28]), b[8:14].hex(":"))
    elif et in (0x0800, 0x86DD):
        p.l3 = 4 if et == 0x0800 else 6
        if parse_l3(p, p.l3, b) and p.l4 is not None:
            parse_l4(p)
    return p


# ------------------------------------------------------------------ labelling

def fmt_ep(addr, port):
    return f"[{addr}]:{port}" if addr.version == 6 else f"{addr}:{port}"


def tcp_flag_str(f):
    s = "".join(ch for bit, ch in ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P")) if f & bit)
    if f & 0x10:
        s += "."
    s += "".join(ch for bit, ch in ((0x20, "U"), (0x40, "E"), (0x80, "W")) if f & bit)
    return s or "none"


BROADCAST = {ipaddress.ip_address(a) for a in ("255.255.255.255", "10.99.1.255", "10.99.2.255")}

ICMP6_KINDS = {133: "rs", 134: "ra", 135: "nd_ns", 136: "nd_na", 137: "redirect",
               130: "mld_query", 131: "mld_report", 143: "mld_report", 132: "mld_done"}


class Labeller:
    def __init__(self, locals_):
        self.local = {ipaddress.ip_address(a) for a in locals_}
        self.tcp = {}        # conn key -> dict(init=(addr,port), state=...)
        self.flows = set()   # non-TCP flow keys seen
        self.udp_init = {}   # UDP flow key -> (initiator, responder) endpoints
        self.endpoints = set()  # (proto, local address, local port) of the host that sent or received
        self.frags = {}      # (fam, src, dst, proto, ident) -> (flow string, datagram kind, new, listener, phase key)

    def direction(self, p):
        sl, dl = p.src in self.local, p.dst in self.local
        group = p.dst.is_multicast or p.dst in BROADCAST
        if sl and dl:
            return "loop"
        if sl:
            return "out"
        if dl or (group and not sl):
            return "in"
        return "fwd"

    def label(self, frames, pkts):
        # Look-ahead facts: which flows the host (or anyone) refused.
        refused = set()   # (proto, src, sport, dst, dport) of SYNs answered by RST / datagrams answered by unreachable
        for p in pkts:
            if p.proto == "tcp" and p.sport is not None and p.flags & 0x04:
                refused.add(("tcp", p.dst, p.dport, p.src, p.sport))
            if p.quoted and p.icmp and ((p.proto == "icmp" and p.icmp[0] == 3 and p.icmp[1] == 3)
                                        or (p.proto == "icmp6" and p.icmp[0] == 1 and p.icmp[1] == 4)):
                refused.add(p.quoted)
        # Datagrams by fragment key, for a first fragment too short to hold its transport header: the
        # datagram is what the sender classified (traversal.md §5), so it is labelled from its bytes.
        self.parts = {}
        for p in pkts:
            if p.frag and p.l3 in (4, 6):
                self.parts.setdefault((p.l3, p.src, p.dst, p.proto, p.frag[0]), []).append(p)
        rows = []
        for n, p in enumerate(pkts, 1):
            rows.append(self.label_one(n, p, refused))
        return rows

    def whole(self, fkey, first):
        """The first fragment `first` with the whole datagram's transport bytes, when the capture holds
        every fragment of it without gaps; None otherwise."""
        data, end = b"", None
        for q in sorted(self.parts.get(fkey, []), key=lambda q: q.frag[1]):
            if q.frag[1] > len(data):
                return None
            data = data[:q.frag[1]] + q.frag_body if q.frag[1] + len(q.frag_body) > len(data) else data
            if not q.frag[2]:
                end = q.frag[1] + len(q.frag_body)
                break
        if end is None or len(data) < end:
            return None
        w = Pkt()
        w.__dict__.update(first.__dict__)
        w.l4, w.sport, w.dport, w.flags, w.paylen, w.icmp, w.quoted = data[:end], None, None, 0, 0, None, None
        parse_l4(w)
        return w

    def label_one(self, n, p, refused):
        r = dict(frame=n, dir="-", fam="-", proto="-", kind="?", flow="-", new="-", listener="-", bind="-", frag="-",
                 datagram="-", tcpflags="-", len=0, note="", key=None)
        if p.l3 == "arp":
            op, sender, target, _ = p.arp
            r.update(proto="arp", kind={1: "arp_req", 2: "arp_rep"}.get(op, f"arp_op{op}"),
                     flow=f"arp {sender} > {target}",
                     note=f"who-has {target} tell {sender}" if op == 1 else f"{sender} is-at {p.arp[3]}")
            return r
        if p.l3 is None:
            r.update(kind="non_ip")
            return r
        r.update(dir=self.direction(p), fam=str(p.l3), proto=p.proto)
        if p.frag:
            ident, off, more = p.frag
            r["frag"] = f"id=0x{ident:x} off={off} mf={int(more)}"
            r["kind"] = "frag_first" if off == 0 else ("frag_more" if more else "frag_last")
            r["len"] = p.frag_len
            fkey = (p.l3, p.src, p.dst, p.proto, ident)
            if off == 0:
                if p.sport is None and p.icmp is None:  # the transport header is cut: the datagram's
                    p = self.whole(fkey, p) or p
                sub = self.label_transport(dict(r), p, refused)
                self.frags[fkey] = sub
            sub = self.frags.get(fkey)
            if sub:
                r.update(flow=sub["flow"], new=sub["new"], listener=sub["listener"], bind=sub["bind"],
                         datagram=sub["kind"],
                         key=sub["key"], note=sub["note"])
            else:
                r["note"] = "fragment of a datagram whose first fragment was not seen before"
            return r
        return self.label_transport(r, p, refused)

    def label_transport(self, r, p, refused):
        fam = p.l3
        if p.proto == "tcp" and p.sport is not None:
            a, b = (p.src, p.sport), (p.dst, p.dport)
            ck = (fam, frozenset((a, b)))
            c = self.tcp.get(ck)
            f = p.flags
            syn, ack, fin, rst = f & 0x02, f & 0x10, f & 0x01, f & 0x04
            r.update(tcpflags=tcp_flag_str(f), len=p.paylen, new="0")
            if syn and not ack:
                if c is None or c["state"] in ("closed", "fin", "est"):
                    c = self.tcp[ck] = dict(init=a, resp=b, state="syn", fins=set())
                    r.update(kind="syn", new="1")
                    if r["dir"] == "out":
                        r["bind"] = "yes"      # every active open takes a fresh endpoint
                    if r["dir"] == "in":
                        r["listener"] = "no" if ("tcp", p.src, p.sport, p.dst, p.dport) in refused else "yes"
                else:
                    r["kind"] = "syn_retx"
            elif c is None:
                c = self.tcp[ck] = dict(init=a, resp=b, state="est", fins=set())
                r.update(kind="data" if p.paylen else "ack", new="1", note="mid-stream pickup")
            elif syn and ack:
                r["kind"] = "syn_ack"
                c["state"] = "synack"
            elif rst:
                r["kind"] = "rst"
                c["state"] = "closed"
            elif fin:
                r["kind"] = "data_fin" if p.paylen else "fin"
                c["fins"].add(a)
                c["state"] = "fin"
            elif c["state"] == "synack" and a == c["init"] and ack:
                r["kind"] = "final_ack"
                c["state"] = "est"
            else:
                r["kind"] = "data" if p.paylen else "ack"
                if c["state"] == "fin" and len(c["fins"]) == 2 and not p.paylen:
                    c["state"] = "closed"
            init, resp = c["init"], c["resp"]
            r["flow"] = f"tcp {fmt_ep(*init)} > {fmt_ep(*resp)}"
            r["key"] = ("tcp", init[0], init[1], resp[0], resp[1])
            return r
        if p.proto == "udp" and p.sport is not None:
            a, b = (p.src, p.sport), (p.dst, p.dport)
            fk = (fam, "udp", frozenset((a, b)))
            new = fk not in self.flows
            if new:
                self.flows.add(fk)
                self.udp_init[fk] = (a, b)
            init, resp = self.udp_init[fk]
            closed = ("udp", p.src, p.sport, p.dst, p.dport) in refused
            r.update(kind="udp_closed" if closed else ("udp_first" if new else "udp"), new="1" if new else "0",
                     len=p.paylen if not p.frag else r["len"],
                     flow=f"udp {fmt_ep(*init)} > {fmt_ep(*resp)}",
                     key=("udp", init[0], init[1], resp[0], resp[1]))
            if new and r["dir"] == "in":
                r["listener"] = "no" if closed else "yes"
            if r["dir"] in ("in", "out"):
                ep = ("udp", p.src, p.sport) if r["dir"] == "out" else ("udp", p.dst, p.dport)
                if new and r["dir"] == "out":
                    r["bind"] = "no" if ep in self.endpoints else "yes"
                if r["dir"] == "out" or not closed:
                    self.endpoints.add(ep)
            return r
        if p.proto in ("icmp", "icmp6") and p.icmp:
            t, code, ident, seq = p.icmp
            v6 = p.proto == "icmp6"
            r["len"] = p.paylen
            echo_req, echo_rep = (128, 129) if v6 else (8, 0)
            if t in (echo_req, echo_rep):
                init, resp = (p.src, p.dst) if t == echo_req else (p.dst, p.src)
                fk = (fam, p.proto, "echo", init, resp, ident)
                new = fk not in self.flows
                self.flows.add(fk)
                r.update(kind="echo_req" if t == echo_req else "echo_rep", new="1" if new else "0",
                         flow=f"{p.proto} {init} > {resp} echo id={ident}", note=f"seq={seq}",
                         key=(p.proto, init, ident, resp, 0))
                if new and r["dir"] == "in":
                    r["listener"] = "yes"
                return r
            fk = (fam, p.proto, frozenset((p.src, p.dst)), t, code)
            new = fk not in self.flows
            self.flows.add(fk)
            r.update(new="1" if new else "0", flow=f"{p.proto} {p.src} > {p.dst} type={t} code={code}")
            is_err = (not v6 and t in (3, 4, 5, 11, 12)) or (v6 and t < 128)
            if is_err:
                unreach = (not v6 and t == 3) or (v6 and t == 1)
                r["kind"] = "icmp_unreach" if unreach else "icmp_err"
                if p.quoted:
                    qp, qs, qsp, qd, qdp = p.quoted
                    r["note"] = f"quotes {qp} {fmt_ep(qs, qsp)} > {fmt_ep(qd, qdp)}"
                    r["key"] = p.quoted
                return r
            r["kind"] = ICMP6_KINDS.get(t, "icmp_other") if v6 else "icmp_other"
            if v6 and t in (135, 136) and len(p.l4) >= 24:
                r["note"] = f"target {ipaddress.IPv6Address(p.l4[8:24])}"
            if new and r["dir"] == "in":
                r["listener"] = "yes"
            r["key"] = "neighbour"
            return r
        r["kind"] = "other"
        return r


# ------------------------------------------------------------------ the plan: phases and expected frames

def frag_count(fam, size):
    per = (1500 - 20) // 8 * 8 if fam == 4 else (1500 - 40 - 8) // 8 * 8
    return -(-(size + 8) // per)


def expected(ph):
    """The frames a phase should produce: list of (kind, 'i'|'r') where i = initiator -> responder."""
    out = []
    if ph.name in ("ping4-client-host",):
        out += [("arp_req", "i"), ("arp_rep", "r")]
    if ph.name in ("ping6-client-host",):
        out += [("nd_ns", "i"), ("nd_na", "r")]
    for fl in ph.flows:
        if ph.action == "ping":
            out += [("echo_req", "i"), ("echo_rep", "r")] * ph.count
        elif ph.action == "tcp_exchange":
            out += [("syn", "i"), ("syn_ack", "r"), ("final_ack", "i"), ("data", "i"), ("ack", "r"),
                    ("data", "r"), ("ack", "i"), ("fin", "i"), ("ack", "r"), ("fin", "r"), ("ack", "i")]
        elif ph.action == "tcp_closed":
            out += [("syn", "i"), ("rst", "r")]
        elif ph.action == "udp_closed":
            out += [("udp_closed", "i"), ("icmp_unreach", "r")]
        elif ph.action == "udp_exchange":
            for k in range(ph.count):
                if fl.size:
                    nf = frag_count(ph.fam, fl.size)
                    for who in "ir":
                        out += [("frag_first", who)] + [("frag_more", who)] * (nf - 2) + [("frag_last", who)]
                else:
                    out += [("udp_first" if k == 0 else "udp", "i"), ("udp", "r")]
    return out


def assign_phases(rows):
    """Name each frame's phase from the plan's flows; neighbour frames join the next frame's phase."""
    by_key = {}
    for ph in traffic.PHASES:
        for fl in ph.flows:
            k = (fl.proto, ipaddress.ip_address(fl.src), fl.sport, ipaddress.ip_address(fl.dst), fl.dport)
            by_key[k] = (ph, fl)
            by_key[(k[0], k[3], k[4], k[1], k[2])] = (ph, fl)
    pending = []
    for r in rows:
        hit = by_key.get(r["key"]) if isinstance(r["key"], tuple) else None
        if hit:
            r["phase"], r["plan"] = hit[0].name, hit
            for q in pending:
                q["phase"] = hit[0].name
            pending = []
        else:
            r["phase"], r["plan"] = "-", None
            pending.append(r)


def check(rows):
    errors = []
    order = [ph.name for ph in traffic.PHASES]
    seen = []
    for r in rows:
        if r["phase"] == "-":
            errors.append(f"frame {r['frame']}: belongs to no phase ({r['kind']} {r['flow']})")
        elif not seen or seen[-1] != r["phase"]:
            seen.append(r["phase"])
    if seen != order:
        errors.append(f"phases out of order or repeated: {seen}")
    for ph in traffic.PHASES:
        got = []
        for r in rows:
            if r["phase"] != ph.name:
                continue
            fl = ph.flows[0]
            who = "i" if r["src"] == ipaddress.ip_address(fl.src) else "r"
            got.append((r["kind"], who))
            if r["listener"] != "-" and r["plan"] and r["listener"] != ("yes" if r["plan"][1].listener else "no"):
                errors.append(f"frame {r['frame']}: listener {r['listener']}, plan says {r['plan'][1].listener}")
        want = expected(ph)
        if got != want:
            errors.append(f"phase {ph.name}: got {got}, want {want}")
    return errors


COLUMNS = ["frame", "dir", "fam", "proto", "kind", "flow", "new", "listener", "bind", "frag", "datagram", "tcpflags",
           "len", "phase", "note"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture")
    ap.add_argument("--local", action="append", help="an address of the observed host (default: the plan's)")
    ap.add_argument("--check", action="store_true", help="fail unless the capture is exactly the plan's")
    ap.add_argument("--markdown", action="store_true", help="print per-phase markdown tables")
    args = ap.parse_args()
    frames = read_pcap(args.capture)
    pkts = [parse_frame(raw) for _, raw, _ in frames]
    lab = Labeller(args.local or host_addresses())
    rows = lab.label(frames, pkts)
    for r, p in zip(rows, pkts):
        r["src"] = p.arp[1] if p.arp else p.src   # who sent it (the check orients frames by it)
    assign_phases(rows)
    if args.check:
        errors = check(rows)
        if errors:
            for e in errors:
                print(f"label-capture: {e}", file=sys.stderr)
            sys.exit(1)
    if args.markdown:
        print_markdown(rows, frames)
        return
    print("#" + "\t".join(COLUMNS))
    for r in rows:
        print("\t".join(str(r[c]) if r[c] != "" else "-" for c in COLUMNS))


def print_markdown(rows, frames):
    what = {ph.name: ph for ph in traffic.PHASES}
    print("| frames | phase | what |")
    print("|---|---|---|")
    groups = []
    for r in rows:
        if groups and groups[-1][0] == r["phase"]:
            groups[-1][1].append(r)
        else:
            groups.append((r["phase"], [r]))
    for name, rs in groups:
        ph = what.get(name)
        print(f"| {rs[0]['frame']}–{rs[-1]['frame']} | `{name}` | {ph.what if ph else '?'} |")
    for name, rs in groups:
        ph = what.get(name)
        print(f"\n### Frames {rs[0]['frame']}–{rs[-1]['frame']}: `{name}`\n")
        print(f"{ph.what if ph else ''} (run in the `{ph.ns if ph else '?'}` namespace).\n")
        print("| frame | dir | kind | tcp | len | new | listener | bind | fragment | flow / note |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rs:
            kind = r["kind"] + (f" ({r['datagram']})" if r["datagram"] != "-" else "")
            # (without the identification, which differs from run to run)
            frag = r["frag"].split(" ", 1)[1] if r["frag"] != "-" else ""
            note = f"{r['flow']}" + (f"; {r['note']}" if r["note"] else "")
            tcp = r["tcpflags"] if r["tcpflags"] != "-" else ""
            print(f"| {r['frame']} | {r['dir']} | {kind} | {tcp} | {r['len']} | {r['new']} | {r['listener']} "
                  f"| {r['bind']} | {frag} | {note} |")


if __name__ == "__main__":
    main()
