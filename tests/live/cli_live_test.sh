#!/usr/bin/env bash
# strata-classify -i, end to end (CTest live.cli): needs root (network namespaces, CAP_NET_RAW), ip and
# python3; exits 77 (skipped) otherwise. Everything happens inside two network namespaces made here
# (10.98.2.0/24) and removed on every exit path. Bounded: < 30 s.
#
#   cli_live_test.sh STRATA_CLASSIFY
#
# Checks: a missing interface is a clear error (exit 1); run as root it becomes `nobody` with no
# capability after opening its sockets; an interface that goes down is reported and capture resumes
# when it comes back up; SIGINT ends it cleanly with the summary (kernel drops included) and the -w
# capture holds every record's frame; -c and --workers; the default ring (32 MiB with records, 8 MiB
# with -q); an interface that is removed ends the capture with exit 1 and a message.
set -uo pipefail

bin=${1:?usage: cli_live_test.sh STRATA_CLASSIFY}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
live_init cli "CAP_NET_ADMIN for namespaces, CAP_NET_RAW" python3

live_veth 10.98.2 || { echo "FAIL: setup"; exit 1; }

# udp N: N datagrams from the client to the host's closed port 9999, 50 ms apart
udp() {
  ip netns exec "$C" timeout 10 python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range($1):
    s.sendto(b'strata', ('10.98.2.2', 9999)); time.sleep(0.05)"
}

# --- a missing interface ------------------------------------------------------------------------------
rc=0
ip netns exec "$H" timeout 10 "$bin" -i strata-none0 --duration 1 >"$tmp/none.out" 2>"$tmp/none.err" || rc=$?
check "missing interface: exit 1 ($rc)" test "$rc" -eq 1
check "missing interface: message" grep -q "strata-none0: no such interface" "$tmp/none.err"

# --- privileges, down/up, SIGINT, summary, -w ---------------------------------------------------------
ip netns exec "$H" timeout 25 "$bin" -i veth-h --summary -w "$tmp/all.pcap" --all -l \
  >"$tmp/run.out" 2>"$tmp/run.err" &
pid=$!
pids+=("$pid")
sleep 0.7
child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')  # timeout's child: strata-classify
uid=$(awk '/^Uid:/ {print $2}' "/proc/$child/status" 2>/dev/null)
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$child/status" 2>/dev/null)
check "runs as nobody after opening its sockets (uid $uid)" test "$uid" = "$(id -u nobody)"
check "keeps no capability (CapEff $capeff)" test "$capeff" = "0000000000000000"
udp 3
ip -n "$H" link set veth-h down
check "interface down reported" wait_for "$tmp/run.err" "veth-h: interface went down"
ip -n "$H" link set veth-h up
check "interface up reported" wait_for "$tmp/run.err" "veth-h: interface is up again"
sleep 0.3
before=$(grep -c '"udp 10.98.2.1' "$tmp/run.out")
udp 3
sleep 0.3
after=$(grep -c '"udp 10.98.2.1' "$tmp/run.out")
check "capture resumed after the interface came back ($before -> $after datagrams)" test "$after" -ge $((before + 3))
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
check "SIGINT: exit 0 ($rc)" test "$rc" -eq 0
check "SIGINT: summary printed" grep -q "^summary: " "$tmp/run.err"
check "summary: kernel counters" grep -qE "^kernel veth-h: [0-9]+ packets, 0 dropped" "$tmp/run.err"
# README, Capture: records written (here JSON Lines and -w): 32 blocks of 1 MiB by default
check "records written: default ring 32 MiB" grep -q "^live: 1 workers, ring 32 MiB per interface and worker," "$tmp/run.err"
check "datagrams to a closed port: discarded (no listener, from the socket table)" \
  grep -q '"steps":\[{"layer":"INBOUND_IPPACKET_V4"},{"layer":"INBOUND_IPPACKET_V4_DISCARD"}\]' "$tmp/run.out"
records=$(grep -c '"frame":[0-9]' "$tmp/run.out")
frames=$(python3 - "$tmp/all.pcap" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
n, off = 0, 24
while off + 16 <= len(d):
    caplen = struct.unpack_from('<I', d, off + 8)[0]
    off += 16 + caplen
    n += 1
print(n)
EOF
)
check "-w --all: every record's frame written ($records records, $frames frames)" test "$records" -eq "$frames" -a "$frames" -gt 0

# bounded NAME N ARG…: strata-classify ARG… (bounded by -c: it ends by itself) while N datagrams are sent;
# its output in $tmp/NAME.out and $tmp/NAME.err, its exit status in rc
bounded() {
  local name=$1 n=$2
  shift 2
  ip netns exec "$H" timeout 20 "$bin" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pid=$!
  pids+=("$pid")
  sleep 0.5
  udp "$n"
  rc=0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  wait "$pid" || rc=$?
}

# --- -c and --workers ---------------------------------------------------------------------------------
bounded c 8 -i veth-h --workers 2 -c 4 --summary
check "-c 4 --workers 2: exit 0 ($rc)" test "$rc" -eq 0
check "-c 4: four records ($(grep -c '"frame"' "$tmp/c.out"))" test "$(grep -c '"frame"' "$tmp/c.out")" -eq 4
check "--workers 2: summary says 2 workers" grep -q "^live: 2 workers" "$tmp/c.err"

# --- -q: no records, the smaller default ring (README, Capture: 8 blocks of 1 MiB) ------------------------
bounded q 4 -i veth-h -q -c 2 --summary
check "-q -c 2: exit 0 ($rc)" test "$rc" -eq 0
check "-q: no records ($(wc -c <"$tmp/q.out") bytes out)" test ! -s "$tmp/q.out"
check "-q: default ring 8 MiB" grep -q "^live: 1 workers, ring 8 MiB per interface and worker," "$tmp/q.err"

# --- an interface removed -----------------------------------------------------------------------------
ip netns exec "$H" timeout 20 "$bin" -i veth-h -q --user root >"$tmp/rm.out" 2>"$tmp/rm.err" &
pid=$!
pids+=("$pid")
sleep 0.5
ip -n "$H" link del veth-h
rc=0
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait "$pid" || rc=$?
check "interface removed: exit 1 ($rc)" test "$rc" -eq 1
check "interface removed: message" grep -q "veth-h: interface removed; capture ends" "$tmp/rm.err"

if ((failures)); then
  echo "--- run.err"; cat "$tmp/run.err"
  echo "live.cli: $failures check(s) failed"
  exit 1
fi
echo "live.cli: all checks passed"
