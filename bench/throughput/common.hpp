// The throughput benchmark's shared parts: the workload (captured and generated frames held in memory),
// the contender interface, and the contenders built on strata's engine. Each translation unit of
// bench/throughput.cpp defines a few contenders (so that the large policies compile in parallel).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <strata/engine.hpp>
#include <strata/flow/answers.hpp>
#include <strata/packet/parse.hpp>
#include <strata/stateless.hpp>

namespace bench {

/// One capture (or the generated mix): its frames in memory and the host it is seen from.
struct segment {
  std::string name;
  strata::host host;
  strata::packet::link_type link = strata::packet::link_type::ethernet;
  std::vector<strata::io::frame> frames;  // views into `bytes`
  std::vector<std::byte> bytes;
  std::int64_t shift_ns = 0;  // added to every timestamp per replay: time moves forward, loop after loop
  std::size_t flow_capacity = 4096;
  strata::flow::answer_index answers;  // the offline listener oracle (as strata-classify builds it)
  std::vector<std::string> v4_locals;  // the host's IPv4 locals as "A.B.C.D/LEN" (for BPF expressions)
};

/// Frames replayed in a loop: the real captures, or the generated mix.
struct workload {
  std::string name;
  std::vector<segment> segs;
  std::size_t packets() const {
    std::size_t n = 0;
    for (const auto& s : segs) n += s.frames.size();
    return n;
  }
};

/// Something that classifies every frame of a workload, once per `pass`.
struct contender {
  virtual ~contender() = default;
  virtual void pass() = 0;
  /// Frames blocked so far (all passes).
  virtual std::uint64_t blocked() const = 0;
  /// Decisions per filter so far (engine contenders), for the cross-checks.
  virtual std::vector<std::uint64_t> hits() const { return {}; }
};

struct contender_info {
  std::string name;   // e.g. "strata-100"
  std::string group;  // what it is compared with
  std::function<std::unique_ptr<contender>(const workload&)> make;
};

/// A frame with its timestamp moved forward by `loop` replays of its segment.
inline strata::io::frame shifted(const strata::io::frame& f, const segment& s, std::uint64_t loop) {
  strata::io::frame g = f;
  g.time += std::chrono::nanoseconds(static_cast<std::int64_t>(loop) * s.shift_ns);
  return g;
}

/// strata's engines, tracing off, one per segment: what the one-frame and the batch contenders share.
template <auto const& P>
class engines_base : public contender {
 public:
  using engine_type = strata::verdict_engine<P>;
  explicit engines_base(const workload& w) : w_(w) {
    for (const segment& s : w.segs) {
      auto e = std::make_unique<engine_type>(
          s.host,
          strata::engine_config{
              .flow_capacity = s.flow_capacity, .endpoint_capacity = s.flow_capacity / 4, .link = s.link});
      e->use_answers(const_cast<strata::flow::answer_index*>(&s.answers));
      engines_.push_back(std::move(e));
    }
  }
  std::uint64_t blocked() const override { return blocked_; }
  std::vector<std::uint64_t> hits() const override {
    std::vector<std::uint64_t> h(P.filters.size(), 0);
    for (const auto& e : engines_) {
      auto x = e->filter_hits(0);
      for (std::size_t i = 0; i < h.size(); ++i) h[i] += x[i];
    }
    return h;
  }

 protected:
  // One replay: `classify(engine, segment)` runs a segment's frames through its engine and returns how
  // many it blocked.
  template <class Classify>
  void replay(Classify classify) {
    ++loop_;
    for (std::size_t i = 0; i < engines_.size(); ++i) blocked_ += classify(*engines_[i], w_.segs[i]);
  }

