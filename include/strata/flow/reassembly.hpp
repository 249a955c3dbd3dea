// IPv4 and IPv6 reassembly (RFC 791, RFC 8200 §4.5, RFC 5722) in a fixed memory pool.
//
//   strata::flow::reassembler frags{{.memory_bytes = 4 << 20}};
//   const auto p = strata::packet::parse(frame, link);
//   const auto r = frags.offer(p, frame, now_ns);
//   switch (r.status) {
//     case reassembly_status::not_a_fragment: /* classify p as it is */ break;
//     case reassembly_status::completed: {
//       const auto whole = strata::packet::parse(r.datagram, strata::packet::link_type::raw);  // the rebuilt
//       packet break;
//     }
//     case reassembly_status::stored: case reassembly_status::duplicate: /* the fragment is held / ignored */
//     break; case reassembly_status::dropped: /* r.reason_text(): "overlap", "too_large", ... */ break;
//   }
//
// Datagrams are keyed by (family, source, destination, identification), plus the protocol for IPv4
// (RFC 791; RFC 8200 keys IPv6 on the addresses and the fragment header's identification). An IPv6
// atomic fragment (offset 0, M = 0: RFC 6946) is `not_a_fragment`: it is processed on its own.
//
// What is rejected, and how it is counted:
// * an overlap between two fragments of a datagram (RFC 5722 for IPv6, applied to IPv4 as well)
//   drops the whole datagram (`dropped_overlap`); a later fragment of it starts a new datagram. An
//   exact duplicate (same offset, length, M flag and bytes) is ignored (`duplicates`, RFC 8200 §4.5).
// * a datagram whose reassembled length would exceed `max_datagram_size` (65535: IPv4 total length,
//   IPv6 payload length) is dropped (`dropped_too_large`).
// * limits (`dropped_limits`): more than `max_fragments` fragments; a source address over its share of
//   the pool (`per_host_bytes`) or of the datagram slots (`per_host_datagrams`) drops the datagram that
//   needed more (reason `host_limit`); a full pool or a full datagram table evicts the oldest other
//   datagrams first (as Linux does: the newest datagram is the likeliest to complete; `evicted`), and
//   drops the fragment's own datagram only when nothing else can be evicted (`no_memory`).
// * invalid fragments (`dropped_invalid`): a non-last fragment whose length is not a positive multiple
//   of 8, a fragment cut by the capture's snap length, an IPv6 first fragment that does not hold the
//   whole extension-header chain (RFC 8200 §4.5, RFC 7112), and fragments that disagree on where the
//   datagram ends (`inconsistent_length`, which drops the datagram).
// * a datagram not completed within `timeout_v4` (30 s) / `timeout_v6` (60 s) of its first-arriving
//   fragment is abandoned (`timed_out`): by `expire(now)`, and a little at every `offer`.
//
// The rebuilt packet: the offset-0 fragment's headers (IPv4 header with its options; IPv6 header and
// the extension headers before the fragment header), followed by the data in order. IPv4: total length
// set, MF and fragment offset cleared (DF and the reserved bit kept), header checksum recomputed. IPv6:
// the fragment header removed, the payload length set, and the Next Header field of the last header
// before it set from the first fragment's fragment header. `datagram` stays valid until the next call.
//
// Memory, all allocated at construction: the pool (`memory_bytes`, in 256-byte blocks - a fragment is
// charged whole blocks, so a flood of tiny fragments is charged what it really holds), one 64 KiB output
// buffer, and per-datagram records and fragment descriptors sized by `max_datagrams` x `max_fragments`.
// Per-packet path: no allocation, no exception, no virtual call; work per `offer` is bounded by the
// fragment's size, `max_fragments` and the number of evictions its blocks need.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string_view>

#include <strata/address.hpp>
#include <strata/flow/detail/open_table.hpp>
#include <strata/io/frame.hpp>
#include <strata/packet/parsed.hpp>

