// libFuzzer target (a): the engine on one arbitrary frame of any link type (first byte), under any
// observed host, listener hint, policy and snap (second byte). See harness.hpp.
#include "harness_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  strata_fuzz::entry::must(strata_fuzz::entry::one_frame(data, size));
  return 0;
}
