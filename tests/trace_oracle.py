#!/usr/bin/env python3
"""The trace oracle: each frame's expected record, written from the spec alone (python3 stdlib only).

    trace_oracle.py expect --tsv FRAMES.tsv --policy P [--local ADDR ...]          expected JSONL on stdout
    trace_oracle.py check  --tsv FRAMES.tsv --policy P --classify BIN --pcap F [--local ADDR ...]
                           [--switch FRAME:POLICY ...]
    trace_oracle.py shared --classify BIN --shared-dir SHARED --labeller scripts/label-capture.py

`expect` reads a labelled frame list (tests/data/strata-demo.frames.tsv, made by scripts/label-capture.py
from the packets' bytes and the traffic generator's plan) and computes, for every frame, the record that
../shared/spec/traversal.md §4–8 and §10 prescribe: dir, the layers in order with their flags, the
deciding filter and action of a step where a filter matched, the verdict and its filter, `suppressed`
(§7) and `dup` (§6). `check` runs strata-classify on the capture (JSON Lines) and compares every frame's
record with the expectation; on a mismatch it prints the frame, its label row, the expected and the
actual record, and exits 1. `shared` does the same for every capture in SHARED/captures, which the
project has never seen: each is labelled from its bytes by scripts/label-capture.py (never by strata)
for one or two observed hosts (the destination of the first SYN; the source of the first IP packet) and
checked under every policy; captures the labeller or the oracle cannot describe (loopback) are skipped
with the reason, and frames the spec leaves open (IPv6 atomic fragments) are listed and not compared. A
first fragment too short for its transport header is labelled from the datagram its fragments rebuild
(suricata-verify's bug-6887 capture: an outbound TCP SYN cut after 8 bytes).

Nothing here comes from strata's engine (include/strata/engine.hpp): the layer rows are §4's tables, the
flow model is §2's, the policies are examples/policies.hpp's filters re-stated as data, and their
decisions follow ../shared/spec/arbitration.md with a small evaluator for just those filters.

Readings of the spec that the oracle commits to (each with the line that decides it):
  * The stack's own discards (SYN or datagram with no listener) end at the _DISCARD layer with verdict
    block and no filter (§7 "The stack's own discards (no listener) are indicated the same way, with no
    filter": the same way as a filter's block, whose "verdict is block").
  * A frame completing an inbound datagram carries INBOUND_IPPACKET (plain), INBOUND_IPPACKET
    (IS_FRAGMENT) for itself as a fragment, then INBOUND_IPPACKET (IS_REASSEMBLED) for the whole
    datagram, which takes the place of the first step of the §4 row that follows (§5 "INBOUND_IPPACKET
    with flag IS_REASSEMBLED, followed by the transport rows of §4"); no other step carries a flag.
  * A flow whose creation was blocked (at ALE_AUTH_RECV_ACCEPT, or a stack discard) is not in the flow
    table (§2: `syn_received` is entered when the remote SYN is *accepted*; §4: ALE_FLOW_ESTABLISHED,
    which establishes a non-TCP flow, is never reached; §7: the traversal ends at the discard layer).
    The next packet of that 5-tuple is therefore a new flow again: an inbound one is authorized again,
    an outbound one is an outbound new flow (ALE_AUTH_CONNECT …) from an endpoint already bound by its
    listener (§2 "an endpoint that received traffic for a listener was bound by that listener").
  * The stack answer (RST, ICMP error) to a packet blocked by a filter at a _DISCARD layer has no steps,
    verdict block, suppressed true and that filter (§7). An outbound RST answers the blocked SYN of the
    same 5-tuple; an ICMP error answers the packet it quotes (the label's note "quotes FLOW").
  * Non-TCP flows expire after 60 s without traffic (§2): when the capture is a classic pcap its
    timestamps are read, and a non-TCP flow idle for more than 60 s starts anew.
  * IPv6 atomic fragments (fragment header, offset 0, no more fragments) are not compared: §5 does not
    say whether they go through reassembly (RFC 6946 says to process them as unfragmented).
"""

import argparse
import ipaddress
import json
import os
import struct
import subprocess
import sys
import tempfile

class Unsupported(Exception):
    """A capture holds something the oracle does not model (loopback) or the labels do not describe."""


# --------------------------------------------------------------------------------------------------------
# Labelled frames

COLUMNS = ["frame", "dir", "fam", "proto", "kind", "flow", "new", "listener", "bind", "frag", "datagram",
           "tcpflags", "len", "phase", "note"]


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cells = line.split("\t")
            cells += [""] * (len(COLUMNS) - len(cells))
            row = dict(zip(COLUMNS, cells))
            row["frame"] = int(row["frame"])
            row["len"] = int(row["len"]) if row["len"] not in ("", "-") else 0
            row["_line"] = line
            rows.append(row)
    for i, r in enumerate(rows, 1):
        if r["frame"] != i:
            raise SystemExit(f"{path}: frame numbers must be 1, 2, 3, ... (row {i} says {r['frame']})")
    return rows


def parse_endpoint(text):
    """'10.99.1.1:40080' or '[fd99:1::1]:46080' -> (address, port)."""
    if text.startswith("["):
        addr, _, port = text[1:].partition("]:")
        return ipaddress.ip_address(addr), int(port)
    addr, _, port = text.rpartition(":")
    return ipaddress.ip_address(addr), int(port)


def parse_flow(text):
    """A label flow: 'tcp A:p > B:q', 'icmp A > B echo id=N', 'icmp6 A > B type=T code=C'."""
    words = text.split()
    proto = words[0]
    if proto in ("tcp", "udp"):
        a, pa = parse_endpoint(words[1])
        b, pb = parse_endpoint(words[3])
        return {"proto": proto, "src": a, "sport": pa, "dst": b, "dport": pb, "extra": ()}
    if proto in ("icmp", "icmp6"):
        return {"proto": proto, "src": ipaddress.ip_address(words[1]), "sport": None,
                "dst": ipaddress.ip_address(words[3]), "dport": None, "extra": tuple(words[4:])}
    return {"proto": proto, "src": None, "sport": None, "dst": None, "dport": None, "extra": tuple(words[1:])}


