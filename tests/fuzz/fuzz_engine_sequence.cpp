// libFuzzer target (b): the engine on a sequence of length-prefixed, timestamped frames: flow state,
// reassembly, evictions under small tables, the listener inference and policy switches (select).
// See harness.hpp.
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  strata_fuzz::must(strata_fuzz::frame_sequence(data, size));
  return 0;
}
