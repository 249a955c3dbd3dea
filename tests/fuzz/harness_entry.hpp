// The fuzz targets' entry points into harness.hpp. They are compiled once, in harness_entry.cpp, for
// every target: the engine is what takes long to compile, and three targets drive the same engine.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata_fuzz::entry {

const char* one_frame(const std::uint8_t* data, std::size_t size);
const char* frame_sequence(const std::uint8_t* data, std::size_t size);
const char* address_text(const std::uint8_t* data, std::size_t size);
/// Needs libpcap (STRATA_HAVE_PCAP).
const char* capture_file(const char* path);
/// Aborts with the broken invariant, if any (the fuzz targets' way of reporting one).
void must(const char* failure);

}  // namespace strata_fuzz::entry
