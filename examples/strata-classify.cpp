// strata-classify: classifies a capture with a compiled-in policy (observe, stealth, server or blocklist) and
// prints each frame's traversal of the WFP layers. See `strata-classify --help`.
// strata-needs: pcap
#include <strata/cli.hpp>

#include "policies.hpp"

int main(int argc, char** argv) {
  return strata::cli::main<policies::observe, policies::stealth, policies::server, policies::blocklist>(
      argc, argv, {"observe", "stealth", "server", "blocklist"});
}
