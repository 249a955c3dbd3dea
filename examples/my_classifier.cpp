// Your own classifier in a few lines: a policy, and strata::cli::main gives it the whole
// strata-classify command line (-r, --local, --format, -w, --summary, ...).
// strata-needs: pcap
#include <strata/cli.hpp>

using namespace strata;

constexpr sublayer mine{"mine", 0x8000};
constexpr auto lab_policy =
    policy(filter<"no-telnet", layer::ale_auth_recv_accept_v4>(mine, action::block, local_port == 23),
           filter<"no-smb-out", layer::ale_auth_connect_v4>(mine, action::block, remote_port == 445),
           filter<"quiet-closed-ports", layer::inbound_transport_v4_discard>(mine, action::block,
                                                                             ip_protocol == proto::tcp));

int main(int argc, char** argv) { return cli::main<lab_policy>(argc, argv, {"lab"}); }
