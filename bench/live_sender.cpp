// The bounded sender of bench/live: pushes a fixed number of packets over an interface as fast as it can,
// so that a live consumer on the other end of a veth pair can be measured (kernel drops, CPU per packet).
//
//   live_sender udp DST_IPV4 PORT FRAME_BYTES COUNT     UDP datagrams whose Ethernet frames are FRAME_BYTES
//                                                      long (60 to 1514), sent with sendmmsg in batches of 64
//   live_sender replay IFACE CAPTURE COUNT             the capture's frames, looped until COUNT were sent,
//                                                      written as they are to IFACE (AF_PACKET, no qdisc)
//
// Prints one line: "sent N packets in S s (R pps)". Exit 0, or 1 with a message naming the cause.
// A bench program with a main of its own (bench/CMakeLists.txt links benchmark_main, which this main
// overrides).
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <pcap/pcap.h>

namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "live_sender: %s: %s\n", what.c_str(), std::strerror(errno));
  return 1;
}

struct stopwatch {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  void report(unsigned long long sent) const {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("sent %llu packets in %.3f s (%.0f pps)\n", sent, s,
                s > 0 ? static_cast<double>(sent) / s : 0.0);
  }
};

int send_udp(const char* dst, int port, int frame_bytes, unsigned long long count) {
  constexpr int headers = 14 + 20 + 8;  // Ethernet, IPv4 without options, UDP
  if (frame_bytes < 60 || frame_bytes > 1514) {
    std::fprintf(stderr, "live_sender: FRAME_BYTES must be 60 to 1514\n");
    return 2;
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return fail("socket");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, dst, &to.sin_addr) != 1) {
    std::fprintf(stderr, "live_sender: not an IPv4 address: %s\n", dst);
    return 2;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) return fail("connect");
  constexpr unsigned batch = 64;
  std::vector<char> payload(static_cast<std::size_t>(frame_bytes - headers), 's');
  std::vector<iovec> iov(batch, iovec{payload.data(), payload.size()});
  std::vector<mmsghdr> msgs(batch);
  for (unsigned i = 0; i < batch; ++i) {
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  stopwatch clock;
  unsigned long long sent = 0;
  while (sent < count) {
    const auto n = static_cast<unsigned>(std::min<unsigned long long>(batch, count - sent));
    const int r = ::sendmmsg(fd, msgs.data(), n, 0);
    if (r < 0) {
      if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED || errno == EINTR) continue;  // retry
      return fail("sendmmsg");
    }
    sent += static_cast<unsigned>(r);
  }
  clock.report(sent);
  ::close(fd);
  return 0;
}

int replay(const char* iface, const char* capture, unsigned long long count) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = ::pcap_open_offline(capture, err);
  if (!p) {
    std::fprintf(stderr, "live_sender: %s: %s\n", capture, err);
    return 1;
  }
  if (::pcap_datalink(p) != DLT_EN10MB) {
    std::fprintf(stderr, "live_sender: %s: only Ethernet captures can be replayed\n", capture);
    return 1;
  }
  std::vector<std::vector<unsigned char>> frames;
  pcap_pkthdr* h = nullptr;
  const unsigned char* data = nullptr;
  while (::pcap_next_ex(p, &h, &data) == 1)
    if (h->caplen == h->len && h->len >= 14 && h->len <= 1514) frames.emplace_back(data, data + h->caplen);
  ::pcap_close(p);
  if (frames.empty()) {
    std::fprintf(stderr, "live_sender: %s: no whole Ethernet frame to replay\n", capture);
    return 1;
  }
  const int fd = ::socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: sends only, receives nothing
  if (fd < 0) return fail("socket(AF_PACKET)");
  const int one = 1;
  (void)::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(::if_nametoindex(iface));
  if (to.sll_ifindex == 0) return fail(iface);
  stopwatch clock;
  unsigned long long sent = 0;
  for (std::size_t i = 0; sent < count; i = (i + 1) % frames.size()) {
    const auto& f = frames[i];
    if (::sendto(fd, f.data(), f.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0) {
      if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) continue;
      return fail("sendto");
    }
    ++sent;
  }
  clock.report(sent);
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "udp" && argc == 6)
    return send_udp(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), std::strtoull(argv[5], nullptr, 10));
  if (mode == "replay" && argc == 5) return replay(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10));
  std::fprintf(stderr,
               "usage: live_sender udp DST_IPV4 PORT FRAME_BYTES COUNT\n"
               "       live_sender replay IFACE CAPTURE COUNT\n");
  return 2;
}