namespace strata::flow {

/// Bounds of a reassembler; the defaults hold on a small machine (about 5 MB in all).
struct reassembly_limits {
  std::size_t max_datagram_size =
      65535;                         ///< reassembled IPv4 total length / IPv6 payload length (at most 65535)
  std::size_t max_fragments = 64;    ///< fragments per datagram (at most 65535)
  std::size_t max_datagrams = 1024;  ///< datagrams in reassembly at once
  std::size_t memory_bytes = std::size_t{4} << 20;  ///< pool for fragment data and headers
  std::size_t per_host_bytes = 0;      ///< pool bytes one source address may hold (0: memory_bytes / 4)
  std::size_t per_host_datagrams = 0;  ///< datagrams one source address may have open (0: max_datagrams / 4)
  std::chrono::nanoseconds timeout_v4 = std::chrono::seconds(30);  ///< from the first-arriving fragment
  std::chrono::nanoseconds timeout_v6 = std::chrono::seconds(60);  ///< RFC 8200 §4.5
};

/// What `offer` did with a packet.
enum class reassembly_status : std::uint8_t {
  not_a_fragment,  ///< not a fragment (or not an IP packet that parsed): classify it as it is
  stored,          ///< held; the datagram is not complete yet
  duplicate,       ///< an exact copy of a fragment already held: ignored
  completed,       ///< this fragment completed the datagram: `datagram` is the rebuilt IP packet
  dropped,         ///< rejected: `reason` says why (the datagram may have been dropped with it)
};

/// Why a fragment (or its datagram) was dropped.
enum class drop_reason : std::uint8_t {
  none,
  overlap,              ///< it overlaps a fragment of its datagram: the datagram is dropped
  too_large,            ///< the datagram would exceed max_datagram_size: dropped
  too_many_fragments,   ///< more than max_fragments: the datagram is dropped
  no_memory,            ///< the pool or the datagram table is full and nothing else can be evicted
  host_limit,           ///< its source address is over its share: the datagram is dropped
  bad_length,           ///< a non-last fragment whose length is not a positive multiple of 8 (fragment only)
  truncated,            ///< the capture cut the fragment short (fragment only)
  incomplete_header,    ///< an IPv6 first fragment without the whole header chain (fragment only)
  inconsistent_length,  ///< fragments disagree on the datagram's end: the datagram is dropped
};

constexpr std::string_view name(drop_reason r) noexcept {
  switch (r) {
    case drop_reason::none:
      return "none";
    case drop_reason::overlap:
      return "overlap";
    case drop_reason::too_large:
      return "too_large";
    case drop_reason::too_many_fragments:
      return "too_many_fragments";
    case drop_reason::no_memory:
      return "no_memory";
    case drop_reason::host_limit:
      return "host_limit";
    case drop_reason::bad_length:
      return "bad_length";
    case drop_reason::truncated:
      return "truncated";
    case drop_reason::incomplete_header:
      return "incomplete_header";
    case drop_reason::inconsistent_length:
      return "inconsistent_length";
  }
  return "unknown";
}

/// The outcome of `reassembler::offer`.
struct reassembly_result {
  reassembly_status status = reassembly_status::not_a_fragment;
  drop_reason reason = drop_reason::none;  ///< when dropped
  std::span<const std::byte>
      datagram{};  ///< when completed: the rebuilt IP packet, valid until the next call

  constexpr std::string_view reason_text() const noexcept { return name(reason); }
};

/// What a reassembler counted.
struct reassembly_stats {
  std::uint64_t fragments = 0;          ///< fragments offered
  std::uint64_t completed = 0;          ///< datagrams rebuilt
  std::uint64_t timed_out = 0;          ///< datagrams abandoned after the timeout
  std::uint64_t duplicates = 0;         ///< exact duplicate fragments ignored
  std::uint64_t dropped_overlap = 0;    ///< datagrams dropped for overlapping fragments
  std::uint64_t dropped_too_large = 0;  ///< datagrams (or fragments) dropped for exceeding max_datagram_size
  std::uint64_t dropped_limits =
      0;  ///< datagrams dropped by a limit (fragments, host share, memory, eviction)
  std::uint64_t dropped_invalid =
      0;  ///< invalid fragments (bad length, truncated, incomplete header, inconsistent end)
  std::uint64_t evicted = 0;           ///< of dropped_limits: older datagrams evicted to make room
  std::uint64_t forgotten = 0;         ///< datagrams dropped by forget()
  std::uint64_t bytes_in_use = 0;      ///< pool bytes held now (whole blocks)
  std::uint64_t peak_bytes = 0;        ///< most pool bytes ever held
  std::uint64_t datagrams_in_use = 0;  ///< datagrams in reassembly now
  std::uint64_t peak_datagrams = 0;    ///< most datagrams ever held at once
  std::uint64_t memory_bytes = 0;      ///< the pool's size
};

class reassembler {
 public:
  /// Pool granularity: fragments and headers are stored (and charged) in blocks of this size.
  static constexpr std::size_t block_size = 256;
  /// The largest packet `offer` can rebuild: an IPv6 header and a 65535-byte payload.
  static constexpr std::size_t max_output = 40 + 65535;

