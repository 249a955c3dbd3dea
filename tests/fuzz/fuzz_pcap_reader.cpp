// libFuzzer target (c): the capture-file reader on an arbitrary file (pcap or pcapng), every frame it
// delivers classified by the engine. The input is written to a memfd and opened by its /proc path,
// as pcap_reader opens any file. libpcap itself is not instrumented (Debian's build): coverage
// feedback comes from strata's side only. See harness.hpp.
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "harness_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = [] {
    const int f = memfd_create("strata-fuzz-capture", 0);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (ftruncate(fd, 0) != 0) std::abort();
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  strata_fuzz::entry::must(strata_fuzz::entry::capture_file(path.c_str()));
  return 0;
}
