#!/usr/bin/env python3
"""strata-classify's command line, tested from the outside (python3 stdlib only).

    cli_test.py --classify BIN --source-dir REPO [--shared-dir SHARED] GROUP [GROUP ...]

Groups (each one CTest test, cli.<group>):
  usage      usage errors exit 2 with a message and print no record
  io         a missing file, a directory and a non-capture file exit 1 naming the file and the cause;
             an unwritable -w target exits 1
  truncated  a capture cut inside a record (and inside a record header) is classified up to the cut,
             the cut is reported on stderr, exit 1
  count      -c 5 prints exactly records 1..5
  write      -w writes only the blocked frames (--policy stealth: counted from the JSONL), byte for byte;
             --all writes every frame
  summary    --summary on stderr: verdict totals, per-layer visits and filter decisions equal to the JSONL,
             malformed and evicted counts (a corrupted frame is counted as malformed)
  text       --format text prints one line per frame
  analyze    --analyze (text and --analyze-format json) prints the selected policy's anomaly report without a
             capture: server's soft LAN permit is redundant, with a witness; observe has no finding
  coverage   --coverage (text and --coverage-format json) after the capture: the filters whose decisions stay 0
             are exactly those never named as a step's deciding filter in the records; with --switch, both
             policies in force are listed
  sets       --set NAME=FILE with the example policy blocklist: the set filters decide exactly the ALE
             authorization steps whose remote address / local port is in the file's set; no --set: empty sets;
             a spec without =, an unknown name and a bad line exit 2 (FILE:LINE), a missing file exits 1
  captures   every capture in SHARED/captures (skipped when absent): exit 0, one valid §10 record per frame
             (frames counted by this script's own pcap/pcapng reader, and by tcpdump when installed),
             malformed frames carry `error`

--local for the public captures: the destination of the first TCP SYN without ACK (the host being
connected to); without a SYN, the source of the first IPv4/IPv6 packet (the host that speaks first).

Exit status 0 when every check passed; the last line is "cli: N passed, N failed".
"""

import argparse
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

DEMO_LOCALS = ["10.99.1.2", "10.99.2.1", "fd99:1::2", "fd99:2::1"]
RECORD_KEYS = ("frame", "dir", "steps", "verdict", "filter")  # traversal.md §10

passed = 0
failed = 0