def parse_frag(text):
    out = {}
    for w in text.split():
        k, _, v = w.partition("=")
        out[k] = v
    return {"id": out.get("id"), "off": int(out.get("off", "0")), "mf": out.get("mf") == "1"}


# --------------------------------------------------------------------------------------------------------
# Policies: examples/policies.hpp restated as data. A filter: name, layer (without the family suffix),
# family, sublayer weight, weight bucket (range form 0-15; automatic = bucket 0), action, hard
# (clear_action_right), and its conditions as a predicate over the layer's fields.

DISCARD_TWINS = {"INBOUND_IPPACKET", "OUTBOUND_IPPACKET", "IPFORWARD", "INBOUND_TRANSPORT",
                 "OUTBOUND_TRANSPORT", "STREAM", "DATAGRAM_DATA", "INBOUND_ICMP_ERROR", "OUTBOUND_ICMP_ERROR",
                 "ALE_RESOURCE_ASSIGNMENT", "ALE_AUTH_LISTEN", "ALE_AUTH_RECV_ACCEPT", "ALE_AUTH_CONNECT",
                 "ALE_FLOW_ESTABLISHED"}

PROTO_NUMBER = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}


def F(name, layer, fam, sublayer, weight, action, cond, hard=False):
    return {"name": name, "layer": layer, "fam": fam, "sublayer": sublayer, "weight": weight,
            "action": action, "cond": cond, "hard": hard}


ADMIN, BASE, STEALTH = 0xC000, 0x4000, 0x4000
TEN_SLASH_8 = ipaddress.ip_network("10.0.0.0/8")

POLICIES = {
    "observe": [],
    "stealth": [
        F("stealth-tcp-v4", "INBOUND_TRANSPORT_DISCARD", 4, STEALTH, 0, "block", lambda c: c["proto"] == 6),
        F("stealth-tcp-v6", "INBOUND_TRANSPORT_DISCARD", 6, STEALTH, 0, "block", lambda c: c["proto"] == 6),
        F("stealth-udp-v4", "INBOUND_IPPACKET_DISCARD", 4, STEALTH, 0, "block",
          lambda c: c.get("discard_reason") == "port_unreachable"),
        F("stealth-udp-v6", "INBOUND_IPPACKET_DISCARD", 6, STEALTH, 0, "block",
          lambda c: c.get("discard_reason") == "port_unreachable"),
    ],
    "server": [
        F("ssh-admin-v4", "ALE_AUTH_RECV_ACCEPT", 4, ADMIN, 15, "permit",
          lambda c: c["proto"] == 6 and c["local_port"] == 22, hard=True),
        F("ssh-admin-v6", "ALE_AUTH_RECV_ACCEPT", 6, ADMIN, 15, "permit",
          lambda c: c["proto"] == 6 and c["local_port"] == 22, hard=True),
        F("lan-soft-v4", "ALE_AUTH_RECV_ACCEPT", 4, ADMIN, 0, "permit",
          lambda c: c["remote"] in TEN_SLASH_8),
        F("web-v4", "ALE_AUTH_RECV_ACCEPT", 4, BASE, 8, "permit",
          lambda c: c["proto"] == 6 and c["local_port"] in (80, 443, 8080)),
        F("web-v6", "ALE_AUTH_RECV_ACCEPT", 6, BASE, 8, "permit",
          lambda c: c["proto"] == 6 and c["local_port"] in (80, 443, 8080)),
        F("dns-v4", "ALE_AUTH_RECV_ACCEPT", 4, BASE, 8, "permit",
          lambda c: c["proto"] == 17 and c["local_port"] in (53, 5353)),
        F("dns-v6", "ALE_AUTH_RECV_ACCEPT", 6, BASE, 8, "permit",
          lambda c: c["proto"] == 17 and c["local_port"] in (53, 5353)),
        F("icmp-v4", "ALE_AUTH_RECV_ACCEPT", 4, BASE, 8, "permit", lambda c: c["proto"] == 1),
        F("icmp-v6", "ALE_AUTH_RECV_ACCEPT", 6, BASE, 8, "permit", lambda c: c["proto"] == 58),
        F("default-deny-v4", "ALE_AUTH_RECV_ACCEPT", 4, BASE, 0, "block", lambda c: True),
        F("default-deny-v6", "ALE_AUTH_RECV_ACCEPT", 6, BASE, 0, "block", lambda c: True),
    ],
}


def arbitrate(policy, layer, fam, ctx):
    """arbitration.md for one layer. Returns None when no filter sits at the layer (it decides nothing),
    else (action, deciding filter name or None)."""
    filters = [f for f in policy if f["layer"] == layer and f["fam"] == fam]
    if not filters:
        return None
    action, decider, write_right = "permit", None, True  # default action: permit
    for sub in sorted({f["sublayer"] for f in filters}, reverse=True):
        # highest weight first; equal weights in declaration order (sorted() is stable)
        in_sub = sorted((f for f in filters if f["sublayer"] == sub), key=lambda f: -f["weight"])
        decided = next((f for f in in_sub if f["cond"](ctx)), None)
        if decided is None or not write_right:
            continue  # no say, or the write right was cleared by a hard decision above (no callouts: no veto)
        action, decider = decided["action"], decided["name"]
        if decided["action"] == "block" or decided["hard"]:
            write_right = False
    return action, decider


# --------------------------------------------------------------------------------------------------------
# The traversal of one packet

