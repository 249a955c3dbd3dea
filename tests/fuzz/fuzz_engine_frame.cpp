// libFuzzer target (a): the engine on one arbitrary frame of any link type (first byte), under any
// observed host, listener hint, policy and snap (second byte). See harness.hpp.
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  strata_fuzz::must(strata_fuzz::one_frame(data, size));
  return 0;
}