  explicit reassembler(const reassembly_limits& limits = {}) : limits_(limits) {
    if (limits_.max_datagram_size > 65535) limits_.max_datagram_size = 65535;
    if (limits_.max_fragments == 0) limits_.max_fragments = 1;
    if (limits_.max_fragments > 65535) limits_.max_fragments = 65535;
    if (limits_.max_datagrams == 0) limits_.max_datagrams = 1;
    if (limits_.max_datagrams > 0x7fffffffu) limits_.max_datagrams = 0x7fffffffu;
    nblocks_ = limits_.memory_bytes / block_size;
    if (nblocks_ == 0) nblocks_ = 1;
    if (nblocks_ > 0x7fffffffu) nblocks_ = 0x7fffffffu;
    host_blocks_ = (limits_.per_host_bytes ? limits_.per_host_bytes : limits_.memory_bytes / 4) / block_size;
    if (host_blocks_ == 0) host_blocks_ = 1;
    host_datagrams_ = limits_.per_host_datagrams ? limits_.per_host_datagrams : limits_.max_datagrams / 4;
    if (host_datagrams_ == 0) host_datagrams_ = 1;

    pool_.reset(new std::byte[nblocks_ * block_size]());
    block_next_.reset(new std::uint32_t[nblocks_]());
    for (std::size_t i = 0; i < nblocks_; ++i)
      block_next_[i] = i + 1 < nblocks_ ? static_cast<std::uint32_t>(i + 1) : npos;
    free_block_ = 0;
    free_blocks_ = nblocks_;

    const std::size_t nd = limits_.max_datagrams;
    dgs_.reset(new datagram[nd]());
    frags_.reset(new fragment[nd * limits_.max_fragments]());
    dg_free_.reset(new std::uint32_t[nd]());
    for (std::size_t i = 0; i < nd; ++i) dg_free_[i] = static_cast<std::uint32_t>(nd - 1 - i);
    dg_free_count_ = nd;
    std::size_t nb = 1;
    while (nb < 2 * nd) nb <<= 1;
    bucket_mask_ = nb - 1;
    dg_buckets_.reset(new std::uint32_t[nb]);
    src_buckets_.reset(new std::uint32_t[nb]);
    for (std::size_t i = 0; i < nb; ++i) dg_buckets_[i] = src_buckets_[i] = npos;
    srcs_.reset(new source[nd]());
    src_free_.reset(new std::uint32_t[nd]());
    for (std::size_t i = 0; i < nd; ++i) src_free_[i] = static_cast<std::uint32_t>(nd - 1 - i);
    src_free_count_ = nd;
    out_.reset(new std::byte[max_output]());
    stats_.memory_bytes = nblocks_ * block_size;
  }

  reassembler(const reassembler&) = delete;
  reassembler& operator=(const reassembler&) = delete;
  reassembler(reassembler&&) noexcept = default;
  reassembler& operator=(reassembler&&) noexcept = default;