class Traversal:
    """Walks a §4 row layer by layer, arbitrating each, and ends at a _DISCARD twin on a block (§7)."""

    def __init__(self, policy, fam, ctx):
        self.policy, self.fam, self.ctx = policy, fam, ctx
        self.steps, self.verdict, self.filter, self.blocked_at_discard_by = [], "permit", None, None

    def name(self, base):
        if base.endswith("_DISCARD"):
            return f"{base[:-len('_DISCARD')]}_V{self.fam}_DISCARD"
        return f"{base}_V{self.fam}"

    def visit(self, base, flags=()):
        step = {"layer": self.name(base)}
        if flags:
            step["flags"] = list(flags)
        self.steps.append(step)
        result = arbitrate(self.policy, base, self.fam, self.ctx)
        if result is not None and result[1] is not None:
            step["filter"], step["action"] = result[1], result[0]
        return result

    def run(self, row, flags_of=lambda i, base: ()):
        """Returns True when the whole row was traversed with a permit."""
        for i, base in enumerate(row):
            result = self.visit(base, flags_of(i, base))
            is_discard = base.endswith("_DISCARD")
            if is_discard:  # the stack's own discard (§7): block, with a filter only if one blocked here
                self.verdict = "block"
                if result is not None and result[0] == "block":
                    self.filter = result[1]
                    self.blocked_at_discard_by = result[1]
                return False
            if result is not None and result[0] == "block":
                self.verdict, self.filter = "block", result[1]
                if base in DISCARD_TWINS:
                    twin = self.visit(base + "_DISCARD")
                    if self.steps[-2].get("flags"):
                        # §8 names IS_REAUTHORIZE on the ALE layer only; the twin's flags are left open
                        self.steps[-1]["flags_unspecified"] = True
                    if twin is not None and twin[0] == "block" and twin[1] is not None:
                        self.blocked_at_discard_by = twin[1]
                return False
            if result is not None and result[1] is not None:
                self.filter = result[1]  # the filter that decided the (permit) verdict so far
        return True


# §4 rows (V4 shown in the spec; the family suffix is added per packet)
IN_IP, IN_TR, OUT_TR, OUT_IP = "INBOUND_IPPACKET", "INBOUND_TRANSPORT", "OUTBOUND_TRANSPORT", "OUTBOUND_IPPACKET"
BIND = ["ALE_BIND_REDIRECT", "ALE_RESOURCE_ASSIGNMENT"]
ROWS = {
    "tcp_out_syn_new": BIND + ["ALE_CONNECT_REDIRECT", "ALE_AUTH_CONNECT", OUT_TR, OUT_IP],
    "tcp_in_syn_listener": [IN_IP, IN_TR, "ALE_AUTH_RECV_ACCEPT"],
    "tcp_in_syn_no_listener": [IN_IP, "INBOUND_TRANSPORT_DISCARD"],
    "tcp_out_final_ack": ["ALE_FLOW_ESTABLISHED", OUT_TR, OUT_IP],
    "tcp_out_final_ack_payload": ["ALE_FLOW_ESTABLISHED", "STREAM", OUT_TR, OUT_IP],
    "tcp_in_final_ack": [IN_IP, IN_TR, "ALE_FLOW_ESTABLISHED"],
    "tcp_in_final_ack_payload": [IN_IP, IN_TR, "ALE_FLOW_ESTABLISHED", "STREAM"],
    "tcp_out_payload": ["STREAM", OUT_TR, OUT_IP],
    "tcp_in_payload": [IN_IP, IN_TR, "STREAM"],
    "tcp_out_other": [OUT_TR, OUT_IP],
    "tcp_in_other": [IN_IP, IN_TR],
    "dgram_out_new": ["ALE_CONNECT_REDIRECT", "ALE_AUTH_CONNECT", "ALE_FLOW_ESTABLISHED", "DATAGRAM_DATA",
                      OUT_TR, OUT_IP],
    "dgram_out_new_bind": BIND + ["ALE_CONNECT_REDIRECT", "ALE_AUTH_CONNECT", "ALE_FLOW_ESTABLISHED",
                                  "DATAGRAM_DATA", OUT_TR, OUT_IP],
    "dgram_in_new_listener": [IN_IP, IN_TR, "ALE_AUTH_RECV_ACCEPT", "ALE_FLOW_ESTABLISHED", "DATAGRAM_DATA"],
    "dgram_in_new_no_listener": [IN_IP, "INBOUND_IPPACKET_DISCARD"],
    "dgram_out_existing": ["DATAGRAM_DATA", OUT_TR, OUT_IP],
    "dgram_in_existing": [IN_IP, IN_TR, "DATAGRAM_DATA"],
    "icmp_error_out": ["OUTBOUND_ICMP_ERROR", OUT_TR, OUT_IP],
    "icmp_error_in": [IN_IP, IN_TR, "INBOUND_ICMP_ERROR"],
}

ICMP_ERROR_KINDS = {"icmp_unreach", "icmp_err"}


def reauth_row(d, data_layer):
    """§8: the next packet of a marked flow, in the direction of the flow's origin."""
    if d == "in":
        return [IN_IP, IN_TR, "ALE_AUTH_RECV_ACCEPT", data_layer]
    return ["ALE_AUTH_CONNECT", data_layer, OUT_TR, OUT_IP]


