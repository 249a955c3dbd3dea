// One engine, two policies: "trusted" is an address set in one and a port set in the other. The engine
// refuses it, and the diagnostic names the set.
// expect: run_time_set_is_used_both_as_an_address_set_and_as_a_port_set
// expect-gcc: Set = strata::detail::fixed_string<8>."trusted".
// expect-clang: non-constexpr function 'run_time_set_is_used_both_as_an_address_set_and_as_a_port_set<..116,
// 114, 117, 115, 116, 101, 100, 0..>' max-lines-gcc: 30 max-lines-clang: 40
#include <strata/engine.hpp>

using namespace strata;

constexpr auto by_address = policy(filter<"from-trusted", layer::ale_auth_recv_accept_v4>(
    action::permit, remote_address.in(address_set<"trusted">)));
#ifdef STRATA_COMPILE_FAIL
constexpr auto by_port = policy(
    filter<"to-trusted", layer::ale_auth_connect_v4>(action::permit, remote_port.in(port_set<"trusted">)));
#else
constexpr auto by_port = policy(filter<"to-trusted", layer::ale_auth_connect_v4>(
    action::permit, remote_port.in(port_set<"trusted-ports">)));
#endif

int main() {
  engine<by_address, by_port> e{host{}};
  return e.sets().size() == 2 ? 0 : 1;
}