  /// Offers one parsed packet (`frame` is the frame it was parsed from) at time `now_ns`.
  reassembly_result offer(const packet::parsed& p, std::span<const std::byte> frame,
                          std::int64_t now_ns) noexcept {
    if (!p.ok() || (p.fam != family::v4 && p.fam != family::v6) || !p.frag.is_fragment()) return {};
    ++stats_.fragments;
    expire_heads(now_ns, 4);

    const bool v6 = p.fam == family::v6;
    const std::size_t l3 = p.l3_offset;
    const std::size_t data_off = p.frag.data_offset;
    if (p.captured_truncated || p.ip_end > frame.size() || data_off > p.ip_end ||
        (v6 && p.frag.header_offset < l3 + 40))
      return invalid(drop_reason::truncated);
    const std::size_t len = p.ip_end - data_off;
    const std::size_t off = p.frag.offset;
    const bool more = p.frag.more;
    if (len == 0 || (more && len % 8 != 0)) return invalid(drop_reason::bad_length);
    if (v6 && off == 0 && p.l4 == packet::l4_kind::fragment && is_ipv6_extension(p.protocol))
      return invalid(drop_reason::incomplete_header);
    // The per-fragment headers, and what of them the length field counts besides the data.
    const std::size_t unfrag = v6 ? p.frag.header_offset - l3 : p.ip_header_length;
    const std::size_t counted = v6 ? unfrag - 40 : unfrag;
    const std::size_t end = off + len;

    const key k{p.src, p.dst, p.frag.id, v6 ? std::uint8_t{0} : p.protocol, p.fam};
    const std::uint64_t h = hash(k);
    std::uint32_t d = lookup(k, h);
    if (d != npos && now_ns >= dgs_[d].deadline) {  // stale (the FIFO sweep had not reached it)
      ++stats_.timed_out;
      discard(d);
      d = npos;
    }
    if (counted + end > limits_.max_datagram_size) {
      if (d != npos) discard(d);
      ++stats_.dropped_too_large;
      return dropped(drop_reason::too_large);
    }
    if (d == npos) {
      const drop_reason why = create(k, h, now_ns, d);
      if (why != drop_reason::none) return limit(npos, why);
    }
    datagram& g = dgs_[d];
    fragment* fs = frags_of(d);
    const std::size_t n = g.nfrags;
    std::size_t pos = 0;
    while (pos < n && fs[pos].offset < off) ++pos;
    const auto* bytes = frame.data() + data_off;
    if (pos < n && fs[pos].offset == off && fs[pos].length == len) {
      const bool held_is_last = g.have_last && end == g.end;
      if (held_is_last == !more && same_bytes(fs[pos], bytes, len)) {
        ++stats_.duplicates;
        return {reassembly_status::duplicate, drop_reason::none, {}};
      }
    }
    if ((pos > 0 && std::size_t{fs[pos - 1].offset} + fs[pos - 1].length > off) ||
        (pos < n && end > fs[pos].offset)) {
      discard(d);
      ++stats_.dropped_overlap;
      return dropped(drop_reason::overlap);
    }
    if ((!more && ((g.have_last && end != g.end) || (n > 0 && end_of(fs[n - 1]) > end))) ||
        (more && g.have_last && end > g.end)) {
      discard(d);
      ++stats_.dropped_invalid;
      return dropped(drop_reason::inconsistent_length);
    }
    if (n >= limits_.max_fragments) return limit(d, drop_reason::too_many_fragments);

    const std::size_t need = blocks_for(len) + (off == 0 ? blocks_for(unfrag) : 0);
    source& s = srcs_[g.source];
    if (s.blocks + need > host_blocks_) return limit(d, drop_reason::host_limit);
    if (need > nblocks_ - g.blocks)
      return limit(d, drop_reason::no_memory);  // evicting all others would not do
    while (free_blocks_ < need) {
      const std::uint32_t victim = oldest_except(d);
      if (victim == npos) return limit(d, drop_reason::no_memory);
      evict(victim);
    }

    // Store the fragment (and, for the first one, its headers).
    const std::uint32_t first = alloc_blocks(blocks_for(len));
    write_chain(first, bytes, len);
    for (std::size_t i = n; i > pos; --i) fs[i] = fs[i - 1];
    fs[pos] = {static_cast<std::uint16_t>(off), static_cast<std::uint16_t>(len), first};
    ++g.nfrags;
    g.received += static_cast<std::uint32_t>(len);
    if (!more) {
      g.have_last = true;
      g.end = static_cast<std::uint32_t>(end);
    }
    if (off == 0) {
      g.header_block = alloc_blocks(blocks_for(unfrag));
      write_chain(g.header_block, frame.data() + l3, unfrag);
      g.header_len = static_cast<std::uint32_t>(unfrag);
      if (v6) g.next_header = static_cast<std::uint8_t>(frame[p.frag.header_offset]);
    }
    g.blocks += static_cast<std::uint32_t>(need);
    s.blocks += static_cast<std::uint32_t>(need);
    note_usage();

    if (!g.have_last || g.received != g.end) return {reassembly_status::stored, drop_reason::none, {}};
    return complete(d);
  }
  reassembly_result offer(const packet::parsed& p, std::span<const std::byte> frame,
                          io::timestamp now) noexcept {
    return offer(p, frame, now.time_since_epoch().count());
  }

