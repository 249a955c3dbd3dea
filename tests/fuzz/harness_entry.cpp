// See harness_entry.hpp.
#include "harness_entry.hpp"

#include "harness.hpp"

namespace strata_fuzz::entry {

const char* one_frame(const std::uint8_t* data, std::size_t size) {
  return strata_fuzz::one_frame(data, size);
}
const char* frame_sequence(const std::uint8_t* data, std::size_t size) {
  return strata_fuzz::frame_sequence(data, size);
}
const char* address_text(const std::uint8_t* data, std::size_t size) {
  return strata_fuzz::address_text(data, size);
}
#if defined(STRATA_HAVE_PCAP)
const char* capture_file(const char* path) { return strata_fuzz::capture_file(path); }
#endif
void must(const char* failure) { strata_fuzz::must(failure); }

}  // namespace strata_fuzz::entry