class Oracle:
    def __init__(self, policy_name, locals_, switches=(), times=None):
        for name in [policy_name] + [p for _, p in switches]:
            if name not in POLICIES:
                raise SystemExit(f"trace_oracle: unknown policy {name!r} (known: {', '.join(POLICIES)})")
        self.policy_name = policy_name
        self.policy = POLICIES[policy_name]
        self.switches = dict(switches)  # frame -> policy in force from that frame on (§8)
        self.times = times              # capture timestamps (seconds), for the 60 s expiry of non-TCP flows
        self.now = 0.0
        self.locals = [ipaddress.ip_network(x, strict=False) for x in locals_]
        self.flows = {}          # key -> {"origin": in|out, "state": ..., "fin_in", "fin_out", "synack"}
        self.endpoints = set()   # (proto, local address, local port) that sent or received
        self.listeners = {}      # (proto, local address, local port) -> "yes"/"no" from the labels
        self.in_frags = {}       # fragment id -> list of (off, len, mf)
        self.out_frag_verdict = {}  # fragment id -> (verdict, filter) of the offset-0 frame
        self.suppress = {}       # flow key of a packet blocked at a _DISCARD layer -> the filter
        self.self_check = []     # disagreements between this flow model and the labels (observe only)
        self.self_check_off = False
        self.discarded = set()   # keys whose first packet the stack discarded (no listener)

    def is_local(self, a):
        return a is not None and any(a in n for n in self.locals)

    # -- flow keys ---------------------------------------------------------------------------------------
    def orient(self, fl, direction):
        """(local addr, local port, remote addr, remote port) of a labelled flow for a host-side frame:
        the local side is the one whose address is the host's (§1)."""
        if self.is_local(fl["src"]):
            return fl["src"], fl["sport"], fl["dst"], fl["dport"]
        return fl["dst"], fl["dport"], fl["src"], fl["sport"]

    def key(self, fam, fl, direction):
        la, lp, ra, rp = self.orient(fl, direction)
        return (fam, fl["proto"], la, lp, ra, rp, fl["extra"])

    # -- one frame ---------------------------------------------------------------------------------------
    def expect(self, row):
        if self.times is not None:
            self.now = self.times[row["frame"] - 1]
        if row["frame"] in self.switches:  # §8: a policy change marks every existing flow
            self.policy_name = self.switches[row["frame"]]
            self.policy = POLICIES[self.policy_name]
            self.self_check_off = True
            for flow in self.flows.values():
                flow["reauth"] = True
        rec = {"frame": row["frame"], "dir": None, "steps": [], "verdict": "permit", "filter": None}
        why = ""
        d = row["dir"]
        if d == "-" or row["proto"] == "arp":
            return rec, "no IP layer: empty trace, permitted (§1)"
        if d == "loop":
            raise Unsupported(f"frame {row['frame']}: loopback frames are not modelled")
        if row["flow"] in ("", "-") and d != "fwd":
            raise Unsupported(f"frame {row['frame']}: the labels could not name its flow ({row['kind']})")
        rec["dir"] = d
        fam = int(row["fam"])
        fl = parse_flow(row["flow"])
        frag = parse_frag(row["frag"]) if row["frag"] not in ("", "-") else None

        if d == "fwd":  # §6 (one interface: never a duplicate), §5 forwarded fragments one by one
            t = Traversal(self.policy, fam, {"proto": PROTO_NUMBER.get(fl["proto"])})
            t.run(["IPFORWARD"], lambda i, b: ("IS_FRAGMENT",) if frag else ())
            rec.update(steps=t.steps, verdict=t.verdict, filter=t.filter)
            return rec, "forwarded: IPFORWARD once (§6)" + (", IS_FRAGMENT (§5)" if frag else "")

        prefix = []
        kind = row["kind"]
        if frag:
            kind = row["datagram"]
            if d == "in" and frag["off"] == 0 and not frag["mf"]:
                rec["unchecked"] = ("an atomic fragment (offset 0, no more fragments): §5 does not say whether "
                                    "it is reassembled (RFC 6946: processed as unfragmented)")
            if d == "in":  # §5: triple indication
                prefix = [{"layer": f"INBOUND_IPPACKET_V{fam}"},
                          {"layer": f"INBOUND_IPPACKET_V{fam}", "flags": ["IS_FRAGMENT"]}]
                parts = self.in_frags.setdefault(frag["id"], [])
                parts.append((frag["off"], row["len"], frag["mf"]))
                if not self.complete(parts):
                    rec["steps"] = prefix
                    return rec, "inbound fragment, datagram not complete: IPPACKET twice (§5)"
                del self.in_frags[frag["id"]]
                why = "inbound fragment completing the datagram (§5), then: "
            else:
                if frag["off"] != 0:  # §5: later fragments carry no steps and share the verdict
                    verdict, filt = self.out_frag_verdict.get(frag["id"], ("permit", None))
                    rec.update(verdict=verdict, filter=filt)
                    return rec, "outbound fragment after offset 0: no steps, the datagram's verdict (§5)"
                why = "outbound datagram at its offset-0 fragment (§5): "

        # suppressed stack answers (§7)
        answered = None
        if d == "out" and kind in ICMP_ERROR_KINDS and row["note"].startswith("quotes "):
            q = parse_flow(row["note"][len("quotes "):])
            answered = self.key(fam, q, "in")
        elif d == "out" and fl["proto"] == "tcp" and "R" in row["tcpflags"]:
            answered = self.key(fam, fl, d)
        if answered is not None and answered in self.suppress:
            rec.update(verdict="block", filter=self.suppress.pop(answered), suppressed=True)
            return rec, why + "stack answer to a packet blocked at a _DISCARD layer: suppressed (§7)"

        if kind in ICMP_ERROR_KINDS:
            t = Traversal(self.policy, fam, {"proto": PROTO_NUMBER[fl["proto"]]})
            t.run(ROWS["icmp_error_out" if d == "out" else "icmp_error_in"])
            rec.update(steps=t.steps, verdict=t.verdict, filter=t.filter)
            return rec, why + f"ICMP error {d} (§4 ICMP errors)"

        if fl["proto"] == "tcp":
            row_name, t, note = self.tcp(row, fam, fl, d)
        else:
            row_name, t, note = self.datagram(row, fam, fl, d, kind)
        steps = t.steps
        if prefix:
            # the reassembled packet's INBOUND_IPPACKET (first step of the row) carries IS_REASSEMBLED
            assert steps[0]["layer"] == f"INBOUND_IPPACKET_V{fam}"
            steps[0]["flags"] = ["IS_REASSEMBLED"]
            steps = prefix + steps
        if d == "out" and frag:
            self.out_frag_verdict[frag["id"]] = (t.verdict, t.filter)
        rec.update(steps=steps, verdict=t.verdict, filter=t.filter)
        return rec, why + note + f" (§4 row {row_name})"

    @staticmethod
    def complete(parts):
        if not any(not mf for _, _, mf in parts):
            return False
        end = max(off + ln for off, ln, mf in parts if not mf)
        covered = 0
        for off, ln, _ in sorted(parts):
            if off > covered:
                return False
            covered = max(covered, off + ln)
        return covered >= end

    def ctx(self, fam, fl, d):
        la, lp, ra, rp = self.orient(fl, d)
        return {"proto": PROTO_NUMBER[fl["proto"]], "local": la, "local_port": lp, "remote": ra,
                "remote_port": rp}

    def check_label(self, row, column, computed):
        if self.policy_name == "observe" and not self.self_check_off and row[column] not in ("-", "") and row[column] != computed:
            self.self_check.append(f"frame {row['frame']}: label {column}={row[column]}, flow model says "
                                   f"{computed}")

    def listener(self, proto, la, lp):
        return self.listeners.get((proto, la, lp), "yes")

    def remember_listener(self, row, fl, d):
        if d == "in" and row["listener"] in ("yes", "no") and fl["sport"] is not None:
            la, lp, _, _ = self.orient(fl, d)
            self.listeners.setdefault((fl["proto"], la, lp), row["listener"])

    # -- TCP (§2 state machine, §4 TCP rows) ---------------------------------------------------------------
    # a fragmented TCP segment's label has no flags: the datagram's kind says what the segment was
    DATAGRAM_TCP = {"syn": ("S", False), "syn_ack": ("S.", False), "syn_retx": ("S", False),
                    "final_ack": (".", False), "ack": (".", False), "data": ("P.", True), "fin": ("F.", False),
                    "data_fin": ("FP.", True), "rst": ("R", False)}

    def tcp(self, row, fam, fl, d):
        flags = row["tcpflags"]
        payload = row["len"] > 0
        if row["frag"] not in ("", "-"):
            if row["datagram"] not in self.DATAGRAM_TCP:
                raise SystemExit(f"trace_oracle: frame {row['frame']}: fragmented TCP datagram of kind "
                                 f"{row['datagram']!r}")
            flags, payload = self.DATAGRAM_TCP[row["datagram"]]
        syn, ack, fin, rst = "S" in flags, "." in flags, "F" in flags, "R" in flags
        key = self.key(fam, fl, d)
        la, lp, _, _ = self.orient(fl, d)
        endpoint = ("tcp", la, lp)
        self.remember_listener(row, fl, d)
        ctx = self.ctx(fam, fl, d)
        flow = self.flows.get(key)  # a closed flow stays in the table (§2 names "a key whose flow is closed")
        t = Traversal(self.policy, fam, ctx)

        if syn and not ack and (flow is None or flow["state"] in ("established", "closing", "closed")):
            # a new flow (also port reuse on a closed/closing/established key)
            self.check_label(row, "new", "1")
            if d == "out":
                self.check_label(row, "bind", "yes")  # every active open binds
                ok = t.run(ROWS["tcp_out_syn_new"])
                self.endpoints.add(endpoint)
                if ok:
                    self.flows[key] = {"origin": "out", "state": "syn_sent", "synack": False,
                                       "fin_in": False, "fin_out": False}
                else:
                    self.flows.pop(key, None)
                return "tcp_out_syn_new", t, "TCP outbound SYN, new flow (active open)"
            self.endpoints.add(endpoint)
            if self.listener("tcp", la, lp) == "yes":
                ok = t.run(ROWS["tcp_in_syn_listener"])
                if ok:
                    self.flows[key] = {"origin": "in", "state": "syn_received", "synack": False,
                                       "fin_in": False, "fin_out": False}
                else:
                    self.flows.pop(key, None)
                return "tcp_in_syn_listener", t, "TCP inbound SYN, new flow, listener present"
            t.run(ROWS["tcp_in_syn_no_listener"])
            self.flows.pop(key, None)
            self.discarded.add(key)
            if t.blocked_at_discard_by:
                self.suppress[key] = t.blocked_at_discard_by
            return "tcp_in_syn_no_listener", t, "TCP inbound SYN, new flow, no listener"

        if key not in self.discarded:  # the labels count a refused SYN as the start of its flow; §2 does not
            self.check_label(row, "new", "1" if flow is None else "0")
        self.endpoints.add(endpoint)
        if flow is None:
            # mid-stream pickup (§2 extension): an established flow without ALE layers
            flow = {"origin": None, "state": "established", "synack": True, "fin_in": False, "fin_out": False}
            self.flows[key] = flow
            pickup = " (mid-stream pickup: new established flow, no ALE)"
        else:
            pickup = ""

        if flow.pop("reauth", False):
            if flow["origin"] != d or not payload or flow["state"] != "established" or syn or fin or rst:
                raise SystemExit(f"trace_oracle: frame {row['frame']}: the first packet of a reauthorized TCP "
                                 f"flow is one §8 does not describe (only a segment with payload in the "
                                 f"direction of the flow's origin); choose another switch frame")
            name = "reauth_tcp_" + d
            ok = t.run(reauth_row(d, "STREAM"), lambda i, b: ("IS_REAUTHORIZE",) if b.startswith("ALE_") else ())
            if not ok:
                del self.flows[key]  # "and the flow is torn down"
            return name, t, f"TCP {d}bound segment, first of a flow marked for reauthorization (§8)"

        if syn:  # SYN-ACK (or a retransmitted SYN): transport rows
            if ack:
                flow["synack"] = True
            name = "tcp_out_other" if d == "out" else "tcp_in_other"
            t.run(ROWS[name])
            return name, t, "TCP SYN-ACK" + pickup

        if flow["state"] == "syn_sent" and d == "out" and flow["synack"] and ack and not rst:
            name = "tcp_out_final_ack_payload" if payload else "tcp_out_final_ack"
            ok = t.run(ROWS[name])
            flow["state"] = "established" if ok else "closed"
            return name, t, "TCP client's final ACK of the handshake"
        if flow["state"] == "syn_received" and d == "in" and ack and not rst:
            name = "tcp_in_final_ack_payload" if payload else "tcp_in_final_ack"
            ok = t.run(ROWS[name])
            flow["state"] = "established" if ok else "closed"
            return name, t, "TCP server's final ACK of the handshake"

        if payload and flow["state"] in ("established", "closing"):
            name = "tcp_out_payload" if d == "out" else "tcp_in_payload"
            note = "TCP segment with payload, established flow"
        else:
            name = "tcp_out_other" if d == "out" else "tcp_in_other"
            note = "TCP segment without payload (ACK, FIN, RST)"
        t.run(ROWS[name])
        if rst:
            flow["state"] = "closed"
        elif fin:
            flow["fin_" + d] = True
            flow["state"] = "closed" if flow["fin_in"] and flow["fin_out"] else "closing"
        return name, t, note + pickup

    # -- UDP and every other non-TCP protocol (§4 second table) ----------------------------------------
    def datagram(self, row, fam, fl, d, kind):
        key = self.key(fam, fl, d)
        ctx = self.ctx(fam, fl, d)
        has_ports = fl["sport"] is not None
        la, lp, _, _ = self.orient(fl, d)
        endpoint = (fl["proto"], la, lp) if has_ports else None
        self.remember_listener(row, fl, d)
        t = Traversal(self.policy, fam, ctx)
        if key in self.flows and self.times is not None and self.now - self.flows[key]["last"] > 60:
            del self.flows[key]  # §2: a non-TCP flow expires after 60 s without traffic
            expired = True
        else:
            expired = False
        if key in self.flows:
            self.flows[key]["last"] = self.now
            self.check_label(row, "new", "0")
            if endpoint:
                self.endpoints.add(endpoint)
            flow = self.flows[key]
            if flow.pop("reauth", False):
                if flow["origin"] != d:
                    raise SystemExit(f"trace_oracle: frame {row['frame']}: the first packet of a reauthorized "
                                     f"flow goes against the flow's origin, which §8 does not describe; choose "
                                     f"another switch frame")
                ok = t.run(reauth_row(d, "DATAGRAM_DATA"),
                           lambda i, b: ("IS_REAUTHORIZE",) if b.startswith("ALE_") else ())
                if not ok:
                    del self.flows[key]  # "and the flow is torn down"
                return "reauth_dgram_" + d, t, (f"{fl['proto']} {d}bound, first packet of a flow marked for "
                                                f"reauthorization (§8)")
            name = "dgram_out_existing" if d == "out" else "dgram_in_existing"
            t.run(ROWS[name])
            return name, t, f"{fl['proto']} {d}bound, existing flow"
        if not expired:
            self.check_label(row, "new", "1")
        if d == "out":
            bind = endpoint is not None and endpoint not in self.endpoints
            if endpoint is not None:
                self.check_label(row, "bind", "yes" if bind else "no")
                self.endpoints.add(endpoint)
            name = "dgram_out_new_bind" if bind else "dgram_out_new"
            if t.run(ROWS[name]):
                self.flows[key] = {"origin": "out", "last": self.now}
            return name, t, f"{fl['proto']} outbound, new flow" + (", endpoint not yet bound" if bind else "")
        if endpoint:
            self.endpoints.add(endpoint)
        # every inbound non-error ICMP message has a listener: the stack answers it
        listener = "yes" if not has_ports else self.listener(fl["proto"], la, lp)
        if listener == "yes":
            name = "dgram_in_new_listener"
            if t.run(ROWS[name]):
                self.flows[key] = {"origin": "in", "last": self.now}
            return name, t, f"{fl['proto']} inbound, new flow, listener present"
        ctx["discard_reason"] = "port_unreachable"  # "UDP with no endpoint" (udp-packet-flows seed)
        t.run(ROWS["dgram_in_new_no_listener"])
        if t.blocked_at_discard_by:
            self.suppress[key] = t.blocked_at_discard_by
        return "dgram_in_new_no_listener", t, f"{fl['proto']} inbound, new flow, no listener"