  /// Drops the datagram `p` (a fragment) belongs to, e.g. when a filter blocked one of its fragments.
  /// Returns whether there was one.
  bool forget(const packet::parsed& p) noexcept {
    if (!p.ok() || (p.fam != family::v4 && p.fam != family::v6) || !p.frag.is_fragment()) return false;
    const key k{p.src, p.dst, p.frag.id, p.fam == family::v6 ? std::uint8_t{0} : p.protocol, p.fam};
    const std::uint32_t d = lookup(k, hash(k));
    if (d == npos) return false;
    discard(d);
    ++stats_.forgotten;
    return true;
  }

  /// Abandons up to `budget` datagrams whose timeout has passed at `now_ns`; returns how many.
  std::size_t expire(std::int64_t now_ns, std::size_t budget = static_cast<std::size_t>(-1)) noexcept {
    return expire_heads(now_ns, budget);
  }
  std::size_t expire(io::timestamp now, std::size_t budget = static_cast<std::size_t>(-1)) noexcept {
    return expire_heads(now.time_since_epoch().count(), budget);
  }

  reassembly_stats stats() const noexcept { return stats_; }
  const reassembly_limits& limits() const noexcept { return limits_; }
  /// Datagrams in reassembly now.
  std::size_t size() const noexcept { return limits_.max_datagrams - dg_free_count_; }
  /// Bytes allocated at construction (pool, output buffer, records, descriptors, hash buckets).
  std::size_t memory_bytes() const noexcept {
    const std::size_t nd = limits_.max_datagrams;
    return nblocks_ * (block_size + sizeof(std::uint32_t)) + max_output + nd * sizeof(datagram) +
           nd * limits_.max_fragments * sizeof(fragment) + 2 * (bucket_mask_ + 1) * sizeof(std::uint32_t) +
           nd * (sizeof(source) + 2 * sizeof(std::uint32_t));
  }

 private:
  static constexpr std::uint32_t npos = 0xffffffffu;

  struct key {
    address src{};
    address dst{};
    std::uint32_t id = 0;
    std::uint8_t protocol = 0;
    family fam = family::none;
    friend constexpr bool operator==(const key&, const key&) = default;
  };

  struct fragment {
    std::uint16_t offset = 0;    // bytes into the fragmentable data
    std::uint16_t length = 0;    // data bytes
    std::uint32_t block = npos;  // first block of its chain
  };

  struct datagram {
    key k{};
    std::int64_t created = 0;
    std::int64_t deadline = 0;
    std::uint32_t end = 0;       // fragmentable length, once the last fragment is known
    std::uint32_t received = 0;  // data bytes held (fragments never overlap, so == end means complete)
    std::uint32_t blocks = 0;    // pool blocks held
    std::uint32_t header_block = npos;
    std::uint32_t header_len = 0;
    std::uint32_t hash_next = npos;
    std::uint32_t prev = npos;  // FIFO of its family, by creation
    std::uint32_t next = npos;
    std::uint32_t source = npos;
    std::uint16_t nfrags = 0;
    std::uint8_t next_header = 0;  // IPv6: the first fragment's fragment header's Next Header
    bool have_last = false;
  };

  struct source {
    address addr{};
    family fam = family::none;
    std::uint32_t blocks = 0;
    std::uint32_t datagrams = 0;
    std::uint32_t hash_next = npos;
  };

