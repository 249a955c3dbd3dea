#!/usr/bin/env bash
# strata-classify -i --set, end to end (CTest live.sets): a run-time set replaced by SIGHUP during a live
# session. Needs root (network namespaces, CAP_NET_RAW), ip and python3; exits 77 (skipped) otherwise.
# Two namespaces (10.98.3.0/24), removed on every exit path. Bounded: < 45 s (about 15 s when the machine is idle).
#
#   sets_live_test.sh STRATA_CLASSIFY
#
# The host listens on UDP 9000; two client addresses (.1 and .5) each send one UDP flow to it, 40 ms
# apart, for the whole run. The policy is the example `blocklist` (ALE_AUTH_RECV_ACCEPT_V4 blocks a
# remote address in set "blocklist"); the set file first holds neither client, then .1 is added and
# SIGHUP sent. Expected (traversal.md §8, sets.hpp): every captured frame has exactly one record; before
# the reload both flows are permitted; the first packet of .1's flow after the reload is reauthorized
# (ALE_AUTH_RECV_ACCEPT_V4 with IS_REAUTHORIZE) and blocked by blocklist-in-v4, the flow torn down, and
# its later packets blocked as new flows; .5's flow is never reauthorized and never blocked.
set -u

bin=${1:?usage: sets_live_test.sh STRATA_CLASSIFY}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
live_init set "CAP_NET_ADMIN for namespaces, CAP_NET_RAW" python3

{ live_veth 10.98.3 && ip -n "$C" addr add 10.98.3.5/24 dev veth-c; } || { echo "FAIL: setup"; exit 1; }

# The listener: a bound UDP socket (the live listener oracle reads the socket table).
ip netns exec "$H" timeout 45 python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 9000)); time.sleep(45)" &
pids+=("$!")
disown "$!"  # killed at the end: no job report
# Resolve the neighbours first: ARP before the capture starts is not needed for the checks, only quieter.
ip netns exec "$C" ping -c1 -W1 10.98.3.2 >/dev/null 2>&1
ip netns exec "$C" ping -I 10.98.3.5 -c1 -W1 10.98.3.2 >/dev/null 2>&1

echo "192.0.2.1   # neither client" >"$tmp/blocklist.txt"
ip netns exec "$H" timeout 45 "$bin" -i veth-h --workers 2 --policy blocklist --set "blocklist=$tmp/blocklist.txt" \
  --user root -l --summary -w "$tmp/all.pcap" --all >"$tmp/run.out" 2>"$tmp/run.err" &
pid=$!
pids+=("$pid")
sleep 0.8

# Two flows, a datagram each every 40 ms, for 6 s.
ip netns exec "$C" timeout 10 python3 -c "
import socket, time
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(('10.98.3.1', 40001))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(('10.98.3.5', 40005))
for _ in range(150):
    a.sendto(b'x', ('10.98.3.2', 9000)); b.sendto(b'y', ('10.98.3.2', 9000)); time.sleep(0.04)" &
sender=$!
pids+=("$sender")
# Replace the set once the blocked client's flow is established (under load, the sender may start late).
check "client flow seen before the reload" wait_for "$tmp/run.out" '"flow":"udp 10.98.3.1:40001 >' 60
sleep 0.5
echo "10.98.3.1" >>"$tmp/blocklist.txt"
child=$(awk '{print $1}' "/proc/$pid/task/$pid/children" 2>/dev/null)  # timeout's child: strata-classify
kill -HUP "${child:-$pid}"
check "SIGHUP: sets reloaded" wait_for "$tmp/run.err" "SIGHUP: sets reloaded: blocklist (2 entries)"
wait "$sender"
sleep 0.3
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
check "SIGINT after SIGHUP: exit 0 ($rc)" test "$rc" -eq 0

python3 - "$tmp/run.out" "$tmp/all.pcap" >"$tmp/check.txt" 2>&1 <<'EOF'
import json, struct, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
d = open(sys.argv[2], "rb").read()
frames, off = 0, 24
while off + 16 <= len(d):
    off += 16 + struct.unpack_from("<I", d, off + 8)[0]
    frames += 1
print(f"records {len(recs)} frames {frames}")
idx = sorted(r["frame"] for r in recs)
print(f"indices_ok {int(idx == list(range(1, len(recs) + 1)))}")
def reauth(r): return any("IS_REAUTHORIZE" in s.get("flags", []) for s in r.get("steps", []))
a = [r for r in recs if (r.get("flow") or "").startswith("udp 10.98.3.1:40001 >")]
b = [r for r in recs if (r.get("flow") or "").startswith("udp 10.98.3.5:40005 >")]
first_block = next((i for i, r in enumerate(a) if r["verdict"] == "block"), None)
print(f"a {len(a)} b {len(b)} first_block {first_block}")
ok_before = first_block is not None and first_block > 0 and all(r["verdict"] == "permit" and not reauth(r) for r in a[:first_block])
fb = a[first_block] if first_block is not None else {}
fb_layers = [(s["layer"], s.get("filter"), "IS_REAUTHORIZE" in s.get("flags", [])) for s in fb.get("steps", [])]
ok_reauth = ("ALE_AUTH_RECV_ACCEPT_V4", "blocklist-in-v4", True) in fb_layers and fb.get("filter") == "blocklist-in-v4"
after = a[first_block + 1:] if first_block is not None else []
ok_after = len(after) > 0 and all(r["verdict"] == "block" and not reauth(r) and r.get("filter") == "blocklist-in-v4" for r in after)
ok_b = len(b) > 10 and all(r["verdict"] == "permit" and not reauth(r) for r in b)
print(f"before_permitted {int(ok_before)} reauthorized_then_blocked {int(ok_reauth)} later_blocked_new {int(ok_after)} other_untouched {int(ok_b)}")
EOF
cat "$tmp/check.txt"
read -r _ records _ frames < <(grep '^records' "$tmp/check.txt")
check "every frame has one record ($records records, $frames frames in -w)" test "${records:-0}" -eq "${frames:-x}" -a "${frames:-0}" -gt 0
check "record indices 1..N, none lost or doubled" grep -q "indices_ok 1" "$tmp/check.txt"
check "blocked client: permitted before the reload" grep -q "before_permitted 1" "$tmp/check.txt"
check "blocked client: its next packet reauthorized (IS_REAUTHORIZE) and blocked by blocklist-in-v4" \
  grep -q "reauthorized_then_blocked 1" "$tmp/check.txt"
check "blocked client: later packets blocked as new flows" grep -q "later_blocked_new 1" "$tmp/check.txt"
check "other client: never reauthorized, never blocked" grep -q "other_untouched 1" "$tmp/check.txt"

if ((failures)); then
  echo "--- stderr"; cat "$tmp/run.err"
  echo "live.sets: $failures check(s) failed"
  exit 1
fi
echo "live.sets: all checks passed"