def parse_switches(texts):
    out = []
    for t in texts or []:
        frame, _, policy = t.partition(":")
        if not frame.isdigit() or policy not in POLICIES:
            raise SystemExit(f"trace_oracle: --switch {t}: expected FRAME:POLICY")
        out.append((int(frame), policy))
    return out


def pcap_times(path):
    """Every record's timestamp (seconds) of a classic pcap file, or None for another format."""
    with open(path, "rb") as f:
        data = f.read()
    forms = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
             b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
    if data[:4] not in forms:
        return None
    e, unit = forms[data[:4]]
    times, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        times.append(sec + frac * unit)
        off += 16 + incl
    return times


def expectations(tsv, policy, locals_, switches=(), times=None):
    rows = read_tsv(tsv)
    if times is not None and len(times) != len(rows):
        times = None
    oracle = Oracle(policy, locals_, switches, times)
    out = []
    for row in rows:
        rec, why = oracle.expect(row)
        out.append((row, rec, why))
    if oracle.self_check:
        raise SystemExit("trace_oracle: the flow model disagrees with the labels:\n  " +
                         "\n  ".join(oracle.self_check))
    return out


# --------------------------------------------------------------------------------------------------------
# Comparison with strata-classify

def normal_step(s, like=None):
    unspecified = (like or s).get("flags_unspecified")
    n = {"layer": s.get("layer"), "flags": None if unspecified else sorted(s.get("flags", []))}
    if "filter" in s:
        n["filter"], n["action"] = s["filter"], s.get("action")
    return n