  static constexpr bool is_ipv6_extension(std::uint8_t nh) noexcept {
    return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60;
  }
  static constexpr std::size_t blocks_for(std::size_t bytes) noexcept {
    return (bytes + block_size - 1) / block_size;
  }
  static constexpr std::size_t end_of(const fragment& f) noexcept { return std::size_t{f.offset} + f.length; }
  static constexpr std::size_t fam_index(family f) noexcept { return f == family::v6 ? 1 : 0; }

  std::uint64_t hash(const key& k) const noexcept {
    const std::uint64_t meta =
        (std::uint64_t{k.id} << 16) | (std::uint64_t{k.protocol} << 8) | static_cast<std::uint8_t>(k.fam);
    return detail::mum(k.src.hi ^ 0xa0761d6478bd642full, k.src.lo ^ 0xe7037ed1a0b428dbull) ^
           detail::mum(k.dst.hi ^ 0x8ebc6af09c88c6e3ull, k.dst.lo ^ meta ^ 0x589965cc75374cc3ull);
  }
  std::uint64_t source_hash(const address& a, family f) const noexcept {
    return detail::mum(a.hi ^ 0x1d8e4e27c47d124full,
                       a.lo ^ static_cast<std::uint8_t>(f) ^ 0xa0761d6478bd642full);
  }

  fragment* frags_of(std::uint32_t d) const noexcept {
    return frags_.get() + std::size_t{d} * limits_.max_fragments;
  }

  std::uint32_t lookup(const key& k, std::uint64_t h) const noexcept {
    for (std::uint32_t d = dg_buckets_[h & bucket_mask_]; d != npos; d = dgs_[d].hash_next)
      if (dgs_[d].k == k) return d;
    return npos;
  }

  std::uint32_t find_source(const address& a, family f) const noexcept {
    for (std::uint32_t s = src_buckets_[source_hash(a, f) & bucket_mask_]; s != npos; s = srcs_[s].hash_next)
      if (srcs_[s].addr == a && srcs_[s].fam == f) return s;
    return npos;
  }

  // A new datagram for `k`: a free record (evicting the oldest if none), attached to its source.
  drop_reason create(const key& k, std::uint64_t h, std::int64_t now, std::uint32_t& out) noexcept {
    const std::uint32_t s0 = find_source(k.src, k.fam);
    if (s0 != npos && srcs_[s0].datagrams >= host_datagrams_) return drop_reason::host_limit;
    if (dg_free_count_ == 0) {
      expire_heads(now, 1);
      if (dg_free_count_ == 0) {
        const std::uint32_t victim = oldest_except(npos);
        if (victim == npos) return drop_reason::no_memory;
        evict(victim);
      }
    }
    std::uint32_t s = find_source(k.src, k.fam);  // the eviction may have released it
    if (s == npos) {
      s = src_free_[--src_free_count_];  // never empty: every source in use holds a datagram
      srcs_[s] = source{k.src, k.fam, 0, 0, npos};
      std::uint32_t& head = src_buckets_[source_hash(k.src, k.fam) & bucket_mask_];
      srcs_[s].hash_next = head;
      head = s;
    }
    ++srcs_[s].datagrams;
    const std::uint32_t d = dg_free_[--dg_free_count_];
    datagram& g = dgs_[d];
    g = datagram{};
    g.k = k;
    g.created = now;
    const std::int64_t timeout = (k.fam == family::v6 ? limits_.timeout_v6 : limits_.timeout_v4).count();
    if (__builtin_add_overflow(now, timeout, &g.deadline))  // a capture's clock at the end of the range
      g.deadline =
          timeout > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
    g.source = s;
    std::uint32_t& head = dg_buckets_[h & bucket_mask_];
    g.hash_next = head;
    head = d;
    // Append to its family's FIFO.
    const std::size_t f = fam_index(k.fam);
    g.prev = tail_[f];
    if (tail_[f] != npos)
      dgs_[tail_[f]].next = d;
    else
      head_[f] = d;
    tail_[f] = d;
    const std::uint64_t in_use = limits_.max_datagrams - dg_free_count_;
    stats_.datagrams_in_use = in_use;
    if (in_use > stats_.peak_datagrams) stats_.peak_datagrams = in_use;
    out = d;
    return drop_reason::none;
  }

