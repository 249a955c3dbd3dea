// The batch forms against one frame at a time, on every capture: engine::classify(span, sink) must give
// the same records (traces included) as classify(frame), and stateless<P>::classify(span, out) the same
// answers as stateless<P>::classify(frame) and as parse + key() + the compiled pipeline.
// strata-needs: pcap
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include <strata/engine.hpp>
#include <strata/io/pcap_file.hpp>
#include <strata/stateless.hpp>

#include "../../examples/policies.hpp"
#include "hostile_frames.hpp"

namespace {

struct loaded {
  strata::packet::link_type lt{};
  std::vector<std::vector<std::byte>> bytes;
  std::vector<strata::io::frame> frames;
  strata::host host;
};

loaded load(const std::filesystem::path& path) {
  loaded c;
  auto reader = strata::io::pcap_reader::open(path);
  if (!reader) return c;
  c.lt = reader->link_type();
  for (const strata::io::frame& f : *reader) {
    c.bytes.emplace_back(f.data.begin(), f.data.end());
    c.frames.push_back(f);
  }
  for (std::size_t i = 0; i < c.frames.size(); ++i) c.frames[i].data = c.bytes[i];
  // The observed host: the first frame's source, and a private /8, so that both directions occur.
  for (const auto& f : c.frames) {
    const auto p = strata::packet::parse(f.data, c.lt, f.wire_length);
    if (p.ok()) {
      c.host.add_local(
          strata::prefix{p.src, static_cast<std::uint8_t>(p.fam == strata::family::v4 ? 32 : 128), p.fam});
      break;
    }
  }
  c.host.add_local("10.0.0.0/8");
  return c;
}

bool same(const strata::record& a, const strata::record& b) {
  if (a.steps.size() != b.steps.size()) return false;
  for (std::size_t i = 0; i < a.steps.size(); ++i)
    if (!(a.steps[i] == b.steps[i])) return false;
  const strata::flow_label &x = a.flow, &y = b.flow;
  return a.frame == b.frame && a.dir == b.dir && x.fam == y.fam && x.protocol == y.protocol &&
         x.src == y.src && x.dst == y.dst && x.src_port == y.src_port && x.dst_port == y.dst_port &&
         x.has_ports == y.has_ports && x.is_icmp == y.is_icmp && a.verdict == b.verdict &&
         a.filter == b.filter && a.policy == b.policy && a.filter_name == b.filter_name &&
         a.sublayer_name == b.sublayer_name && a.hard == b.hard && a.veto == b.veto && a.dup == b.dup &&
         a.suppressed == b.suppressed && a.stack_discard == b.stack_discard &&
         a.reassembled == b.reassembled && a.error == b.error && a.error_stage == b.error_stage;
}

TEST(Batch, EngineRecordsAndStatelessAnswersMatchOneFrameAtATime) {
  std::size_t files = 0, frames = 0, differ = 0, stateless_differ = 0, applies = 0;
  for (const auto& path : hostile::capture_files()) {
    const loaded c = load(path);
    if (c.frames.empty()) continue;
    ++files;
    using engine = strata::engine<policies::server>;
    const strata::engine_config cfg{.link = c.lt};
    engine one(c.host, cfg), batched(c.host, cfg);
    std::vector<strata::record> a, b;
    for (const auto& f : c.frames) a.push_back(one.classify(f));
    for (std::size_t at = 0; at < c.frames.size(); at += 100)  // uneven chunks: lookahead past the end
      batched.classify(std::span(c.frames).subspan(at, std::min<std::size_t>(100, c.frames.size() - at)),
                       [&](const strata::record& r) { b.push_back(r); });
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) differ += !same(a[i], b[i]);
    frames += a.size();

    std::vector<strata::stateless_verdict> out(c.frames.size());
    strata::stateless<policies::server>::classify(c.frames, c.lt, c.host, out);
    for (std::size_t i = 0; i < c.frames.size(); ++i) {
      const auto r = strata::stateless<policies::server>::classify(c.frames[i], c.lt, c.host);
      applies += r.applies;
      stateless_differ += r.applies != out[i].applies || !(r.result == out[i].result);
      // Both against the long way: a parsed record, key(), the compiled pipeline.
      const auto p = strata::packet::parse(c.frames[i].data, c.lt, c.frames[i].wire_length);
      strata::path_key k;
      strata::incoming_values v;
      const bool a = strata::stateless<policies::server>::key(p, c.host, k, v);
      stateless_differ +=
          a != r.applies || (a && !(strata::compiled<policies::server>::classify(k, v) == r.result));
    }
  }
  if (files == 0) GTEST_SKIP() << "no captures";
  std::printf("%zu captures, %zu frames (%zu stateless): %zu records differ, %zu stateless answers differ\n",
              files, frames, applies, differ, stateless_differ);
  EXPECT_EQ(differ, 0u);
  EXPECT_EQ(stateless_differ, 0u);
  EXPECT_GT(applies, 0u);
}

}  // namespace