def normal_record(r, like=None):
    like_steps = (like or r).get("steps", [])
    steps = r.get("steps", [])
    return {"dir": r.get("dir"),
            "steps": [normal_step(s, like_steps[i] if i < len(like_steps) else None) for i, s in enumerate(steps)],
            "verdict": r.get("verdict"), "filter": r.get("filter"),
            "suppressed": bool(r.get("suppressed", False)), "dup": bool(r.get("dup", False)),
            "error": r.get("error")}


def run_classify(classify, pcap, policy, locals_, switches=()):
    """strata-classify's records (a list), or an error message."""
    cmd = [classify, "-r", pcap]
    for a in locals_:
        cmd += ["--local", a]
    cmd += ["--policy", policy]
    for frame, to in switches:
        cmd += ["--switch", f"{frame}:{to}"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        return f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}"
    actual = []
    for n, line in enumerate(proc.stdout.splitlines(), 1):
        try:
            actual.append(json.loads(line))
        except json.JSONDecodeError as e:
            return f"output line {n} is not JSON ({e}): {line}"
    return actual


def compare(expected, actual):
    """(mismatch messages, notes on frames the spec leaves open)."""
    failures, notes = [], []
    if len(actual) != len(expected):
        failures.append(f"frame count: expected {len(expected)} records, strata printed {len(actual)}")
    for (row, exp, why), act in zip(expected, actual):
        if "unchecked" in exp:
            notes.append(f"frame {row['frame']} not compared: {exp['unchecked']}")
            continue
        problems = []
        if act.get("frame") != row["frame"]:
            problems.append(f"frame number {act.get('frame')}")
        e, a = normal_record(exp), normal_record(act, exp)
        for k in ("dir", "verdict", "filter", "suppressed", "dup", "error"):
            if e[k] != a[k]:
                problems.append(f"{k}: expected {e[k]!r}, got {a[k]!r}")
        el = [s["layer"] for s in e["steps"]]
        al = [s["layer"] for s in a["steps"]]
        if el != al:
            problems.append(f"layers: expected {el}, got {al}")
        elif e["steps"] != a["steps"]:
            for i, (es, as_) in enumerate(zip(e["steps"], a["steps"])):
                if es != as_:
                    problems.append(f"step {i + 1} ({es['layer']}): expected {es}, got {as_}")
        if problems:
            failures.append(
                f"frame {row['frame']} ({row['phase']}, {row['kind']}): " + "; ".join(problems) +
                f"\n    label:    {row['_line']}\n    why:      {why}"
                f"\n    expected: {json.dumps(exp)}\n    actual:   {json.dumps(act)}")
    return failures, notes