  const workload& w_;
  std::vector<std::unique_ptr<engine_type>> engines_;
  std::uint64_t loop_ = 0;
  std::uint64_t blocked_ = 0;
};

/// strata's engine, one frame per call.
template <auto const& P>
class engine_contender final : public engines_base<P> {
 public:
  using engines_base<P>::engines_base;
  void pass() override {
    this->replay([this](auto& e, const segment& s) {
      std::uint64_t b = 0;
      for (const strata::io::frame& f : s.frames)
        b += e.classify(shifted(f, s, this->loop_)).verdict == strata::action::block;
      return b;
    });
  }
};

/// The same engine through its batch form (engine::classify(span, sink)), `batch_frames` frames per call:
/// the headers and flow buckets of the next frames are requested while the current one is classified.
inline constexpr std::size_t batch_frames = 256;

template <auto const& P>
class engine_batch_contender final : public engines_base<P> {
 public:
  using engines_base<P>::engines_base;
  void pass() override {
    this->replay([this](auto& e, const segment& s) {
      std::uint64_t b = 0;
      for (std::size_t at = 0; at < s.frames.size(); at += batch_frames) {
        const std::size_t n = std::min(batch_frames, s.frames.size() - at);
        for (std::size_t k = 0; k < n; ++k) buf_[k] = shifted(s.frames[at + k], s, this->loop_);
        e.classify(std::span<const strata::io::frame>(buf_.data(), n),
                   [&b](const strata::record& r) { b += r.verdict == strata::action::block; });
      }
      return b;
    });
  }

 private:
  std::array<strata::io::frame, batch_frames> buf_{};
};

/// The values the engine presents to the filters (engine.hpp's values_of, the fields the benchmark
/// policies test).
inline strata::incoming_values values_of(const strata::packet::parsed& p, bool inbound) {
  strata::incoming_values v;
  v.local_address = inbound ? p.dst : p.src;
  v.remote_address = inbound ? p.src : p.dst;
  v.ip_protocol = p.protocol;
  if (p.l4 == strata::packet::l4_kind::tcp || p.l4 == strata::packet::l4_kind::udp) {
    v.local_port = inbound ? p.dst_port : p.src_port;
    v.remote_port = inbound ? p.src_port : p.dst_port;
  } else if (p.l4 == strata::packet::l4_kind::icmp || p.l4 == strata::packet::l4_kind::icmpv6) {
    v.local_port = p.icmp.type;
    v.remote_port = p.icmp.code;
  }
  return v;
}

/// The stateless question (no flows): an IPv4, non-fragment packet to or from the host, through its
/// direction's IP-packet and transport layers (the path of an established TCP segment). Returns false
/// for the packets it does not apply to (they pass).
inline bool stateless_key(const strata::packet::parsed& p, const strata::host& h, strata::path_key& key,
                          strata::incoming_values& v) {
  if (!p.ok() || p.fam != strata::family::v4 || p.frag.is_fragment()) return false;
  const auto d = h.direction(p.src, p.dst, p.fam);
  if (d == strata::traffic_direction::inbound) {
    key = {strata::path_kind::tcp_inbound_segment, strata::family::v4, false};
    v = values_of(p, true);
    return true;
  }
  if (d == strata::traffic_direction::outbound) {
    key = {strata::path_kind::tcp_outbound_segment, strata::family::v4, false};
    v = values_of(p, false);
    return true;
  }
  return false;
}

/// strata's compiled pipeline as a stateless classifier (strata/stateless.hpp), one frame at a time:
/// parse, direction, one pipeline call per frame.
template <auto const& P>
class stateless_contender final : public contender {
 public:
  explicit stateless_contender(const workload& w) : w_(w) {}
  void pass() override {
    std::uint64_t b = 0;
    for (const segment& s : w_.segs)
      for (const strata::io::frame& f : s.frames) {
        const strata::stateless_verdict r = strata::stateless<P>::classify(f, s.link, s.host);
        b += r.applies && r.result.verdict == strata::action::block;
      }
    blocked_ += b;
  }
  std::uint64_t blocked() const override { return blocked_; }

 private:
  const workload& w_;
  std::uint64_t blocked_ = 0;
};

/// The same through the batch form, `batch` frames per call (a caller draining a ring of frames): the
/// headers of the next frames are requested while the current one is classified.
inline constexpr std::size_t batch = 256;

template <auto const& P, std::size_t Lookahead = strata::stateless<P>::default_lookahead>
class stateless_batch_contender final : public contender {
 public:
  explicit stateless_batch_contender(const workload& w) : w_(w) {}
  void pass() override {
    std::uint64_t b = 0;
    for (const segment& s : w_.segs)
      for (std::size_t i = 0; i < s.frames.size(); i += batch) {
        const std::size_t n = std::min(batch, s.frames.size() - i);
        strata::stateless<P>::template classify<Lookahead>(std::span(s.frames).subspan(i, n), s.link, s.host,
                                                           std::span(out_).first(n));
        for (std::size_t k = 0; k < n; ++k)
          b += out_[k].applies && out_[k].result.verdict == strata::action::block;
      }
    blocked_ += b;
  }
  std::uint64_t blocked() const override { return blocked_; }