  // Frees a datagram's blocks and record.
  void discard(std::uint32_t d) noexcept {
    datagram& g = dgs_[d];
    fragment* fs = frags_of(d);
    for (std::size_t i = 0; i < g.nfrags; ++i) free_chain(fs[i].block);
    if (g.header_block != npos) free_chain(g.header_block);
    // Unlink from its hash chain.
    std::uint32_t* link = &dg_buckets_[hash(g.k) & bucket_mask_];
    while (*link != d) link = &dgs_[*link].hash_next;
    *link = g.hash_next;
    // Unlink from its FIFO.
    const std::size_t f = fam_index(g.k.fam);
    if (g.prev != npos)
      dgs_[g.prev].next = g.next;
    else
      head_[f] = g.next;
    if (g.next != npos)
      dgs_[g.next].prev = g.prev;
    else
      tail_[f] = g.prev;
    // Release its share of its source.
    source& s = srcs_[g.source];
    s.blocks -= g.blocks;
    if (--s.datagrams == 0) {
      std::uint32_t* sl = &src_buckets_[source_hash(s.addr, s.fam) & bucket_mask_];
      while (*sl != g.source) sl = &srcs_[*sl].hash_next;
      *sl = s.hash_next;
      src_free_[src_free_count_++] = g.source;
    }
    g = datagram{};
    dg_free_[dg_free_count_++] = d;
    stats_.datagrams_in_use = limits_.max_datagrams - dg_free_count_;
    stats_.bytes_in_use = (nblocks_ - free_blocks_) * block_size;
  }

  void evict(std::uint32_t d) noexcept {
    discard(d);
    ++stats_.evicted;
    ++stats_.dropped_limits;
  }

  // The oldest datagram (earliest created, over both families) other than `except`.
  std::uint32_t oldest_except(std::uint32_t except) const noexcept {
    std::uint32_t best = npos;
    for (std::size_t f = 0; f < 2; ++f) {
      std::uint32_t d = head_[f];
      if (d == except && d != npos) d = dgs_[d].next;
      if (d != npos && (best == npos || dgs_[d].created < dgs_[best].created)) best = d;
    }
    return best;
  }

  std::size_t expire_heads(std::int64_t now, std::size_t budget) noexcept {
    std::size_t n = 0;
    for (std::size_t f = 0; f < 2; ++f) {
      while (n < budget && head_[f] != npos && now >= dgs_[head_[f]].deadline) {
        discard(head_[f]);
        ++stats_.timed_out;
        ++n;
      }
    }
    return n;
  }

  std::uint32_t alloc_blocks(std::size_t count) noexcept {  // caller checked free_blocks_ >= count
    if (count == 0) return npos;
    const std::uint32_t first = free_block_;
    std::uint32_t last = first;
    for (std::size_t i = 1; i < count; ++i) last = block_next_[last];
    free_block_ = block_next_[last];
    block_next_[last] = npos;
    free_blocks_ -= count;
    return first;
  }

  void free_chain(std::uint32_t b) noexcept {
    while (b != npos) {
      const std::uint32_t next = block_next_[b];
      block_next_[b] = free_block_;
      free_block_ = b;
      ++free_blocks_;
      b = next;
    }
  }

  void write_chain(std::uint32_t b, const std::byte* src, std::size_t len) noexcept {
    while (len > 0) {
      const std::size_t n = len < block_size ? len : block_size;
      std::memcpy(pool_.get() + std::size_t{b} * block_size, src, n);
      src += n;
      len -= n;
      b = block_next_[b];
    }
  }

  void read_chain(std::uint32_t b, std::byte* dst, std::size_t len) const noexcept {
    while (len > 0) {
      const std::size_t n = len < block_size ? len : block_size;
      std::memcpy(dst, pool_.get() + std::size_t{b} * block_size, n);
      dst += n;
      len -= n;
      b = block_next_[b];
    }
  }

  bool same_bytes(const fragment& f, const std::byte* src, std::size_t len) const noexcept {
    std::uint32_t b = f.block;
    while (len > 0) {
      const std::size_t n = len < block_size ? len : block_size;
      if (std::memcmp(pool_.get() + std::size_t{b} * block_size, src, n) != 0) return false;
      src += n;
      len -= n;
      b = block_next_[b];
    }
    return true;
  }

