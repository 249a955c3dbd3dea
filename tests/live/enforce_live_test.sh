#!/usr/bin/env bash
# strata-classify -i IFACE --enforce, end to end (CTest live.enforce): needs root (network namespaces,
# CAP_NET_ADMIN for NFQUEUE and nftables), ip, nft and python3; exits 77 (skipped) otherwise. Everything
# happens inside two network namespaces made here (a host and a client joined by a veth pair,
# 10.97.3.0/24) and removed on every exit path. Bounded: every wait has a timeout (< 60 s in all).
#
#   enforce_live_test.sh STRATA_CLASSIFY
#
# The expectations come from the policies (examples/policies.hpp) and traversal.md, checked from the
# client's side with real kernel sockets, over IPv4 and IPv6, not from the tool's output:
# * stealth: a SYN to a closed port gets no RST (the client's connect times out instead of being
#   refused) and a datagram to a closed UDP port gets no ICMP port unreachable (a connected UDP
#   socket's recv times out instead of failing with ECONNREFUSED); a listening port still connects.
# * server: a permitted port (8080) connects; a listening port that the policy does not permit (7777)
#   times out; closed TCP and UDP ports are still refused (server has no discard-layer filter: the
#   stack's own discard, with its RST or ICMP unreachable, is left to the kernel).
# * the tool's nftables tables exist while it runs and are gone after SIGINT, SIGTERM, an error after
#   they were installed (--user of an unknown user), and a second start after SIGKILL (fail-closed:
#   the tables stay and traffic is dropped until then); fail-open: after SIGKILL they are gone at once
#   and traffic flows. It runs as nobody keeping only CAP_NET_ADMIN.
# * blocklist: a port in its run-time set (--set) times out; SIGHUP reloads the set (emptied: it connects).
set -uo pipefail

bin=${1:?usage: enforce_live_test.sh STRATA_CLASSIFY}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
live_init enf "CAP_NET_ADMIN for namespaces, NFQUEUE and nftables" nft python3

expect() {  # expect WHAT WANTED GOT
  if [[ "$3" == "$2" ]]; then ok "$1: $3"; else bad "$1: expected $2, got $3"; fi
}

live_veth 10.97.3 fd97:3 &&
  ip -n "$H" link set lo up && ip -n "$C" link set lo up || { echo "FAIL: setup"; exit 1; }