def ok(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok   {what}")
    else:
        failed += 1
        print(f"  FAIL {what}" + (f"\n       {detail}" if detail else ""))
    return cond


# ------------------------------------------------------------------------------------------------ captures

def read_capture(path):
    """(link type of the first interface, [(frame bytes, link type), ...]) of a pcap or pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    pcap_forms = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\x4d\x3c\xb2\xa1": "<",
                  b"\xa1\xb2\x3c\x4d": ">"}
    if magic in pcap_forms:
        e = pcap_forms[magic]
        link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
        frames, off = [], 24
        while off + 16 <= len(data):
            caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
            frames.append((data[off + 16:off + 16 + caplen], link))
            off += 16 + caplen
        return link, frames
    if magic == b"\x0a\x0d\x0d\x0a":
        frames, links, off, e = [], [], 0, "<"
        while off + 12 <= len(data):
            btype = struct.unpack(e + "I", data[off:off + 4])[0]
            if btype == 0x0A0D0D0A:
                e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                btype = 0x0A0D0D0A
                links = []
            blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
            body = data[off + 8:off + blen - 4]
            if btype == 1:  # interface description
                links.append(struct.unpack(e + "H", body[0:2])[0])
            elif btype == 6:  # enhanced packet
                iface, _, _, caplen = struct.unpack(e + "IIII", body[0:16])
                frames.append((body[20:20 + caplen], links[iface]))
            elif btype == 3:  # simple packet
                frames.append((body[4:], links[0]))
            elif btype == 2:  # obsolete packet block
                iface = struct.unpack(e + "H", body[0:2])[0]
                caplen = struct.unpack(e + "I", body[12:16])[0]
                frames.append((body[20:20 + caplen], links[iface]))
            off += blen
        return (links[0] if links else None), frames
    raise ValueError(f"{path}: neither pcap nor pcapng")


def ip_of(frame, link):
    """(version, ip header bytes onward) of an Ethernet/raw/SLL frame, or None when not IP."""
    if link == 1:  # Ethernet, with any number of 802.1Q/802.1ad tags
        if len(frame) < 14:
            return None
        etype, off = struct.unpack(">H", frame[12:14])[0], 14
        while etype in (0x8100, 0x88A8, 0x9100) and len(frame) >= off + 4:
            etype, off = struct.unpack(">H", frame[off + 2:off + 4])[0], off + 4
    elif link in (101, 12, 14):  # raw IP
        etype, off = (0x0800 if frame[:1] and frame[0] >> 4 == 4 else 0x86DD), 0
    elif link == 113:  # Linux cooked v1
        if len(frame) < 16:
            return None
        etype, off = struct.unpack(">H", frame[14:16])[0], 16
    elif link == 276:  # Linux cooked v2
        if len(frame) < 20:
            return None
        etype, off = struct.unpack(">H", frame[0:2])[0], 20
    else:
        return None
    if etype == 0x0800:
        return 4, frame[off:]
    if etype == 0x86DD:
        return 6, frame[off:]
    return None


def broken_ip_header(version, ip):
    """A reason when the IP header itself cannot be parsed (the frame must then be reported malformed)."""
    if version == 4:
        if len(ip) < 20:
            return "IPv4 header truncated"
        if ip[0] >> 4 != 4:
            return "IP version is not 4"
        if (ip[0] & 0x0F) < 5:
            return "IPv4 header length below 20"
        if len(ip) < (ip[0] & 0x0F) * 4:
            return "IPv4 options truncated"
    else:
        if len(ip) < 40:
            return "IPv6 header truncated"
        if ip[0] >> 4 != 6:
            return "IP version is not 6"
    return None


def addresses(version, ip):
    if version == 4:
        return ipaddress.IPv4Address(ip[12:16]), ipaddress.IPv4Address(ip[16:20])
    return ipaddress.IPv6Address(ip[8:24]), ipaddress.IPv6Address(ip[24:40])


def first_syn_destination(version, ip):
    """The destination of a TCP SYN (no ACK) in an unfragmented packet, else None."""
    if version == 4:
        ihl = (ip[0] & 0x0F) * 4
        frag = struct.unpack(">H", ip[6:8])[0]
        if ip[9] != 6 or frag & 0x1FFF or frag & 0x2000 or len(ip) < ihl + 14:
            return None
        flags = ip[ihl + 13]
    else:
        if ip[6] != 6 or len(ip) < 40 + 14:  # TCP directly after the fixed header only
            return None
        flags = ip[40 + 13]
    if flags & 0x02 and not flags & 0x10:
        return addresses(version, ip)[1]
    return None


def choose_local(frames):
    """The observed host of a capture made by someone else (see the module docstring)."""
    first_source = None
    for frame, link in frames:
        got = ip_of(frame, link)
        if got is None or broken_ip_header(*got):
            continue
        version, ip = got
        if first_source is None:
            first_source = addresses(version, ip)[0]
        dst = first_syn_destination(version, ip)
        if dst is not None:
            return str(dst), "destination of the first SYN"
    if first_source is not None:
        return str(first_source), "source of the first IP packet"
    return "192.0.2.1", "no IP packet: an address that appears nowhere"


def tcpdump_count(path):
    """Packets in a capture as tcpdump counts them (`--count`), or None without tcpdump."""
    if not shutil.which("tcpdump"):
        return None
    p = subprocess.run(["tcpdump", "--count", "-r", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    words = p.stdout.split()
    return int(words[0]) if p.returncode == 0 and words and words[0].isdigit() else None


def write_pcap(path, frames, link=1, snaplen=262144):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, link))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)))
            f.write(fr)


def pcap_record_offsets(path):
    """Byte offset of every record header of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    offs, off = [], 24
    while off + 16 <= len(data):
        offs.append(off)
        off += 16 + struct.unpack(e + "I", data[off + 8:off + 12])[0]
    return offs


# ---------------------------------------------------------------------------------------------- running

class Runner:
    def __init__(self, classify, source_dir, shared_dir, tmp):
        self.classify, self.source_dir, self.shared_dir, self.tmp = classify, source_dir, shared_dir, tmp
        self.demo = os.path.join(source_dir, "tests", "data", "strata-demo.pcap")

    def run(self, *args, timeout=300):
        p = subprocess.run([self.classify, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def demo_args(self, *extra):
        args = ["-r", self.demo]
        for a in DEMO_LOCALS:
            args += ["--local", a]
        return args + list(extra)

    @staticmethod
    def records(stdout):
        out = []
        for line in stdout.splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"_invalid": line})
        return out


def expect_usage_error(r, what, args, needle):
    rc, out, err = r.run(*args)
    ok(rc == 2, f"{what}: exit 2", f"exit {rc}; stderr: {err.strip()}")
    ok(err.strip() != "" and needle.lower() in err.lower(), f"{what}: stderr names {needle!r}",
       f"stderr: {err.strip()!r}")
    ok(out == "", f"{what}: no record on stdout", f"stdout: {out[:200]!r}")


def group_usage(r):
    D = r.demo
    expect_usage_error(r, "no -r", ["--local", "10.99.1.2"], "-r")
    expect_usage_error(r, "no --local", ["-r", D], "--local")
    expect_usage_error(r, "unknown option", r.demo_args("--frobnicate"), "--frobnicate")
    expect_usage_error(r, "bad --local", ["-r", D, "--local", "10.99.1.300"], "10.99.1.300")
    expect_usage_error(r, "bad --local prefix", ["-r", D, "--local", "10.99.1.0/33"], "10.99.1.0/33")
    expect_usage_error(r, "bad --local word", ["-r", D, "--local", "host"], "host")
    expect_usage_error(r, "bad --listen (no slash)", r.demo_args("--listen", "tcp22"), "tcp22")
    expect_usage_error(r, "bad --listen (port)", r.demo_args("--listen", "tcp/65536"), "tcp/65536")
    expect_usage_error(r, "bad --listen (protocol)", r.demo_args("--listen", "sctpx/1"), "sctpx/1")
    expect_usage_error(r, "bad --closed", r.demo_args("--closed", "udp/"), "udp/")
    expect_usage_error(r, "unknown --policy", r.demo_args("--policy", "paranoid"), "paranoid")
    expect_usage_error(r, "bad --format", r.demo_args("--format", "xml"), "xml")
    expect_usage_error(r, "bad -c", r.demo_args("-c", "five"), "count")
    rc, out, err = r.run("--help")
    ok(rc == 0 and "-r" in out and "--local" in out, "--help: exit 0 and lists the options", f"exit {rc}")


def group_io(r):
    missing = os.path.join(r.tmp, "no-such-capture.pcap")
    rc, out, err = r.run("-r", missing, "--local", "10.0.0.1")
    ok(rc == 1, "missing file: exit 1", f"exit {rc}; stderr {err.strip()!r}")
    ok(missing in err and "no such file" in err.lower(), "missing file: stderr names the file and the cause",
       f"stderr: {err.strip()!r}")
    ok(out == "", "missing file: no record")

    readme = os.path.join(r.source_dir, "README.md")
    rc, out, err = r.run("-r", readme, "--local", "10.0.0.1")
    ok(rc == 1, "non-capture file (README.md): exit 1", f"exit {rc}; stderr {err.strip()!r}")
    ok(readme in err and any(w in err.lower() for w in ("format", "not a", "capture", "magic")),
       "non-capture file: stderr names the file and says it is no capture", f"stderr: {err.strip()!r}")
    ok(out == "", "non-capture file: no record")

    empty = os.path.join(r.tmp, "empty.pcap")
    open(empty, "wb").close()
    rc, out, err = r.run("-r", empty, "--local", "10.0.0.1")
    ok(rc == 1 and empty in err, "empty file: exit 1 naming the file", f"exit {rc}; stderr {err.strip()!r}")

    rc, out, err = r.run("-r", r.tmp, "--local", "10.0.0.1")
    ok(rc == 1 and r.tmp in err, "a directory: exit 1 naming it", f"exit {rc}; stderr {err.strip()!r}")

    target = os.path.join(r.tmp, "no-such-dir", "out.pcap")
    rc, out, err = r.run(*r.demo_args("-w", target))
    ok(rc == 1 and target in err, "-w into a missing directory: exit 1 naming the file",
       f"exit {rc}; stderr {err.strip()!r}")


def group_truncated(r):
    rc, full_out, err = r.run(*r.demo_args())
    full = full_out.splitlines()
    ok(rc == 0 and len(full) == 158, "the whole demo capture: exit 0, 158 records", f"exit {rc}, {len(full)}")
    offs = pcap_record_offsets(r.demo)
    with open(r.demo, "rb") as f:
        data = f.read()
    cases = [
        ("inside record 100's data", offs[99] + 16 + 20, 99),
        ("inside record 41's header", offs[40] + 7, 40),
        ("inside the last record's data", offs[-1] + 16 + 1, len(offs) - 1),
    ]
    for what, cut, complete in cases:
        path = os.path.join(r.tmp, f"cut-{cut}.pcap")
        subprocess.run(["head", "-c", str(cut), r.demo], stdout=open(path, "wb"), check=True)
        assert os.path.getsize(path) == cut and data[:cut] == open(path, "rb").read()
        rc, out, err = r.run("-r", path, *sum((["--local", a] for a in DEMO_LOCALS), []))
        lines = out.splitlines()
        ok(rc == 1, f"cut {what}: exit 1", f"exit {rc}; stderr {err.strip()!r}")
        ok(len(lines) == complete, f"cut {what}: the {complete} complete frames are classified",
           f"{len(lines)} records")
        # up to the cut, the records are those of the whole file (the lookahead cannot see past the cut,
        # so only the frames whose answers lie before the cut are compared)
        same = sum(1 for a, b in zip(lines, full) if a == b)
        ok(same == complete, f"cut {what}: records before the cut equal the whole file's",
           f"{complete - same} differ")
        ok(path in err and any(w in err.lower() for w in ("truncat", "cut", "short", "end of file", "eof")),
           f"cut {what}: stderr names the file and reports the cut", f"stderr: {err.strip()!r}")
    path = os.path.join(r.tmp, "cut-header.pcap")
    with open(path, "wb") as f:
        f.write(data[:12])
    rc, out, err = r.run("-r", path, "--local", "10.99.1.2")
    ok(rc == 1 and path in err and out == "", "cut inside the file header: exit 1 naming the file",
       f"exit {rc}; stderr {err.strip()!r}")


def group_count(r):
    for n in (5, 1, 158, 1000):
        rc, out, err = r.run(*r.demo_args("-c", str(n)))
        recs = Runner.records(out)
        want = min(n, 158)
        ok(rc == 0 and len(recs) == want and [x.get("frame") for x in recs] == list(range(1, want + 1)),
           f"-c {n}: exactly {want} records, frames 1..{want}", f"exit {rc}, frames {[x.get('frame') for x in recs]}")
    rc, out5, _ = r.run(*r.demo_args("-c", "5"))
    rc, outall, _ = r.run(*r.demo_args())
    ok(out5.splitlines() == outall.splitlines()[:5], "-c 5: the same 5 records as the whole run")


def group_write(r):
    _, frames = read_capture(r.demo)
    for policy in ("stealth", "server", "observe"):
        out_pcap = os.path.join(r.tmp, f"blocked-{policy}.pcap")
        rc, out, err = r.run(*r.demo_args("--policy", policy, "-w", out_pcap))
        recs = Runner.records(out)
        blocked = [x["frame"] for x in recs if x.get("verdict") == "block"]
        ok(rc == 0 and os.path.exists(out_pcap), f"-w ({policy}): exit 0, file written", f"exit {rc} {err}")
        if not os.path.exists(out_pcap):
            continue
        _, written = read_capture(out_pcap)
        ok(len(written) == len(blocked), f"-w ({policy}): {len(blocked)} blocked frames in the JSONL, "
           f"{len(written)} written", f"blocked frames {blocked}")
        ok([w for w, _ in written] == [frames[i - 1][0] for i in blocked],
           f"-w ({policy}): the written packets are the blocked frames, byte for byte")
        if policy == "stealth":
            ok(len(blocked) >= 8, "-w (stealth): the closed-port probes and their suppressed answers are "
               "blocked (at least 8 frames)", f"blocked {blocked}")
        n = tcpdump_count(out_pcap)
        if n is not None:
            ok(n == len(blocked), f"-w ({policy}): tcpdump reads {len(blocked)} packets", f"tcpdump: {n}")
    out_pcap = os.path.join(r.tmp, "all.pcap")
    rc, out, err = r.run(*r.demo_args("--policy", "stealth", "-w", out_pcap, "--all"))
    _, written = read_capture(out_pcap) if os.path.exists(out_pcap) else (None, [])
    ok(rc == 0 and [w for w, _ in written] == [f for f, _ in frames],
       "-w --all: every frame written, byte for byte, in order", f"exit {rc}, {len(written)} written")
    rc, out, err = r.run(*r.demo_args("--policy", "stealth", "-w", out_pcap, "-c", "30"))
    recs = Runner.records(out)
    _, written = read_capture(out_pcap)
    ok(len(written) == sum(1 for x in recs if x.get("verdict") == "block"),
       "-w with -c 30: only the blocked frames among the first 30")


def parse_summary(err):
    """{'frames':…, 'permitted':…, 'blocked':…, 'malformed':…, 'evicted':…, 'layers': {..}, 'filters': {..}}"""
    import re
    s = {"layers": {}, "filters": {}}
    section = None
    for line in err.splitlines():
        m = re.match(r"summary: (\d+) frames, (\d+) permitted, (\d+) blocked .*?(\d+) malformed", line)
        if m:
            s.update(frames=int(m[1]), permitted=int(m[2]), blocked=int(m[3]), malformed=int(m[4]))
            continue
        m = re.match(r"flows: .*?(\d+) evicted", line)
        if m:
            s["evicted"] = int(m[1])
            continue
        if line.startswith("layer visits"):
            section = "layers"
            continue
        if line.startswith("filter decisions"):
            section = "filters"
            continue
        m = re.match(r"\s+(\S+)\s+(\d+)\s*$", line)
        if m and section:
            s[section][m[1]] = s[section].get(m[1], 0) + int(m[2])
        elif not line.startswith(" "):
            section = None
    return s


def group_summary(r):
    for policy in ("observe", "stealth", "server"):
        rc, out, err = r.run(*r.demo_args("--policy", policy, "--summary"))
        recs = Runner.records(out)
        s = parse_summary(err)
        ok(rc == 0 and len(recs) == 158, f"--summary ({policy}): exit 0 and the records still on stdout")
        ok(s.get("frames") == 158, f"--summary ({policy}): 158 frames", err)
        ok(s.get("permitted") == sum(1 for x in recs if x.get("verdict") == "permit") and
           s.get("blocked") == sum(1 for x in recs if x.get("verdict") == "block"),
           f"--summary ({policy}): verdict totals equal the records'", err)
        ok(s.get("malformed") == 0 and s.get("evicted") == 0, f"--summary ({policy}): 0 malformed, 0 evicted", err)
        visits = {}
        for x in recs:
            for st in x.get("steps", []):
                visits[st["layer"]] = visits.get(st["layer"], 0) + 1
        ok(s["layers"] == visits, f"--summary ({policy}): per-layer visit counts equal the records' steps",
           f"summary {s['layers']}\n       records {visits}")
        decided = {}
        for x in recs:
            for st in x.get("steps", []):
                if "filter" in st:
                    decided[st["filter"]] = decided.get(st["filter"], 0) + 1
        ok({k: v for k, v in s["filters"].items() if v} == decided,
           f"--summary ({policy}): filter decisions equal the records' deciding steps",
           f"summary {s['filters']}\n       records {decided}")
    # a malformed frame: frame 3's IPv4 header length set to 4 words (16 bytes: below the minimum)
    _, frames = read_capture(r.demo)
    bad = [bytearray(f) for f, _ in frames]
    bad[2][14] = 0x44
    path = os.path.join(r.tmp, "malformed.pcap")
    write_pcap(path, [bytes(b) for b in bad])
    rc, out, err = r.run("-r", path, *sum((["--local", a] for a in DEMO_LOCALS), []), "--summary")
    recs = Runner.records(out)
    s = parse_summary(err)
    ok(rc == 0 and len(recs) == 158, "malformed frame: exit 0, one record per frame", f"exit {rc}")
    ok(len(recs) > 2 and "error" in recs[2] and recs[2]["frame"] == 3, "malformed frame: frame 3 carries error",
       json.dumps(recs[2]) if len(recs) > 2 else "")
    ok(s.get("malformed") == 1 == sum(1 for x in recs if "error" in x), "--summary counts 1 malformed frame", err)
    # evictions: a flow table of 16 entries over a capture with more concurrent flows
    synscan = os.path.join(r.shared_dir or "", "captures", "ndpi__synscan.pcap")
    if r.shared_dir and os.path.exists(synscan):
        _, fr = read_capture(synscan)
        local, _ = choose_local(fr)
        rc, out, err = r.run("-r", synscan, "--local", local, "--flows", "16", "--summary", "-q")
        s = parse_summary(err)
        ok(rc == 0 and s.get("evicted", 0) > 0, "--flows 16 on a SYN scan: --summary reports evicted flows", err)


def group_text(r):
    rc, out, err = r.run(*r.demo_args("--format", "text", "--policy", "stealth"))
    lines = out.splitlines()
    ok(rc == 0 and len(lines) == 158, "--format text: 158 lines", f"exit {rc}, {len(lines)} lines")
    nums = [int(l.split()[0]) if l.split() and l.split()[0].isdigit() else None for l in lines]
    ok(nums == list(range(1, 159)), "--format text: each line starts with its frame number")
    ok(not any(l.lstrip().startswith("{") for l in lines), "--format text: no JSON")
    rc, out, err = r.run(*r.demo_args("--format", "text", "-c", "5"))
    ok(rc == 0 and len(out.splitlines()) == 5, "--format text -c 5: 5 lines")


def group_captures(r):
    folder = os.path.join(r.shared_dir, "captures") if r.shared_dir else None
    if not folder or not os.path.isdir(folder):
        print(f"SKIP: no captures folder ({folder})")
        return "skip"
    names = sorted(n for n in os.listdir(folder) if n.endswith((".pcap", ".pcapng")))
    ok(len(names) > 0, f"{len(names)} captures in {folder}")
    for name in names:
        path = os.path.join(folder, name)
        link, frames = read_capture(path)
        local, why = choose_local(frames)
        count = len(frames)
        n = tcpdump_count(path)
        if n is not None:
            ok(n == count, f"{name}: tcpdump and this reader count {count} frames", f"tcpdump: {n}")
        for policy in ("observe", "stealth", "server"):
            rc, out, err = r.run("-r", path, "--local", local, "--policy", policy)
            recs = Runner.records(out)
            tag = f"{name} ({policy}, --local {local}: {why})"
            ok(rc == 0, f"{tag}: exit 0", f"exit {rc}; stderr {err.strip()!r}")
            ok(len(recs) == count, f"{tag}: one record per frame ({count})", f"{len(recs)} records")
            problems = []
            for i, rec in enumerate(recs, 1):
                if "_invalid" in rec:
                    problems.append(f"line {i} is not JSON: {rec['_invalid'][:120]}")
                    continue
                missing = [k for k in RECORD_KEYS if k not in rec]
                if missing:
                    problems.append(f"frame {i}: missing keys {missing}")
                    continue
                if rec["frame"] != i:
                    problems.append(f"line {i}: frame {rec['frame']}")
                if rec["dir"] not in ("in", "out", "fwd", "loop", None):
                    problems.append(f"frame {i}: dir {rec['dir']!r}")
                if rec["verdict"] not in ("permit", "block"):
                    problems.append(f"frame {i}: verdict {rec['verdict']!r}")
                if not isinstance(rec["steps"], list) or any(not isinstance(s, dict) or "layer" not in s
                                                             for s in rec["steps"]):
                    problems.append(f"frame {i}: steps {rec['steps']!r}")
                if "error" in rec and (not isinstance(rec["error"], str) or not rec["error"]):
                    problems.append(f"frame {i}: empty error")
                if i <= len(frames):
                    got = ip_of(*frames[i - 1])
                    if got is not None:
                        reason = broken_ip_header(*got)
                        if reason and "error" not in rec:
                            problems.append(f"frame {i}: {reason}, but the record has no error")
                        if not reason and rec["dir"] is None and "error" not in rec:
                            problems.append(f"frame {i}: an IP packet reported with no direction and no error")
                    elif "error" not in rec and rec["dir"] is not None:
                        problems.append(f"frame {i}: not IP, yet dir {rec['dir']!r}")
            ok(not problems, f"{tag}: every line a valid §10 record, malformed frames carry error",
               "\n       ".join(problems[:10]))


def group_analyze(r):
    rc, out, err = r.run("--analyze", "--policy", "server")
    ok(rc == 0, "--analyze (server): exit 0 without a capture", f"exit {rc}; stderr: {err.strip()}")
    ok(out.startswith("policy analysis: 11 filters; 0 shadowed, 1 redundant, 0 overridden"),
       "--analyze (server): the summary line", out[:300])
    ok('redundant       permit "lan-soft-v4" (sublayer admin)' in out and "witness: ip_remote_address=10.0.0.0" in out,
       "--analyze (server): lan-soft-v4 is redundant, with a witness", out[:600])
    rc, out, err = r.run("--analyze", "--policy", "server", "--analyze-format", "json")
    try:
        rep = json.loads(out)
    except json.JSONDecodeError:
        rep = None
    ok(rc == 0 and rep is not None, "--analyze-format json: one JSON object", out[:300])
    if rep:
        ok(rep["counts"]["redundant"] == 1 and rep["counts"]["shadowed"] == 0 and rep["filters"] == 11,
           "--analyze-format json: counts", json.dumps(rep["counts"]))
        red = [f for f in rep["findings"] if f["kind"] == "redundant"]
        ok(len(red) == 1 and red[0]["filter"] == "lan-soft-v4" and red[0]["layer"] == "ALE_AUTH_RECV_ACCEPT_V4" and
           red[0]["witness"] == {"ip_remote_address": "10.0.0.0"}, "--analyze-format json: the finding and witness",
           json.dumps(red))
    rc, out, err = r.run("--analyze", "--policy", "observe", "--analyze-format", "json")
    ok(rc == 0 and json.loads(out)["findings"] == [], "--analyze (observe): no finding", out[:300])
    expect_usage_error(r, "bad --analyze-format", ["--analyze", "--analyze-format", "xml"], "--analyze-format")


def decided_filters(recs):
    decided = {}
    for x in recs:
        for st in x.get("steps", []):
            if "filter" in st:
                decided[st["filter"]] = decided.get(st["filter"], 0) + 1
    return decided


def group_coverage(r):
    server = ["ssh-admin-v4", "ssh-admin-v6", "lan-soft-v4", "web-v4", "web-v6", "dns-v4", "dns-v6", "icmp-v4",
              "icmp-v6", "default-deny-v4", "default-deny-v6"]
    rc, out, _ = r.run(*r.demo_args("--policy", "server"))
    decided = decided_filters(Runner.records(out))
    never = [f for f in server if f not in decided]
    rc, out, err = r.run(*r.demo_args("--policy", "server", "-q", "--coverage"))
    lines = out.splitlines()
    ok(rc == 0 and lines and lines[0] == f"coverage (policy server): 11 filters, {len(never)} never decided a packet:",
       "--coverage: the header line", out[:300])
    listed = [l.split()[1] for l in lines[1:]]
    ok(listed == never, "--coverage: exactly the filters no record names as deciding", f"{listed} vs {never}")
    rc, out, err = r.run(*r.demo_args("--policy", "server", "-q", "--coverage", "--coverage-format", "json"))
    try:
        cov = json.loads(out)
    except json.JSONDecodeError:
        cov = None
    ok(rc == 0 and cov is not None and len(cov["policies"]) == 1, "--coverage-format json: one JSON object", out[:300])
    if cov:
        p = cov["policies"][0]
        ok(p["policy"] == "server" and [f["filter"] for f in p["never_decided"]] == never,
           "--coverage-format json: the never-decided filters", json.dumps(p["never_decided"]))
        ok({k: v for k, v in p["decisions"].items() if v} == decided,
           "--coverage-format json: decision counts equal the records'", json.dumps(p["decisions"]))
    rc, out, err = r.run(*r.demo_args("--policy", "observe", "-q", "--coverage", "--coverage-format", "json",
                                      "--switch", "10:server"))
    cov = json.loads(out) if rc == 0 else {"policies": []}
    ok([p["policy"] for p in cov["policies"]] == ["observe", "server"] and cov["policies"][0]["filters"] == 0,
       "--coverage with --switch: both policies in force", out[:300])


def flow_ends(rec):
    """(local address, local port, remote address) of a record's flow, from its `flow` and `dir` (§10)."""
    flow, d = rec.get("flow"), rec.get("dir")
    if not flow or d not in ("in", "out", "loop"):
        return None
    try:
        _, src, _, dst = flow.split(" ")[:4]
    except ValueError:
        return None

    def split(ep):
        if ep.startswith("["):
            a, _, port = ep[1:].partition("]:")
            return a, int(port) if port else None
        a, _, port = ep.rpartition(":") if ep.count(":") == 1 else (ep, "", "")
        return a, int(port) if port.isdigit() else None

    (sa, sp), (da, dp) = split(src), split(dst)
    return (da, dp, sa) if d == "in" else (sa, sp, da)


def group_sets(r):
    """--set NAME=FILE with the example policy `blocklist`: its filters block at ALE_AUTH_RECV_ACCEPT and
    ALE_AUTH_CONNECT exactly the flows whose remote address (blocklist) or local port (blocked-ports) is in
    the set loaded from the file; an unloaded set is empty; bad specs and files fail as documented."""
    blocked_addr = ipaddress.ip_network("10.99.1.1/32")
    blocked_ports = {8080, 5354}
    addr_file = os.path.join(r.tmp, "blocklist.txt")
    with open(addr_file, "w") as f:
        f.write("# the client, IPv4 only\n10.99.1.1\n\n192.0.2.0/24   # unused\n")
    port_file = os.path.join(r.tmp, "ports.txt")
    with open(port_file, "w") as f:
        f.write("8080\n5354\n")

    ale = ("ALE_AUTH_RECV_ACCEPT_V4", "ALE_AUTH_RECV_ACCEPT_V6", "ALE_AUTH_CONNECT_V4", "ALE_AUTH_CONNECT_V6")
    rc, out, err = r.run(*r.demo_args("--policy", "blocklist"))
    recs = r.records(out)
    ok(rc == 0 and len(recs) == 158, "no --set: exit 0, 158 records", f"exit {rc}, {len(recs)}; {err.strip()}")
    ok(not any(s.get("filter") for rec in recs for s in rec.get("steps", [])),
       "no --set: the sets are empty, no filter decides")

    rc, out, err = r.run(*r.demo_args("--policy", "blocklist", "--set", f"blocklist={addr_file}",
                                      "--set", f"blocked-ports={port_file}"))
    recs = r.records(out)
    ok(rc == 0 and len(recs) == 158, "--set: exit 0, 158 records", f"exit {rc}, {len(recs)}; {err.strip()}")
    checked = wrong = 0
    details = []
    for rec in recs:
        ends = flow_ends(rec)
        for s in rec.get("steps", []):
            if s["layer"] not in ale or ends is None:
                continue
            local, lport, remote = ends
            in_addr = ipaddress.ip_address(remote) in blocked_addr if ":" not in remote else False
            in_port = s["layer"].startswith("ALE_AUTH_RECV_ACCEPT") and lport in blocked_ports
            want = ("blocklist-in" if s["layer"].startswith("ALE_AUTH_RECV") else "blocklist-out") if in_addr else (
                "blocked-port" if in_port else None)
            got = s.get("filter")
            checked += 1
            if (want is None) != (got is None) or (want and not got.startswith(want)) or \
                    (want and s.get("action") != "block"):
                wrong += 1
                details.append(f"frame {rec['frame']} {s['layer']}: want {want}, got {got}")
    ok(checked > 0 and wrong == 0, f"--set: every ALE authorization step decided by a set filter iff its tuple is in "
       f"the set ({checked} steps)", "; ".join(details[:5]))
    ok(any(s.get("filter", "").startswith("blocklist-") for rec in recs for s in rec.get("steps", [])) and
       any(s.get("filter", "").startswith("blocked-port") for rec in recs for s in rec.get("steps", [])),
       "--set: both sets block something in the demo capture")

    bad = os.path.join(r.tmp, "bad.txt")
    with open(bad, "w") as f:
        f.write("10.0.0.1\n# fine\n10.0.0.256\n")
    expect_usage_error(r, "--set without =", r.demo_args("--policy", "blocklist", "--set", "blocklist"), "NAME=FILE")
    expect_usage_error(r, "--set unknown name", r.demo_args("--set", f"nope={addr_file}"), "blocked-ports (port)")
    expect_usage_error(r, "--set bad line", r.demo_args("--set", f"blocklist={bad}"), f"{bad}:3:")
    expect_usage_error(r, "--set port file for an address set", r.demo_args("--set", f"blocklist={port_file}"),
                       f"{port_file}:1:")
    missing = os.path.join(r.tmp, "missing.txt")
    rc, out, err = r.run(*r.demo_args("--set", f"blocked-ports={missing}"))
    ok(rc == 1 and missing in err and out == "", "--set missing file: exit 1 naming the file",
       f"exit {rc}; {err.strip()}")


GROUPS = {"usage": group_usage, "io": group_io, "truncated": group_truncated, "count": group_count,
          "write": group_write, "summary": group_summary, "text": group_text, "captures": group_captures,
          "analyze": group_analyze, "coverage": group_coverage, "sets": group_sets}


def main():
    p = argparse.ArgumentParser(description="strata-classify's command-line tests")
    p.add_argument("--classify", required=True)
    p.add_argument("--source-dir", required=True)
    p.add_argument("--shared-dir", default=None)
    p.add_argument("groups", nargs="+", choices=sorted(GROUPS))
    args = p.parse_args()
    skipped = 0
    with tempfile.TemporaryDirectory(prefix="strata-cli-") as tmp:
        r = Runner(os.path.abspath(args.classify), os.path.abspath(args.source_dir),
                   os.path.abspath(args.shared_dir) if args.shared_dir else None, tmp)
        for g in args.groups:
            print(f"== {g}")
            if GROUPS[g](r) == "skip":
                skipped += 1
    print(f"cli: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    if failed:
        return 1
    if skipped and passed == 0:
        return 77  # CTest SKIP_RETURN_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