def check(args):
    switches = parse_switches(args.switch)
    expected = expectations(args.tsv, args.policy, args.local, switches, pcap_times(args.pcap))
    actual = run_classify(args.classify, args.pcap, args.policy, args.local, switches)
    if isinstance(actual, str):
        print(f"FAIL: {actual}")
        return 1
    failures, notes = compare(expected, actual)
    name = args.name or args.policy
    for n in notes:
        print("NOTE " + n)
    if failures:
        print(f"capture.trace.{name}: {len(failures)} mismatch(es) over {len(expected)} frames")
        for f in failures:
            print("MISMATCH " + f)
        print(f"trace: {len(expected) - len(failures)} passed, {len(failures)} failed")
        return 1
    print(f"capture.trace.{name}: all {len(expected)} frames match the spec's traces")
    return 0


# --------------------------------------------------------------------------------------------------------
# Captures the project has never seen: labelled by scripts/label-capture.py (from the bytes), then checked

def read_frames(path):
    """[(seconds, bytes)] and the link type of a pcap or pcapng file (first interface's link type)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        frames, links, off, e = [], [], 0, "<"
        while off + 12 <= len(data):
            btype = struct.unpack(e + "I", data[off:off + 4])[0]
            if btype == 0x0A0D0D0A:
                e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                links = []
            blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
            body = data[off + 8:off + blen - 4]
            if btype == 1:
                links.append((struct.unpack(e + "H", body[0:2])[0], 1e-6))
                opt = 8  # if_tsresol
                while opt + 4 <= len(body):
                    code, olen = struct.unpack(e + "HH", body[opt:opt + 4])
                    if code == 0:
                        break
                    if code == 9 and olen >= 1:
                        r = body[opt + 4]
                        unit = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0 ** -r
                        links[-1] = (links[-1][0], unit)
                    opt += 4 + (olen + 3) // 4 * 4
            elif btype == 6:
                iface, hi, lo, caplen = struct.unpack(e + "IIII", body[0:16])
                frames.append((((hi << 32) | lo) * links[iface][1], body[20:20 + caplen], links[iface][0]))
            elif btype == 3:
                frames.append((0.0, body[4:], links[0][0]))
            off += blen
        link = links[0][0] if links else None
        if any(fr[2] != link for fr in frames):
            link = None
        return [(t, b) for t, b, _ in frames], link
    forms = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
             b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
    if data[:4] not in forms:
        raise Unsupported("neither pcap nor pcapng")
    e, unit = forms[data[:4]]
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        frames.append((sec + frac * unit, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return frames, link


def write_classic_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))  # nanosecond timestamps
        for t, b in frames:
            ns = round(t * 1e9)
            f.write(struct.pack("<IIII", ns // 10**9, ns % 10**9, len(b), len(b)))
            f.write(b)


def choose_locals(frames):
    """The observed hosts of a capture made by someone else, one run each: the destination of the first
    TCP SYN without ACK (the host being connected to; a SYN cut across IPv4 fragments is read from the
    datagram they rebuild), and the source of the first IPv4/IPv6 packet (the host that speaks first),
    when they differ."""
    import ipaddress
    first, syn_dst = None, None
    parts = {}  # IPv4 datagram (src, dst, id) -> {offset: data}: a SYN may be cut across fragments
    for _, fr in frames:
        if len(fr) < 14:
            continue
        et, off = struct.unpack(">H", fr[12:14])[0], 14
        while et in (0x8100, 0x88A8, 0x9100) and len(fr) >= off + 4:
            et, off = struct.unpack(">H", fr[off + 2:off + 4])[0], off + 4
        ip = fr[off:]
        if et == 0x0800 and len(ip) >= 20 and ip[0] >> 4 == 4:
            src, dst, ihl = ipaddress.IPv4Address(ip[12:16]), ipaddress.IPv4Address(ip[16:20]), (ip[0] & 15) * 4
            flags_off = struct.unpack(">H", ip[6:8])[0]
            fragmented = flags_off & 0x3FFF
            tcp = ip[ihl:] if ip[9] == 6 and not fragmented else b""
            if ip[9] == 6 and fragmented:
                total = struct.unpack(">H", ip[2:4])[0]
                got = parts.setdefault((src, dst, ip[4:6]), {})
                got[(flags_off & 0x1FFF) * 8] = (ip[ihl:total], bool(flags_off & 0x2000))
                data = b""
                while len(data) in got:
                    body, more = got[len(data)]
                    if not body:
                        break
                    data += body
                    if not more:
                        tcp = data  # the whole datagram: its TCP header
                        break
        elif et == 0x86DD and len(ip) >= 40 and ip[0] >> 4 == 6:
            src, dst = ipaddress.IPv6Address(ip[8:24]), ipaddress.IPv6Address(ip[24:40])
            tcp = ip[40:] if ip[6] == 6 else b""
        else:
            continue
        first = first or src
        if syn_dst is None and len(tcp) >= 14 and tcp[13] & 0x02 and not tcp[13] & 0x10:
            syn_dst = dst
    return list(dict.fromkeys(str(a) for a in (syn_dst, first) if a is not None))


def check_one(args, name, pcap, frames, local, tmp):
    """Labels one capture for one observed host and checks every policy; returns (passed, failed)."""
    lab = subprocess.run([sys.executable, args.labeller, "--local", local, pcap],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if lab.returncode != 0:
        raise Unsupported(f"the labeller failed: {lab.stderr.strip()[-200:]}")
    tsv = os.path.join(tmp, name + ".tsv")
    with open(tsv, "w", encoding="utf-8") as f:
        f.write(lab.stdout)
    times = [t for t, _ in frames]
    passed = failed = 0
    for policy in args.policy or ["observe", "stealth", "server"]:
        tag = f"{name} ({policy}, --local {local})"
        try:
            expected = expectations(tsv, policy, [local], (), times)
        except SystemExit as e:
            # the flow model and the labeller disagree on a `new`/`bind` column: the labels are not the
            # contract, so this is a note, and the spec's traces are still compared
            print(f"NOTE {tag}: {e}")
            oracle = Oracle(policy, [local], (), times)
            oracle.self_check_off = True
            expected = [(r,) + oracle.expect(r) for r in read_tsv(tsv)]
        actual = run_classify(args.classify, pcap, policy, [local])
        if isinstance(actual, str):
            print(f"MISMATCH {tag}: {actual}")
            failed += 1
            continue
        failures, notes = compare(expected, actual)
        for n in notes[:3]:
            print(f"NOTE {tag}: {n}")
        if len(notes) > 3:
            print(f"NOTE {tag}: … and {len(notes) - 3} more frames not compared")
        if failures:
            failed += 1
            print(f"MISMATCH {tag}: {len(failures)} of {len(expected)} frames")
            for f in failures[:args.show]:
                print("MISMATCH " + f)
        else:
            passed += 1
            print(f"ok   {tag}: {len(expected)} frames match")
    return passed, failed


def shared(args):
    folder = os.path.join(args.shared_dir, "captures")
    if not os.path.isdir(folder):
        print(f"SKIP: no captures folder ({folder})")
        return 77
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory(prefix="strata-traces-") as tmp:
        for name in sorted(n for n in os.listdir(folder) if n.endswith((".pcap", ".pcapng"))):
            try:
                frames, link = read_frames(os.path.join(folder, name))
                if link != 1:
                    raise Unsupported(f"link type {link}: the labeller reads Ethernet only")
                locals_ = choose_locals(frames)
                if not locals_:
                    raise Unsupported("no IP packet")
                pcap = os.path.join(tmp, name + ".pcap")
                write_classic_pcap(pcap, frames)
                for local in locals_:
                    try:
                        p, f = check_one(args, name, pcap, frames, local, tmp)
                        passed, failed = passed + p, failed + f
                    except Unsupported as e:
                        skipped += 1
                        print(f"SKIP {name} (--local {local}): {e}")
            except Unsupported as e:
                skipped += 1
                print(f"SKIP {name}: {e}")
    print(f"traces: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    demo_locals = ["10.99.1.2", "10.99.2.1", "fd99:1::2", "fd99:2::1"]
    for name in ("expect", "check"):
        s = sub.add_parser(name)
        s.add_argument("--tsv", required=True, help="labelled frames (strata-demo.frames.tsv)")
        s.add_argument("--policy", required=True, choices=sorted(POLICIES))
        s.add_argument("--local", action="append", default=None,
                       help="the observed host's addresses (default: strata-demo's four)")
        s.add_argument("--switch", action="append", metavar="FRAME:POLICY",
                       help="the policy changes before FRAME (§8: existing flows are reauthorized)")
        s.add_argument("--why", action="store_true", help="expect: add the reason of every record")
        s.add_argument("--name", help="check: the test's name in messages")
        if name == "check":
            s.add_argument("--classify", required=True, help="the strata-classify binary")
            s.add_argument("--pcap", required=True, help="the capture the TSV labels")
    s = sub.add_parser("shared", help="label every capture in SHARED/captures and check strata's traces")
    s.add_argument("--classify", required=True)
    s.add_argument("--shared-dir", required=True)
    s.add_argument("--labeller", required=True, help="scripts/label-capture.py")
    s.add_argument("--policy", action="append", choices=sorted(POLICIES))
    s.add_argument("--show", type=int, default=5, help="mismatching frames shown per capture")
    args = p.parse_args(argv)
    if args.cmd == "shared":
        return shared(args)
    if args.local is None:
        args.local = demo_locals
    if args.cmd == "expect":
        for row, rec, why in expectations(args.tsv, args.policy, args.local, parse_switches(args.switch)):
            if args.why:
                rec = dict(rec, why=why)
            print(json.dumps(rec))
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