# Servers on the host: TCP 8080 (server permits it), TCP 7777 (server does not); each accepts and closes.
# `ip netns exec` execs, so $! is python itself (killed by cleanup); its output goes to a file, never
# to a pipe that a reader of this script waits on.
ip netns exec "$H" python3 -c "
import socket, threading
def serve(port):
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # dual stack: IPv4 and IPv6
    s.bind(('::', port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.close()
for p in (8080, 7777): threading.Thread(target=serve, args=(p,), daemon=True).start()
threading.Event().wait(120)" >"$tmp/servers.log" 2>&1 &
pids+=($!)

# probe tcp|udp PORT [ADDRESS]: what the client sees: connected, refused (RST / ICMP unreachable) or timeout.
probe() {
  ip netns exec "$C" timeout 5 python3 -c "
import socket, sys
proto, port, addr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET,
                  socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM)
s.settimeout(1.5)
try:
    s.connect((addr, port))
    if proto == 'udp':
        s.send(b'strata'); s.recv(100)  # a closed port answers ICMP unreachable: ECONNREFUSED here
    print('connected' if proto == 'tcp' else 'answered')
except ConnectionRefusedError: print('refused')
except (TimeoutError, socket.timeout): print('timeout')
except OSError as e: print('error', e.errno)" "$1" "$2" "${3:-10.97.3.2}" 2>&1
}
tables() { ip netns exec "$H" nft list tables 2>/dev/null | grep -c ' strata$'; }
wait_exit() {  # wait_exit PID [TENTHS]: its exit status, or 124 after the timeout
  local i
  for ((i = 0; i < ${2:-50}; i++)); do kill -0 "$1" 2>/dev/null || { { wait "$1"; } 2>/dev/null; return $?; }; sleep 0.1; done
  return 124
}
start() {  # start NAME ARGS...: strata-classify in the host namespace, in the background; sets $pid
  local name=$1
  shift
  ip netns exec "$H" "$bin" -i veth-h --enforce --format text --summary -l "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pid=$!
  pids+=("$pid")
  if ! wait_for "$tmp/$name.err" "enforcing policy"; then
    if grep -q "the kernel lacks" "$tmp/$name.err"; then
      echo "SKIP: this kernel cannot queue packets from nftables: $(cat "$tmp/$name.err")"
      exit 77
    fi
    bad "$name: did not start: $(cat "$tmp/$name.err")"
    return 1
  fi
}

# --- before: the kernel answers closed ports (so the checks below can fail) ---------------------------
expect "no enforcement: TCP to closed port 9" refused "$(probe tcp 9)"
expect "no enforcement: UDP to closed port 9999" refused "$(probe udp 9999)"
expect "no enforcement: TCP to 7777" connected "$(probe tcp 7777)"
expect "no enforcement: IPv6 TCP to closed port 9" refused "$(probe tcp 9 fd97:3::2)"
expect "no enforcement: IPv6 UDP to closed port 9999" refused "$(probe udp 9999 fd97:3::2)"

# --- usage and early errors leave nothing behind ------------------------------------------------------
rc=0
ip netns exec "$H" "$bin" -r /dev/null --local 10.97.3.2 --enforce >/dev/null 2>"$tmp/usage.err" || rc=$?
expect "--enforce without -i: usage error (exit)" 2 "$rc"
rc=0
ip netns exec "$H" timeout 10 "$bin" -i strata-none0 --enforce >/dev/null 2>"$tmp/none.err" || rc=$?
expect "--enforce on a missing interface (exit)" 1 "$rc"
grep -q "strata-none0: no such interface" "$tmp/none.err" && ok "missing interface: message" ||
  bad "missing interface: message: $(cat "$tmp/none.err")"
expect "no table after an error at start" 0 "$(tables)"

# --- stealth: no answer from closed ports ---------------------------------------------------------------
start stealth --policy stealth || exit 1
expect "stealth: tables while enforcing (ip, ip6)" 2 "$(tables)"
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
expect "stealth: runs as nobody" "$(id -u nobody)" "$uid"
expect "stealth: keeps only CAP_NET_ADMIN (CapEff)" 0000000000001000 "$capeff"
t0=$(date +%s.%N)
expect "stealth: TCP to closed port 9 (no RST)" timeout "$(probe tcp 9)"
t1=$(date +%s.%N)
expect "stealth: UDP to closed port 9999 (no ICMP unreachable)" timeout "$(probe udp 9999)"
expect "stealth: TCP to listening port 8080" connected "$(probe tcp 8080)"
expect "stealth: IPv6 TCP to closed port 9 (no RST)" timeout "$(probe tcp 9 fd97:3::2)"
expect "stealth: IPv6 UDP to closed port 9999 (no ICMPv6 unreachable)" timeout "$(probe udp 9999 fd97:3::2)"
expect "stealth: IPv6 TCP to listening port 8080" connected "$(probe tcp 8080 fd97:3::2)"
kill -INT "$pid"
wait_exit "$pid"
expect "stealth: exit status after SIGINT" 0 "$?"
expect "stealth: tables after SIGINT" 0 "$(tables)"
grep -q "enforce: .* dropped" "$tmp/stealth.err" && ok "stealth: summary printed" || bad "stealth: no summary"
expect "after stealth: TCP to closed port 9 refused again" refused "$(probe tcp 9)"
echo "stealth: the closed-port TCP probe took $(python3 -c "print(round($t1 - $t0, 2))") s (1.5 s client timeout)"

# --- server: blocked connections fail, permitted ones succeed --------------------------------------------
start server --policy server || exit 1
expect "server: TCP to permitted port 8080" connected "$(probe tcp 8080)"
expect "server: TCP to listening but not permitted port 7777" timeout "$(probe tcp 7777)"
expect "server: IPv6 TCP to permitted port 8080" connected "$(probe tcp 8080 fd97:3::2)"
expect "server: IPv6 TCP to listening but not permitted port 7777" timeout "$(probe tcp 7777 fd97:3::2)"
expect "server: TCP to closed port 9 (RST not suppressed)" refused "$(probe tcp 9)"
expect "server: UDP to closed port 9999 (ICMP unreachable not suppressed)" refused "$(probe udp 9999)"
kill -TERM "$pid"
wait_exit "$pid"
expect "server: exit status after SIGTERM" 0 "$?"
expect "server: tables after SIGTERM" 0 "$(tables)"
expect "after server: TCP to 7777" connected "$(probe tcp 7777)"

# --- blocklist with a run-time set: the set is enforced, and SIGHUP reloads it (the run goes on) ----------
# The file is re-read after the drop to nobody: it must be readable by nobody.
chmod 755 "$tmp"
echo 7777 >"$tmp/ports"
chmod 644 "$tmp/ports"
start sets --policy blocklist --set "blocked-ports=$tmp/ports" || exit 1
expect "blocklist: TCP to 7777 (in the set)" timeout "$(probe tcp 7777)"
expect "blocklist: TCP to 8080 (not in the set)" connected "$(probe tcp 8080)"
: >"$tmp/ports"
kill -HUP "$pid"
if wait_for "$tmp/sets.err" "sets reloaded"; then ok "blocklist: SIGHUP reloaded the set"; else bad "blocklist: no reload"; fi
expect "blocklist: TCP to 7777 after the set was emptied" connected "$(probe tcp 7777)"
expect "blocklist: tables while running after SIGHUP" 2 "$(tables)"
kill -INT "$pid"
wait_exit "$pid"
expect "blocklist: exit status" 0 "$?"
expect "blocklist: tables after" 0 "$(tables)"

# --- an error after the rules are in (unknown --user): removed on that path too ----------------------------
rc=0
ip netns exec "$H" timeout 10 "$bin" -i veth-h --enforce --user strata-no-such-user >/dev/null 2>"$tmp/user.err" || rc=$?
expect "--user unknown with --enforce (exit)" 2 "$rc"
expect "tables after a failed privilege drop" 0 "$(tables)"

# --- fail-closed (the default), SIGKILL: the tables stay and drop; the next start removes them -----------
start killed --policy observe --fail-closed || exit 1
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null  # reaped here, so bash reports no "Killed"
expect "fail-closed: tables after SIGKILL (left behind)" 2 "$(tables)"
expect "fail-closed: TCP to 8080 after SIGKILL (queue without listener: dropped)" timeout "$(probe tcp 8080)"
start restart --policy observe || exit 1
grep -q "removed the nftables table strata left by an earlier run" "$tmp/restart.err" &&
  ok "fail-closed: next start removed the stale table" || bad "fail-closed: no stale-table message"
expect "fail-closed: TCP to 8080 while the next run enforces observe" connected "$(probe tcp 8080)"
kill -INT "$pid"
wait_exit "$pid"
expect "fail-closed: exit status of the next run" 0 "$?"
expect "fail-closed: tables after the next run" 0 "$(tables)"

# --- fail-open, SIGKILL: the kernel removes the owned tables with the process; traffic flows -------------
start open --policy stealth --fail-open || exit 1
expect "fail-open: tables while enforcing" 2 "$(tables)"
expect "fail-open: TCP to closed port 9 while enforcing stealth" timeout "$(probe tcp 9)"
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null  # reaped here, so bash reports no "Killed"
sleep 0.2
expect "fail-open: tables after SIGKILL" 0 "$(tables)"
expect "fail-open: TCP to 8080 after SIGKILL" connected "$(probe tcp 8080)"
expect "fail-open: TCP to closed port 9 after SIGKILL (the kernel answers again)" refused "$(probe tcp 9)"

# --- -c and --duration end it the same way ---------------------------------------------------------------
start bounded --policy stealth --duration 2 || exit 1
probe tcp 8080 >/dev/null
wait_exit "$pid" 60
expect "--duration: exit status" 0 "$?"
expect "--duration: tables after" 0 "$(tables)"

if ((failures > 0)); then
  for f in "$tmp"/*.err; do echo "--- $f"; cat "$f"; done
  echo "live.enforce: $failures check(s) failed"
  exit 1
fi
echo "live.enforce: all checks passed"
