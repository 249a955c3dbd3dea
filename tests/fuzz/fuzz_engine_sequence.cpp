// libFuzzer target (b): the engine on a sequence of length-prefixed, timestamped frames: flow state,
// reassembly, evictions under small tables, the listener inference and policy switches (select).
// See harness.hpp.
#include "harness_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  strata_fuzz::entry::must(strata_fuzz::entry::frame_sequence(data, size));
  return 0;
}
