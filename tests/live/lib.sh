# Sourced by the live tests: the skip rule, two network namespaces made for the test and removed on every
# exit path, a veth pair between them, and the ok/bad/check reporting.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   live_init NAME "why root is needed" TOOL...  skips (exit 77) without root or a tool; makes the
#                                                namespaces $H (the observed host) and $C (its client) and
#                                                the scratch folder $tmp; PIDs added to `pids` are killed
#                                                at exit (stopped ones too)
#   live_veth PREFIX [V6PREFIX]                  veth-h (PREFIX.2/24) in $H, veth-c (PREFIX.1/24) in $C, up;
#                                                with V6PREFIX also V6PREFIX::2/64 and ::1/64 (no DAD)
#   ok / bad / check WHAT COMMAND... / wait_for FILE TEXT [TENTHS]; $failures counts the bad ones

live_init() {
  local name=$1 why=$2 t
  shift 2
  [[ $EUID -eq 0 ]] || { echo "SKIP: needs root ($why)"; exit 77; }
  for t in ip timeout "$@"; do command -v "$t" >/dev/null || { echo "SKIP: needs $t"; exit 77; }; done
  H=strata-$name$$h
  C=strata-$name$$c
  tmp=$(mktemp -d "/tmp/strata-$name-live.XXXXXX")
  pids=()
  trap live_cleanup EXIT
  ip netns add "$H" && ip netns add "$C" || { echo "SKIP: cannot create network namespaces"; exit 77; }
}

live_cleanup() {
  local p
  for p in "${pids[@]}"; do
    # `ip netns exec … timeout N cmd` leaves cmd a child of timeout: killed first, or it would keep the
    # test's output open (CTest waits for it) until its own timeout
    pkill -KILL -P "$p" 2>/dev/null
    kill -CONT "$p" 2>/dev/null
    kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  ip netns del "$H" 2>/dev/null  # nftables tables made inside it go with it
  ip netns del "$C" 2>/dev/null
  rm -rf "$tmp"
}

live_veth() {
  local v4=$1 v6=${2:-}
  ip -n "$H" link add veth-h type veth peer name veth-c netns "$C" &&
    ip -n "$H" addr add "$v4.2/24" dev veth-h && ip -n "$C" addr add "$v4.1/24" dev veth-c || return 1
  if [[ -n "$v6" ]]; then
    ip -n "$H" -6 addr add "$v6::2/64" dev veth-h nodad && ip -n "$C" -6 addr add "$v6::1/64" dev veth-c nodad ||
      return 1
  fi
  ip -n "$H" link set veth-h up && ip -n "$C" link set veth-c up
}

failures=0
ok() { echo "ok: $*"; }
bad() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
wait_for() {  # wait_for FILE TEXT [TENTHS]: until FILE contains TEXT
  local i
  for ((i = 0; i < ${3:-50}; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
