#!/usr/bin/env bash
# A full ring (issue 5, live faults): strata-classify -i with a deliberately tiny ring (2 blocks of 4 KiB)
# is stopped (SIGSTOP) while a client floods the watched interface, so the kernel must drop; then it is
# continued, sent 200 more datagrams at a pace it keeps up with, and ended with SIGINT. Checks: no hang (it exits within 10 s of SIGINT), exit status 0 (drops
# are reported, not an error), the drops are counted in the summary, and every packet is accounted for:
# frames classified + kernel drops == kernel packets, and the packets sent after the full ring were captured. Needs root (namespaces, CAP_NET_RAW), ip and
# python3; exits 77 (skipped) otherwise. Two network namespaces made here (10.96.4.0/24), removed on every
# exit path; IPv6 is off and the neighbours are static there, so no stray packet arrives after the flood.
#
#   ring_full_test.sh STRATA_CLASSIFY
set -uo pipefail

bin=${1:?usage: ring_full_test.sh STRATA_CLASSIFY}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
live_init ring "CAP_NET_ADMIN for namespaces, CAP_NET_RAW" python3

for ns in "$H" "$C"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
live_veth 10.96.4 || { echo "FAIL: setup"; exit 1; }
mac_h=$(ip netns exec "$H" cat /sys/class/net/veth-h/address)
mac_c=$(ip netns exec "$C" cat /sys/class/net/veth-c/address)
ip -n "$H" neigh replace 10.96.4.1 lladdr "$mac_c" dev veth-h nud permanent &&
  ip -n "$C" neigh replace 10.96.4.2 lladdr "$mac_h" dev veth-c nud permanent || { echo "FAIL: neighbours"; exit 1; }

ip netns exec "$H" "$bin" -i veth-h --blocks 2 --block-size 4096 -q --summary >"$tmp/out" 2>"$tmp/err" &
pid=$!
pids+=("$pid")
sleep 0.7
kill -0 "$pid" 2>/dev/null || { echo "FAIL: did not start: $(cat "$tmp/err")"; exit 1; }
kill -STOP "$pid"
# 20,000 datagrams while nobody reads the ring: at most a few dozen fit in 8 KiB.
ip netns exec "$C" timeout 30 python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20000): s.sendto(b'strata-ring', ('10.96.4.2', 9))" || bad "flood"
kill -CONT "$pid"
sleep 0.3
# Then 200 more, 5 ms apart, which a running reader keeps up with: capture goes on after the full ring.
ip netns exec "$C" timeout 30 python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200): s.sendto(b'strata-after', ('10.96.4.2', 9)); time.sleep(0.005)" || bad "second burst"
sleep 0.3
t0=$(date +%s%N)
kill -INT "$pid"
rc=124
for ((i = 0; i < 100; i++)); do
  kill -0 "$pid" 2>/dev/null || { { wait "$pid"; } 2>/dev/null; rc=$?; break; }
  sleep 0.1
done
t1=$(date +%s%N)
if ((rc == 124)); then bad "no exit within 10 s of SIGINT (a hang)"; else ok "exited $(((t1 - t0) / 1000000)) ms after SIGINT"; fi
[[ $rc -eq 0 ]] && ok "exit status 0" || bad "exit status $rc (expected 0)"
pid=

frames=$(sed -n 's/^summary: \([0-9]*\) frames.*/\1/p' "$tmp/err")
read -r packets drops freezes < <(sed -n 's/^kernel veth-h: \([0-9]*\) packets, \([0-9]*\) dropped (ring full), \([0-9]*\) queue freezes$/\1 \2 \3/p' "$tmp/err")
echo "summary: ${frames:-?} frames classified; kernel: ${packets:-?} packets, ${drops:-?} dropped, ${freezes:-?} queue freezes"
if [[ -z "$frames" || -z "$packets" || -z "$drops" ]]; then
  bad "summary lines missing: $(cat "$tmp/err")"
else
  ((drops > 0)) && ok "kernel drops counted and reported ($drops)" || bad "no drop reported with a full ring"
  ((frames + drops == packets)) && ok "every packet accounted for: $frames classified + $drops dropped = $packets" ||
    bad "frames $frames + drops $drops != kernel packets $packets"
  # 8 KiB of ring holds well under 200 of these frames: more than 200 classified means the 200 sent after
  # the full ring were captured too.
  grep -q "^live: 1 workers, ring 8 KiB per interface and worker," "$tmp/err" && ok "--blocks 2 --block-size 4096: an 8 KiB ring" ||
    bad "the summary does not say the ring is 8 KiB: $(grep '^live:' "$tmp/err")"
  ((frames > 200)) && ok "capture went on after the full ring ($frames frames classified)" ||
    bad "only $frames frames classified: the 200 sent after the full ring were not all captured"
fi

if ((failures > 0)); then
  echo "--- err"; cat "$tmp/err"
  echo "live.ring_full: $failures check(s) failed"
  exit 1
fi
echo "live.ring_full: all checks passed"
