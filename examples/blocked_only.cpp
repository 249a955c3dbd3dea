// The engine is a range-v3 citizen: a capture is a range of frames, views::classify turns it into
// a range of records, and the rest of range-v3 composes with it. This prints the blocked frames of
// a capture under the `server` policy, at most ten of them.
//
//   blocked_only tests/data/strata-demo.pcap 10.99.1.2 fd99:1::2
// strata-needs: pcap
#include <cstdio>
#include <string>

#include <range/v3/view/filter.hpp>
#include <range/v3/view/take.hpp>

#include <strata/engine.hpp>
#include <strata/io/format.hpp>
#include <strata/io/pcap_file.hpp>
#include <strata/views.hpp>

#include "policies.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CAPTURE LOCAL-ADDRESS...\n", argv[0]);
    return 2;
  }
  strata::host host;
  for (int i = 2; i < argc; ++i) {
    if (!host.add_local(argv[i])) {
      std::fprintf(stderr, "%s: not an address: %s\n", argv[0], argv[i]);
      return 2;
    }
  }
  auto capture = strata::io::pcap_reader::open(argv[1]);
  if (!capture) {
    std::fprintf(stderr, "%s: %s\n", argv[0], capture.error().what().c_str());
    return 1;
  }
  using engine = strata::engine<policies::server>;
  engine e{host, {.link = capture->link_type()}};

  std::string line;
  for (const strata::record& r : *capture | strata::views::classify(e) |
                                     ranges::views::filter(strata::is_blocked) | ranges::views::take(10)) {
    line.clear();
    strata::io::append_text<engine>(line, r);
    std::puts(line.c_str());
  }
}