 private:
  const workload& w_;
  std::array<strata::stateless_verdict, batch> out_{};
  std::uint64_t blocked_ = 0;
};

/// One frame's stateless outcome: -1 not applicable, else the verdict and the deciding filter.
struct stateless_outcome {
  std::int8_t verdict = -1;  // -1 n/a, 0 permit, 1 block
  std::int16_t filter = -1;
  friend bool operator==(const stateless_outcome&, const stateless_outcome&) = default;
};

/// The outcomes of the library's stateless classifier, one frame at a time or in batches (to cross-check
/// both against stateless_outcomes before timing).
template <auto const& P>
std::vector<stateless_outcome> library_outcomes(const workload& w, bool batched) {
  std::vector<stateless_outcome> out;
  std::array<strata::stateless_verdict, batch> buf{};
  for (const segment& s : w.segs)
    for (std::size_t i = 0; i < s.frames.size(); i += batch) {
      const std::size_t n = std::min(batch, s.frames.size() - i);
      if (batched)
        strata::stateless<P>::classify(std::span(s.frames).subspan(i, n), s.link, s.host,
                                       std::span(buf).first(n));
      else
        for (std::size_t k = 0; k < n; ++k)
          buf[k] = strata::stateless<P>::classify(s.frames[i + k], s.link, s.host);
      for (std::size_t k = 0; k < n; ++k) {
        stateless_outcome o;
        if (buf[k].applies) {
          o.verdict = buf[k].result.verdict == strata::action::block ? 1 : 0;
          o.filter = buf[k].result.filter;
        }
        out.push_back(o);
      }
    }
  return out;
}

template <auto const& P>
std::vector<stateless_outcome> stateless_outcomes(const workload& w) {
  std::vector<stateless_outcome> out;
  for (const segment& s : w.segs) {
    for (const strata::io::frame& f : s.frames) {
      const strata::packet::parsed p = strata::packet::parse(f.data, s.link, f.wire_length);
      strata::path_key key;
      strata::incoming_values v;
      stateless_outcome o;
      if (stateless_key(p, s.host, key, v)) {
        const auto r = strata::compiled<P>::classify(key, v);
        o.verdict = r.verdict == strata::action::block ? 1 : 0;
        o.filter = r.filter;
      }
      out.push_back(o);
    }
  }
  return out;
}

// ---- what each translation unit provides ----------------------------------------------------------

// engines_small.cpp: floor, strata-10/100, hand-100, runtime-10/100, strata stateless s10/s100.
std::vector<contender_info> small_contenders();
/// Cross-checks strata's compiled p100 against the hand-written and run-time classifiers on every
/// path key for a sample of the workload's packets; returns the number of mismatches (details to stderr).
std::size_t check_p100(const workload& w, std::size_t sample_every);
std::vector<stateless_outcome> outcomes_s10(const workload& w);
std::vector<stateless_outcome> outcomes_s100(const workload& w);
/// The library's stateless<s10/s100> on the same frames, one at a time or batched (library_outcomes).
std::vector<stateless_outcome> library_outcomes_s10(const workload& w, bool batched);
std::vector<stateless_outcome> library_outcomes_s100(const workload& w, bool batched);

// engines_1000.cpp: strata-1000, runtime-1000, strata stateless p1000.
std::vector<contender_info> large_contenders();
std::size_t check_p1000(const workload& w, std::size_t sample_every);
std::vector<stateless_outcome> outcomes_p1000(const workload& w);
std::vector<stateless_outcome> library_outcomes_p1000(const workload& w, bool batched);

// acl.cpp (only with DPDK): rte_acl on the 5-tuple part of p1000. `eal_error` says why it cannot run.
bool acl_available(std::string& why);
std::vector<contender_info> acl_contenders();
std::vector<stateless_outcome> acl_outcomes(const workload& w);

}  // namespace bench