  void note_usage() noexcept {
    stats_.bytes_in_use = (nblocks_ - free_blocks_) * block_size;
    if (stats_.bytes_in_use > stats_.peak_bytes) stats_.peak_bytes = stats_.bytes_in_use;
  }

  reassembly_result complete(std::uint32_t d) noexcept {
    datagram& g = dgs_[d];
    const bool v6 = g.k.fam == family::v6;
    const std::size_t hl = g.header_len;
    const std::size_t total = hl + g.end;
    if ((v6 ? total - 40 : total) > limits_.max_datagram_size || total > max_output) {
      discard(d);
      ++stats_.dropped_too_large;
      return dropped(drop_reason::too_large);
    }
    auto* out = reinterpret_cast<std::uint8_t*>(out_.get());
    read_chain(g.header_block, out_.get(), hl);
    const fragment* fs = frags_of(d);
    for (std::size_t i = 0; i < g.nfrags; ++i)
      read_chain(fs[i].block, out_.get() + hl + fs[i].offset, fs[i].length);
    if (!v6) {
      store_be16(out + 2, static_cast<std::uint16_t>(total));
      out[6] &= 0xc0;  // keep the reserved bit and DF; clear MF and the offset
      out[7] = 0;
      out[10] = out[11] = 0;
      store_be16(out + 10, ipv4_checksum(out, hl));
    } else {
      store_be16(out + 4, static_cast<std::uint16_t>(total - 40));
      // The Next Header field that named the fragment header: the last one in the unfragmentable part.
      std::size_t nh_at = 6;
      std::uint8_t nh = out[6];
      for (std::size_t at = 40; at + 2 <= hl;) {
        nh_at = at;
        const std::size_t len =
            nh == 51 ? (std::size_t{out[at + 1]} + 2) * 4 : (std::size_t{out[at + 1]} + 1) * 8;
        nh = out[at];
        at += len;
      }
      out[nh_at] = g.next_header;
    }
    discard(d);
    ++stats_.completed;
    return {reassembly_status::completed, drop_reason::none, std::span<const std::byte>(out_.get(), total)};
  }

  static void store_be16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
  }
  /// RFC 1071 over an IPv4 header whose checksum field is zero.
  static std::uint16_t ipv4_checksum(const std::uint8_t* h, std::size_t len) noexcept {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < len; i += 2) sum += (std::uint32_t{h[i]} << 8) | h[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
  }

  reassembly_result invalid(drop_reason why) noexcept {
    ++stats_.dropped_invalid;
    return dropped(why);
  }
  static reassembly_result dropped(drop_reason why) noexcept { return {reassembly_status::dropped, why, {}}; }
  // A limit was hit: drops datagram `d` (if any).
  reassembly_result limit(std::uint32_t d, drop_reason why) noexcept {
    if (d != npos) discard(d);
    ++stats_.dropped_limits;
    return dropped(why);
  }

  reassembly_limits limits_;
  std::size_t nblocks_ = 0;
  std::size_t host_blocks_ = 0;
  std::size_t host_datagrams_ = 0;
  std::unique_ptr<std::byte[]> pool_;
  std::unique_ptr<std::uint32_t[]> block_next_;
  std::uint32_t free_block_ = npos;
  std::size_t free_blocks_ = 0;
  std::unique_ptr<datagram[]> dgs_;
  std::unique_ptr<fragment[]> frags_;
  std::unique_ptr<std::uint32_t[]> dg_free_;
  std::size_t dg_free_count_ = 0;
  std::size_t bucket_mask_ = 0;
  std::unique_ptr<std::uint32_t[]> dg_buckets_;
  std::unique_ptr<std::uint32_t[]> src_buckets_;
  std::unique_ptr<source[]> srcs_;
  std::unique_ptr<std::uint32_t[]> src_free_;
  std::size_t src_free_count_ = 0;
  std::uint32_t head_[2] = {npos, npos};
  std::uint32_t tail_[2] = {npos, npos};
  std::unique_ptr<std::byte[]> out_;
  reassembly_stats stats_{};
};

}  // namespace strata::flow
