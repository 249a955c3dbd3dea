// libFuzzer target (d): parse_prefix / parse_address (every family and host-bits mode, round trips
// through the text form, differential against inet_pton) and host::add_local. See harness.hpp.
#include "harness_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  strata_fuzz::entry::must(strata_fuzz::entry::address_text(data, size));
  return 0;
}
