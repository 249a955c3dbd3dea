// The engine: frame → parse → direction → reassembly → flow → path → compiled pipeline → record
// (traversal.md). It holds one or more compiled policies and switches between them at run time;
// a switch marks every existing flow for reauthorization (§8).
//
//   strata::engine<server_policy, stealth_policy> e{host};
//   for (const auto& record : frames | strata::views::classify(e)) ...
//
// Per frame: no heap allocation (tables are sized at construction), no virtual call, no exception.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include <strata/flow/answers.hpp>
#include <strata/flow/endpoint_table.hpp>
#include <strata/flow/flow_table.hpp>
#include <strata/flow/reassembly.hpp>
#include <strata/host.hpp>
#include <strata/io/frame.hpp>
#include <strata/packet/parse.hpp>
#include <strata/pipeline.hpp>
#include <strata/record.hpp>
#include <strata/sets.hpp>

namespace strata {

/// Sizes and timeouts of the engine's tables (defaults hold on a small machine).
struct engine_config {
  std::size_t flow_capacity = 1u << 16;
  std::size_t endpoint_capacity = 1u << 14;
  flow::reassembly_limits reassembly{};
  std::chrono::nanoseconds datagram_idle_timeout = std::chrono::seconds(60);
  packet::link_type link = packet::link_type::ethernet;
};

/// What an engine counted (the CLI's --summary).
struct engine_counters {
  std::uint64_t frames = 0;
  std::uint64_t malformed = 0;
  std::uint64_t not_ip = 0;
  std::uint64_t permitted = 0;
  std::uint64_t blocked = 0;
  std::uint64_t suppressed = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t reauthorized = 0;
  std::uint64_t torn_down = 0;
  std::array<std::uint64_t, layer_count> layer_visits{};
};

namespace detail {

constexpr bool is_icmp_protocol(std::uint8_t p) { return p == proto::icmp || p == proto::icmpv6; }
constexpr bool is_echo(const packet::parsed& p) {
  if (p.l4 == packet::l4_kind::icmp) return p.icmp.type == 8 || p.icmp.type == 0;
  if (p.l4 == packet::l4_kind::icmpv6) return p.icmp.type == 128 || p.icmp.type == 129;
  return false;
}

/// A stack answer (RST or ICMP error) the engine expects because a discard-layer filter suppressed
/// it: keyed like the answer's quoted exchange.
struct pending_suppression {
  std::uint64_t hash = 0;
  std::int16_t filter = -1;
  std::uint8_t policy = 0;
  std::int16_t sublayer = -1;
};

/// The verdict of an outbound datagram, shared by its later fragments (§5).
struct fragment_verdict {
  std::uint64_t hash = 0;
  action verdict = action::permit;
  std::int16_t filter = -1;
  std::uint8_t policy = 0;
};

template <std::size_t N, class T>
struct small_ring {  // fixed capacity, newest overwrites oldest
  std::array<T, N> items{};
  std::size_t next = 0;
  void push(const T& t) { items[next++ % N] = t; }
  T* find(std::uint64_t hash) {
    for (auto& i : items)
      if (i.hash == hash && hash != 0) return &i;
    return nullptr;
  }
};

}  // namespace detail

/// The engine. `Tracing` records every step of every frame (the records' `steps`); without it
/// only verdicts and deciding filters are kept, which is what the per-packet benchmarks measure.
template <bool Tracing, auto const&... Policies>
class basic_engine {
  static_assert(sizeof...(Policies) >= 1, "strata::engine needs at least one policy");
  static_assert((is_policy_v<std::remove_cvref_t<decltype(Policies)>> && ...),
                "strata::engine<P...>: every P must be a constexpr strata::policy(...)");

 public:
  static constexpr std::size_t policy_count = sizeof...(Policies);

  static constexpr bool tracing = Tracing;

  explicit basic_engine(const host& h, engine_config config = {})
      : host_(h),
        config_(config),
        flows_(config.flow_capacity),
        endpoints_(config.endpoint_capacity),
        reassembly_(config.reassembly) {
    std::size_t i = 0;
    ((filter_hits_[i++].assign(Policies.filters.size(), 0)), ...);
  }

  /// The listener oracle for offline captures (built by a pre-pass, see flow/answers.hpp).
  void use_answers(flow::answer_index* answers) { answers_ = answers; }

  /// A live listener oracle (§3, e.g. the socket table, strata/live/host_monitor.hpp): asked for a new
  /// inbound flow's key and the packet's capture time (ns since the epoch); answers 1 (someone listens),
  /// 0 (nobody) or -1 (no answer: the answer index, then the default, decide). A plain function
  /// pointer and its context: no virtual call, no allocation. Hints (`host::hint`) still win.
  using listener_hook = int (*)(void* context, const flow::flow_key& key, std::int64_t time_ns);
  void use_listener_hook(listener_hook hook, void* context) {
    listener_hook_ = hook;
    listener_context_ = context;
  }
  /// Replaces the observed host (live: its addresses changed). Flows are kept.
  void set_host(const host& h) { host_ = h; }
  const host& observed_host() const { return host_; }

  /// A socket event (live), not a packet: a new listening TCP socket's passive open
  /// (`path_kind::tcp_passive_open`: ALE_BIND_REDIRECT, ALE_RESOURCE_ASSIGNMENT, ALE_AUTH_LISTEN;
  /// traversal.md §4) run through the policy in force. The record's `frame` is 0 and its flow names
  /// the socket (source = the local address and port, no destination). Counted in no frame counter.
  record socket_event(path_kind kind, family fam, std::uint8_t protocol, address local,
                      std::uint16_t local_port) {
    record rec;
    rec.policy = static_cast<std::uint8_t>(active_);
    rec.flow.fam = fam;
    rec.flow.protocol = protocol;
    rec.flow.src = local;
    rec.flow.src_port = local_port;
    rec.flow.has_ports = true;
    sets_.pick_up(flows_, active_);
    incoming_values v;
    v.local_address = local;
    v.local_port = local_port;
    v.ip_protocol = protocol;
    with_sets(v);
    run({kind, fam, false}, v, rec);
    if (rec.filter >= 0) rec.filter_name = filter_name(rec.policy, rec.filter);
    return rec;
  }
  void set_link_type(packet::link_type lt) { config_.link = lt; }

  /// Switches the policy in force; every existing flow is marked for reauthorization (§8).
  void select(std::size_t policy_index) {
    if (policy_index >= policy_count || policy_index == active_) return;
    active_ = policy_index;
    ++epoch_;
  }
  /// Switches the policy in force, marking for reauthorization only the flows `affected(flow)` names
  /// (`const flow::flow_entry&` -> bool); the others keep their authorization. A narrower §8 for a caller
  /// that knows what the change can affect: `select(i, affected_flows(diff(from, to)))`
  /// (strata/analysis.hpp). Returns the number of flows marked.
  template <class Affected>
  std::size_t select(std::size_t policy_index, Affected&& affected) {
    if (policy_index >= policy_count || policy_index == active_) return 0;
    active_ = policy_index;
    std::size_t marked = 0;
    flows_.for_each([&](flow::flow_entry& e) {
      if (e.policy_epoch != epoch_ || !affected(static_cast<const flow::flow_entry&>(e))) return;
      e.policy_epoch = 0;  // epochs start at 1: reauthorized on its next packet
      ++marked;
    });
    return marked;
  }
  std::size_t selected() const { return active_; }

  /// The run-time sets the policies name, with their kinds (strata/sets.hpp). A set never loaded is empty.
  using sets_type = detail::engine_sets<Policies...>;
  static constexpr std::span<const set_info> sets() { return sets_type::list(); }
  /// `set<"blocklist">().replace({...})`: the set's handle, typed by its kind (any thread may replace;
  /// this engine picks the new contents up before its next frame and reauthorizes the flows they affect).
  template <detail::fixed_string Name>
  auto set() {
    constexpr int i = sets_type::find(Name.view());
    static_assert(i >= 0, "strata::engine::set<Name>(): no policy of this engine names a run-time set Name");
    return sets_.template handle<sets_type::list()[static_cast<std::size_t>(i < 0 ? 0 : i)].kind>(
        static_cast<std::size_t>(i));
  }
  /// The same by run-time name (the CLI's --set): false when no policy names it or `d` holds the other kind.
  bool replace_set(std::string_view name, std::shared_ptr<const set_data> d) {
    return sets_.publish(name, std::move(d));
  }

  /// Classifies frames in a row, in order, calling `sink(const record&)` with each one's record (the same
  /// records as classify(frame) one at a time). Frames spread over a large buffer each cost a cache miss
  /// on their headers; here they overlap: the headers of frame i + header_lookahead are requested while
  /// frame i is classified. (Parsing frame i + 3 as well, to request its flow's bucket early, measured no
  /// better on the benchmark's mix: the bucket is already requested as soon as the direction is known.)
  template <class Sink>
  void classify(std::span<const io::frame> frames, Sink&& sink) {
    const std::size_t n = frames.size();
    for (std::size_t i = 0; i < n && i < header_lookahead; ++i) prefetch_headers(frames[i]);
    for (std::size_t i = 0; i < n; ++i) {
      if (i + header_lookahead < n) prefetch_headers(frames[i + header_lookahead]);
      sink(static_cast<const record&>(classify(frames[i])));
    }
  }
  static constexpr std::size_t header_lookahead = 8;

  /// Classifies one frame.
  record classify(const io::frame& f) {
    record rec;
    rec.frame = f.index;
    rec.policy = static_cast<std::uint8_t>(active_);
    ++counters_.frames;
    now_ = f.time.time_since_epoch().count();
    sets_.pick_up(flows_, active_);  // newly replaced run-time sets, if any (one load)
    packet::parsed p = packet::parse(f.data, config_.link, f.wire_length);
    if (p.link.ifindex == 0) p.link.ifindex = f.ifindex;  // live sources know the interface
    if (p.is_malformed()) {
      rec.error = p.malformed.reason;
      rec.error_stage = p.malformed.stage;
      ++counters_.malformed;
      return rec;
    }
    if (p.ok()) rec.dir = host_.direction(p.src, p.dst, p.fam);
    // The flow's lookup comes later and mostly waits for its bucket: ask for it now. The key and its hash
    // are kept for that lookup (the hash was computed twice per frame).
    hashed_key fk;
    const hashed_key* pre = nullptr;
    if ((rec.dir == traffic_direction::inbound || rec.dir == traffic_direction::outbound) &&
        !p.frag.is_fragment()) {
      hashed_key_of(p, rec.dir == traffic_direction::inbound, fk);
      flows_.prefetch(fk);
      pre = &fk;
    }
    if (has_mac_filters[active_] && !mac_layers(p, rec)) {  // §9: MAC layers first; a block there ends it
      finish(rec);
      return rec;
    }
    if (p.is_not_ip()) {
      ++counters_.not_ip;
      finish(rec);
      return rec;
    }
    label(rec.flow, p);
    switch (rec.dir) {
      case traffic_direction::forwarded:
        classify_forwarded(p, f, rec);
        break;
      case traffic_direction::inbound:
        classify_inbound(p, f, rec, 0, pre);
        break;
      case traffic_direction::outbound:
        classify_outbound(p, rec, 0, pre);
        break;
      case traffic_direction::loopback:
        classify_outbound(p, rec, flag::is_loopback, nullptr);
        if (rec.verdict == action::permit) classify_inbound(p, f, rec, flag::is_loopback, nullptr);
        break;
      case traffic_direction::none:
        break;
    }
    finish(rec);
    // Idle non-TCP flows leave within a second of capture time (a lookup ignores them already).
    flows_.expire_paced(now_);
    reassembly_.expire(now_, 4);  // bounded: datagrams never completed time out and are counted
    return rec;
  }

  const engine_counters& counters() const { return counters_; }
  const flow::flow_table& flows() const { return flows_; }
  const flow::reassembler& reassembly() const { return reassembly_; }
  /// Per-filter decision counts of policy `i` (index = filter index in that policy).
  std::span<const std::uint64_t> filter_hits(std::size_t i) const { return filter_hits_[i]; }

  /// A filter's name in policy `policy_index` (empty for -1, or for an index that policy does not have).
  static constexpr std::string_view filter_name(std::size_t policy_index, std::int16_t filter) {
    if (filter < 0) return {};
    const auto f = static_cast<std::size_t>(filter);
    std::string_view n;
    std::size_t i = 0;
    ((i++ == policy_index && f < Policies.filters.size() ? (n = Policies.filters[f].name, 0) : 0), ...);
    return n;
  }
  /// Calls `f(policy)` with the policy at `policy_index` (for printers that need the policy itself).
  template <class F>
  static void with_policy(std::size_t policy_index, F&& f) {
    std::size_t i = 0;
    ((i++ == policy_index ? (void)f(Policies) : (void)0), ...);
  }
  static constexpr std::string_view sublayer_name(std::size_t policy_index, std::int16_t sublayer) {
    if (sublayer < 0) return {};
    const auto l = static_cast<std::size_t>(sublayer);
    std::string_view n;
    std::size_t i = 0;
    ((i++ == policy_index && l < Policies.sublayers.size() ? (n = Policies.sublayers[l].name, 0) : 0), ...);
    return n;
  }

 private:
  using trace_type = std::conditional_t<Tracing, trace, no_trace>;
  using hashed_key = flow::flow_table::hashed_key;
  // Each policy's table of pipelines, indexed by detail::fast_index(key) here (no key passed through a call).
  using pipeline_table =
      std::array<void (*)(const incoming_values&, trace_type&, path_result&), all_path_keys.size()>;
  static constexpr std::array<const pipeline_table*, policy_count> runners{
      &compiled<Policies>::template pipelines<trace_type>()...};

  // reauthorizes(kind) walks the path's steps: a table answers in one load, on every frame.
  static constexpr auto reauthorizing = [] {
    std::array<bool, path_kind_count> a{};
    for (std::size_t k = 0; k < path_kind_count; ++k) a[k] = reauthorizes(static_cast<path_kind>(k));
    return a;
  }();

  static constexpr std::array<bool, policy_count> has_mac_filters{
      (compiled<Policies>::template has_filters<layer_id::inbound_mac_frame_native> ||
       compiled<Policies>::template has_filters<layer_id::inbound_mac_frame_ethernet> ||
       compiled<Policies>::template has_filters<layer_id::outbound_mac_frame_ethernet> ||
       compiled<Policies>::template has_filters<layer_id::outbound_mac_frame_native>)...};

  static std::uint64_t mac_value(const std::array<std::uint8_t, 6>& m) {
    std::uint64_t v = 0;
    for (std::uint8_t b : m) v = (v << 8) | b;
    return v;
  }

  /// The MAC-frame layers (§9): every frame visits them first when the policy has filters there.
  /// Returns false when they blocked the frame.
  bool mac_layers(const packet::parsed& p, record& rec) {
    const bool outbound = rec.dir == traffic_direction::outbound || rec.dir == traffic_direction::loopback ||
                          (rec.dir == traffic_direction::none && p.link.is_outgoing());
    incoming_values v;
    v.ether_type = p.link.ethertype;
    v.vlan_id = p.link.vlan_ids[0];
    v.interface_index = p.link.ifindex;
    v.mac_local_address = mac_value(outbound ? p.link.src_mac : p.link.dst_mac);
    v.mac_remote_address = mac_value(outbound ? p.link.dst_mac : p.link.src_mac);
    v.direction = static_cast<std::uint32_t>(outbound ? fwp_direction::outbound : fwp_direction::inbound);
    with_sets(v);
    return run({outbound ? path_kind::mac_outbound : path_kind::mac_inbound, family::v4, false}, v, rec)
               .verdict == action::permit;
  }

  // ---- the batch form's prefetches --------------------------------------------------------

  /// The link, IP and transport headers: the frame's first two cache lines.
  static void prefetch_headers(const io::frame& f) noexcept {
    const auto* b = reinterpret_cast<const char*>(f.data.data());
    __builtin_prefetch(b);
    __builtin_prefetch(b + 63);
  }

  // ---- the parts of a record ---------------------------------------------------------------

  /// Written field by field into the record: a `flow_label` built aside and copied in was read back as
  /// 16-byte words over narrower stores (a store-forwarding stall on every frame).
  static void label(flow_label& l, const packet::parsed& p) {
    l.fam = p.fam;
    l.protocol = p.protocol;
    l.src = p.src;
    l.dst = p.dst;
    l.src_port = 0;
    l.dst_port = 0;
    l.has_ports = p.l4 == packet::l4_kind::tcp || p.l4 == packet::l4_kind::udp;
    l.is_icmp = p.l4 == packet::l4_kind::icmp || p.l4 == packet::l4_kind::icmpv6;
    if (l.has_ports) {
      l.src_port = p.src_port;
      l.dst_port = p.dst_port;
    } else if (l.is_icmp) {
      l.src_port = p.icmp.type;
      l.dst_port = p.icmp.code;
    }
  }

  void finish(record& rec) {
    // A suppressed answer or a later fragment named its filter already: it may be one of the policy in
    // force before a switch (`rec.policy` is the policy in force now, whose steps the record holds).
    if (rec.filter >= 0 && rec.filter_name.empty()) rec.filter_name = filter_name(rec.policy, rec.filter);
    for (const step_record& s : rec.steps) {
      ++counters_.layer_visits[static_cast<std::size_t>(s.layer)];
      if (s.filter >= 0) ++filter_hits_[rec.policy][static_cast<std::size_t>(s.filter)];
    }
    if (rec.dup) ++counters_.duplicates;
    if (rec.suppressed) ++counters_.suppressed;
    if (rec.malformed()) {  // the datagram this frame completed does not parse: malformed, like a frame that
                            // does not
      ++counters_.malformed;
      return;
    }
    if (rec.verdict == action::block)
      ++counters_.blocked;
    else
      ++counters_.permitted;
  }

  /// The policy's run-time sets travel with the values (set where the values are built: a copy of the
  /// values to add them was read back over narrower stores, a store-forwarding stall per packet).
  void with_sets(incoming_values& v) const {
    if constexpr (sets_type::count > 0) v.sets = sets_.view(active_);
  }

  /// Runs one path with the policy in force and merges its outcome into the record. The outcome is
  /// written in place by the pipeline (result_) and read field by field: returned in registers, it was
  /// built on the stack and read back over narrower stores (a store-forwarding stall per packet).
  /// Inlined: called, its 3-byte key was built from byte stores and read back as one word (another stall).
  [[gnu::always_inline]] const path_result& run(path_key key, const incoming_values& v, record& rec) {
    path_result& r = result_;
    if constexpr (Tracing) {
      (*runners[active_])[detail::fast_index(key)](v, rec.steps, r);  // appends: loopback runs twice
    } else {
      no_trace t;
      (*runners[active_])[detail::fast_index(key)](v, t, r);
      if (r.filter >= 0) ++filter_hits_[active_][static_cast<std::size_t>(r.filter)];
    }
    rec.verdict = r.verdict;
    rec.stack_discard = rec.stack_discard || r.stack_discard;
    if (r.filter >= 0 || r.verdict == action::block) {
      rec.filter = r.filter;
      rec.sublayer_name = sublayer_name(active_, r.sublayer);
      rec.hard = r.hard;
      rec.veto = r.veto;
    }
    return r;
  }

  // ---- values presented to the filters ---------------------------------------------------

  /// The packet's values, written into the engine's values_ (valid until the next call). Only the fields a
  /// packet gives are written, each on every call; the others keep their defaults (nothing else writes
  /// values_: a step that changes a value copies it). Zeroing a fresh 192-byte incoming_values per
  /// packet (rep stos) was most of classify_inbound_packet's time.
  const incoming_values& values_of(const packet::parsed& p, bool inbound, std::uint32_t flags) {
    incoming_values& v = values_;
    v.local_address = inbound ? p.dst : p.src;
    v.remote_address = inbound ? p.src : p.dst;
    v.ip_protocol = p.protocol;
    v.direction = static_cast<std::uint32_t>(inbound ? fwp_direction::inbound : fwp_direction::outbound);
    v.flags = flags;
    v.interface_index = p.link.ifindex;
    v.vlan_id = p.link.vlan_ids[0];
    v.ether_type = p.link.ethertype;
    with_sets(v);
    v.local_port = 0;
    v.remote_port = 0;
    v.embedded_protocol = 0;
    v.embedded_remote_address = address{};
    v.embedded_local_port = 0;
    v.embedded_remote_port = 0;
    if (p.l4 == packet::l4_kind::tcp || p.l4 == packet::l4_kind::udp) {
      v.local_port = inbound ? p.dst_port : p.src_port;
      v.remote_port = inbound ? p.src_port : p.dst_port;
    } else if (p.l4 == packet::l4_kind::icmp || p.l4 == packet::l4_kind::icmpv6) {
      v.local_port = p.icmp.type;  // WFP: ICMP type and code travel in the port slots
      v.remote_port = p.icmp.code;
      const auto& e = p.icmp.embedded;
      if (p.icmp.is_error && e.status != packet::embedded_status::none &&
          e.status != packet::embedded_status::invalid) {
        v.embedded_protocol = e.protocol;
        v.embedded_remote_address = e.dst;  // the quoted packet went from us to the remote
        v.embedded_local_port = e.src_port;
        v.embedded_remote_port = e.dst_port;
      }
    }
    return v;
  }

  /// The flow key of `p` and its hash, written in `k` (in place: a key built aside and copied in could be
  /// read back in wide words over its narrow stores, a store-forwarding stall).
  const hashed_key& hashed_key_of(const packet::parsed& p, bool inbound, hashed_key& k) const {
    key_of(p, inbound, k.key);
    k.hash = flows_.hash(k.key);
    return k;
  }

  static void key_of(const packet::parsed& p, bool inbound, flow::flow_key& k) {
    k.fam = p.fam;
    k.protocol = p.protocol;
    k.local = inbound ? p.dst : p.src;
    k.remote = inbound ? p.src : p.dst;
    k.local_port = 0;
    k.remote_port = 0;
    if (p.l4 == packet::l4_kind::tcp || p.l4 == packet::l4_kind::udp) {
      k.local_port = inbound ? p.dst_port : p.src_port;
      k.remote_port = inbound ? p.src_port : p.dst_port;
    } else if (detail::is_echo(p)) {
      k.local_port = p.icmp.id;  // request and reply of one identifier are one flow
    } else if (p.l4 == packet::l4_kind::icmp || p.l4 == packet::l4_kind::icmpv6) {
      k.local_port = p.icmp.type;
      k.remote_port = p.icmp.code;
    }
  }

  static std::uint64_t exchange_hash(const flow::flow_key& k) {
    return flow::endpoint_pair_hash(k.fam, k.protocol, k.local, k.local_port, k.remote, k.remote_port);
  }

  // ---- who listens (§3) --------------------------------------------------------------------

  bool listening(const flow::flow_key& k, std::uint64_t frame) {
    if (auto h = host_.hint(k.protocol, k.local_port)) return *h;
    if (listener_hook_) {
      const int live = listener_hook_(listener_context_, k, now_);
      if (live >= 0) return live != 0;
    }
    if (answers_ &&
        answers_->answered(k.fam, k.protocol, k.local, k.local_port, k.remote, k.remote_port, frame, now_))
      return false;
    return true;
  }

  // ---- forwarded (§6) ----------------------------------------------------------------------

  void classify_forwarded(const packet::parsed& p, const io::frame& f, record& rec) {
    if (p.link.is_outgoing() ||
        f.departing_copy) {  // the departing copy of a packet classified where it arrived
      rec.dup = true;
      return;
    }
    incoming_values v;
    v.local_address = p.dst;   // IP_DESTINATION_ADDRESS
    v.remote_address = p.src;  // IP_SOURCE_ADDRESS
    v.interface_index = p.link.ifindex;
    with_sets(v);
    run({p.frag.is_fragment() ? path_kind::forward_fragment : path_kind::forward, p.fam, false}, v, rec);
  }

  // ---- inbound -----------------------------------------------------------------------------

  // `pre`: the frame's flow key and hash when classify() computed them already (else nullptr).
  void classify_inbound(const packet::parsed& outer, const io::frame& f, record& rec, std::uint32_t flags,
                        const hashed_key* pre) {
    if (!outer.frag.is_fragment()) [[likely]]
      return classify_inbound_packet(outer, f, rec, flags, false, pre);
    classify_inbound_fragment(outer, f, rec, flags);
  }

  // Out of line: inlined, the reassembled datagram's `parsed` made every inbound frame set up a large frame.
  [[gnu::noinline]] void classify_inbound_fragment(const packet::parsed& outer, const io::frame& f,
                                                   record& rec, std::uint32_t flags) {
    const auto r = reassembly_.offer(outer, f.data, now_);
    if (r.status != flow::reassembly_status::completed) {
      run({path_kind::inbound_fragment, outer.fam, false}, values_of(outer, true, flags), rec);
      if (rec.verdict == action::block) reassembly_.forget(outer);
      return;
    }
    // Parsed here only: copying `parsed` for every inbound frame was a measurable part of the floor.
    const packet::parsed p = packet::parse(r.datagram, packet::link_type::raw, r.datagram.size());
    rec.reassembled = true;
    if (!p.ok()) {  // counted malformed by finish()
      rec.error = p.is_malformed() ? p.malformed.reason : std::string_view{"reassembled datagram is not IP"};
      rec.error_stage = p.malformed.stage;
      return;
    }
    label(rec.flow, p);  // the whole datagram's ports, now that they are known
    classify_inbound_packet(p, f, rec, flags, true, nullptr);
  }

  void classify_inbound_packet(const packet::parsed& p, const io::frame& f, record& rec, std::uint32_t flags,
                               bool reassembled, const hashed_key* pre) {
    const incoming_values& v = values_of(p, true, flags);
    if (p.is_icmp_error()) {
      run({path_kind::icmp_error_inbound, p.fam, reassembled}, v, rec);
      return;
    }
    hashed_key own;
    const hashed_key& k = pre ? *pre : hashed_key_of(p, true, own);
    if (p.l4 == packet::l4_kind::tcp)
      inbound_tcp(p, k, v, reassembled, f.index, rec);
    else
      inbound_datagram(p, k, v, reassembled, f.index, rec);
  }

  void inbound_tcp(const packet::parsed& p, const hashed_key& hk, const incoming_values& v, bool reassembled,
                   std::uint64_t frame, record& rec) {
    using flow::tcp_state;
    const flow::flow_key& k = hk.key;
    flow::flow_entry* e = flows_.find(hk);
    const bool payload = p.payload_length > 0;
    const auto key = [&](path_kind kind) { return path_key{kind, p.fam, reassembled}; };
    if (p.tcp.is_syn() && (!e || e->state == tcp_state::established || e->state == tcp_state::closing ||
                           e->state == tcp_state::closed)) {
      if (e) flows_.erase(e);
      if (!listening(k, frame)) {
        const path_result& r = run(key(path_kind::tcp_inbound_syn_no_listener), v, rec);
        if (r.answer_suppressed) suppressions_.push({exchange_hash(k), r.filter, rec.policy, r.sublayer});
        return;
      }
      if (run(key(path_kind::tcp_inbound_syn), v, rec).verdict == action::permit) {
        flow::flow_entry* n = flows_.insert(hk, now_).entry;
        if (n) {
          n->state = tcp_state::syn_received;
          n->inbound_origin = true;
          n->policy_epoch = epoch_;
        }
        endpoints_.bind({k.fam, k.protocol, k.local, k.local_port}, now_);
      }
      return;
    }
    if (!e) {  // mid-stream pickup: an established flow without ALE layers
      run(key(payload ? path_kind::tcp_inbound_data : path_kind::tcp_inbound_segment), v, rec);
      if (!p.tcp.is_rst()) adopt_midstream(hk, true);
      return;
    }
    e->last_seen = now_;
    path_kind kind = payload ? path_kind::tcp_inbound_data : path_kind::tcp_inbound_segment;
    if (e->state == tcp_state::syn_sent && p.tcp.is_syn_ack()) {
      kind = path_kind::tcp_inbound_syn_ack;
      e->syn_ack_seen = true;
    } else if (e->state == tcp_state::syn_received && !p.tcp.is_syn() && !p.tcp.is_rst() &&
               p.tcp.has(packet::tcp_flag::ack)) {
      kind = payload ? path_kind::tcp_inbound_final_ack_payload : path_kind::tcp_inbound_final_ack;
      e->state = tcp_state::established;
    } else if ((e->state == tcp_state::established || e->state == tcp_state::closing) &&
               e->policy_epoch != epoch_) {
      kind = e->inbound_origin
                 ? (payload ? path_kind::tcp_inbound_reauthorize_payload : path_kind::tcp_inbound_reauthorize)
                 : (payload ? path_kind::tcp_inbound_reauthorize_connect_payload
                            : path_kind::tcp_inbound_reauthorize_connect);
    } else if (e->state == tcp_state::syn_sent || e->state == tcp_state::syn_received) {
      kind = path_kind::tcp_inbound_segment;
    }
    if (reauthorize_if(kind, e, v, rec, key(kind))) return;
    track_close(e, p, false);
  }

  void inbound_datagram(const packet::parsed& p, const hashed_key& hk, const incoming_values& v,
                        bool reassembled, std::uint64_t frame, record& rec) {
    const flow::flow_key& k = hk.key;
    flow::flow_entry* e = live_datagram_flow(hk);
    const auto key = [&](path_kind kind) { return path_key{kind, p.fam, reassembled}; };
    if (e) {
      e->last_seen = now_;
      const path_kind kind = e->policy_epoch != epoch_
                                 ? (e->inbound_origin ? path_kind::datagram_inbound_reauthorize
                                                      : path_kind::datagram_inbound_reauthorize_connect)
                                 : path_kind::datagram_inbound;
      reauthorize_if(kind, e, v, rec, key(kind));
      return;
    }
    // Every inbound non-error ICMP message has a listener: the stack answers it.
    const bool has_listener =
        detail::is_icmp_protocol(p.protocol) || p.l4 != packet::l4_kind::udp ? true : listening(k, frame);
    if (!has_listener) {
      const path_result& r = run(key(path_kind::datagram_inbound_no_listener), v, rec);
      if (r.answer_suppressed) suppressions_.push({exchange_hash(k), r.filter, rec.policy, r.sublayer});
      return;
    }
    if (run(key(path_kind::datagram_inbound_first), v, rec).verdict == action::permit)
      new_datagram_flow(hk, true);
    if (p.l4 == packet::l4_kind::udp) endpoints_.bind({k.fam, k.protocol, k.local, k.local_port}, now_);
  }

  // ---- outbound ----------------------------------------------------------------------------

  void classify_outbound(const packet::parsed& frag, record& rec, std::uint32_t flags,
                         const hashed_key* pre) {
    if (!frag.frag.is_fragment() && frag.l4 != packet::l4_kind::fragment) [[likely]]
      return classify_outbound_datagram(frag, rec, flags, 0, pre);
    classify_outbound_fragment(frag, rec, flags);
  }

  // Out of line, as classify_inbound_fragment (the rebuilt datagram's `parsed`).
  [[gnu::noinline]] void classify_outbound_fragment(const packet::parsed& frag, record& rec,
                                                    std::uint32_t flags) {
    // Outbound packets are classified before fragmentation: the first fragment carries the
    // datagram's steps, later ones share its verdict (§5).
    const std::uint64_t frag_hash = frag.frag.is_fragment() ? flow::answer_index::fragment_key(frag) : 0;
    if (frag.frag.is_later()) {
      if (auto* fv = fragment_verdicts_.find(frag_hash)) {
        rec.verdict = fv->verdict;
        rec.filter = fv->filter;
        rec.filter_name = filter_name(fv->policy, fv->filter);
      }
      return;
    }
    // A first fragment too short for the transport header: the datagram's steps need that header, which
    // the pre-pass rebuilt from the later fragments (flow/answers.hpp). Without it (live), the fragment
    // is classified on what it holds.
    if (frag.l4 == packet::l4_kind::fragment) {
      packet::parsed whole;
      if (rebuilt_datagram(frag, rec, whole))
        return classify_outbound_datagram(whole, rec, flags, frag_hash, nullptr);
    }
    classify_outbound_datagram(frag, rec, flags, frag_hash, nullptr);  // classify() hashes no fragment's key
  }

  void classify_outbound_datagram(const packet::parsed& p, record& rec, std::uint32_t flags,
                                  std::uint64_t frag_hash, const hashed_key* pre) {
    const incoming_values& v = values_of(p, false, flags);
    if (p.is_icmp_error()) {
      outbound_icmp_error(p, v, rec);
    } else {
      hashed_key own;
      const hashed_key& k = pre ? *pre : hashed_key_of(p, false, own);
      if (p.l4 == packet::l4_kind::tcp)
        outbound_tcp(p, k, v, rec);
      else
        outbound_datagram(p, k, v, rec);
    }
    if (frag_hash) fragment_verdicts_.push({frag_hash, rec.verdict, rec.filter, rec.policy});
  }

  /// The whole outbound datagram of the first fragment `frag` as the pre-pass rebuilt it, parsed into
  /// `whole` (the frame's link fields kept); false when there is none or it does not parse.
  bool rebuilt_datagram(const packet::parsed& frag, record& rec, packet::parsed& whole) {
    const flow::datagram_head* d = answers_ ? answers_->outbound_datagram(rec.frame) : nullptr;
    if (!d) return false;
    whole = packet::parse(d->head(), packet::link_type::raw, d->length);
    if (!whole.ok() || whole.fam != frag.fam || whole.src != frag.src || whole.dst != frag.dst) return false;
    whole.link = frag.link;
    label(rec.flow, whole);  // the datagram's ports, now that they are known
    return true;
  }

  /// A stack answer whose trigger a discard-layer filter blocked: no steps, block, suppressed (§7).
  bool suppressed_answer(std::uint64_t hash, record& rec) {
    detail::pending_suppression* s = suppressions_.find(hash);
    if (!s) return false;
    rec.verdict = action::block;
    rec.suppressed = true;
    rec.filter = s->filter;
    rec.filter_name = filter_name(s->policy, s->filter);
    rec.sublayer_name = sublayer_name(s->policy, s->sublayer);
    s->hash = 0;
    return true;
  }

  void outbound_icmp_error(const packet::parsed& p, const incoming_values& v, record& rec) {
    const auto& e = p.icmp.embedded;
    if (e.has_ports) {
      flow::flow_key quoted;  // the quoted datagram came from the remote to us
      quoted.fam = e.fam;
      quoted.protocol = e.protocol;
      quoted.local = e.dst;
      quoted.local_port = e.dst_port;
      quoted.remote = e.src;
      quoted.remote_port = e.src_port;
      if (suppressed_answer(exchange_hash(quoted), rec)) return;
    }
    run({path_kind::icmp_error_outbound, p.fam, false}, v, rec);
  }

  void outbound_tcp(const packet::parsed& p, const hashed_key& hk, const incoming_values& v, record& rec) {
    using flow::tcp_state;
    const flow::flow_key& k = hk.key;
    flow::flow_entry* e = flows_.find(hk);
    const bool payload = p.payload_length > 0;
    const auto key = [&](path_kind kind) { return path_key{kind, p.fam, false}; };
    if (p.tcp.is_rst() && !e && suppressed_answer(exchange_hash(k), rec)) return;
    if (p.tcp.is_syn() && (!e || e->state == tcp_state::established || e->state == tcp_state::closing ||
                           e->state == tcp_state::closed)) {
      if (e) flows_.erase(e);
      // An active open always takes a fresh endpoint, so it always binds.
      if (run(key(path_kind::tcp_active_open), v, rec).verdict == action::permit) {
        flow::flow_entry* n = flows_.insert(hk, now_).entry;
        if (n) {
          n->state = tcp_state::syn_sent;
          n->inbound_origin = false;
          n->policy_epoch = epoch_;
        }
        endpoints_.bind({k.fam, k.protocol, k.local, k.local_port}, now_);
      }
      return;
    }
    if (!e) {
      const path_kind kind = p.tcp.is_syn_ack() ? path_kind::tcp_outbound_syn_ack
                             : payload          ? path_kind::tcp_outbound_data
                                                : path_kind::tcp_outbound_segment;
      run(key(kind), v, rec);
      if (!p.tcp.is_rst()) adopt_midstream(hk, false);
      return;
    }
    e->last_seen = now_;
    path_kind kind = payload ? path_kind::tcp_outbound_data : path_kind::tcp_outbound_segment;
    if (p.tcp.is_syn_ack()) {
      kind = path_kind::tcp_outbound_syn_ack;
    } else if (e->state == tcp_state::syn_sent && e->syn_ack_seen && !p.tcp.is_syn() && !p.tcp.is_rst() &&
               p.tcp.has(packet::tcp_flag::ack)) {
      kind = payload ? path_kind::tcp_outbound_final_ack_payload : path_kind::tcp_outbound_final_ack;
      e->state = tcp_state::established;
    } else if ((e->state == tcp_state::established || e->state == tcp_state::closing) &&
               e->policy_epoch != epoch_) {
      kind = e->inbound_origin ? (payload ? path_kind::tcp_outbound_reauthorize_accept_payload
                                          : path_kind::tcp_outbound_reauthorize_accept)
                               : (payload ? path_kind::tcp_outbound_reauthorize_payload
                                          : path_kind::tcp_outbound_reauthorize);
    } else if (e->state == tcp_state::syn_sent || e->state == tcp_state::syn_received) {
      kind = path_kind::tcp_outbound_segment;
    }
    if (reauthorize_if(kind, e, v, rec, key(kind))) return;
    track_close(e, p, true);
  }

  void outbound_datagram(const packet::parsed& p, const hashed_key& hk, const incoming_values& v,
                         record& rec) {
    const flow::flow_key& k = hk.key;
    flow::flow_entry* e = live_datagram_flow(hk);
    const auto key = [&](path_kind kind) { return path_key{kind, p.fam, false}; };
    if (e) {
      e->last_seen = now_;
      const path_kind kind = e->policy_epoch != epoch_
                                 ? (e->inbound_origin ? path_kind::datagram_outbound_reauthorize_accept
                                                      : path_kind::datagram_outbound_reauthorize)
                                 : path_kind::datagram_outbound;
      reauthorize_if(kind, e, v, rec, key(kind));
      return;
    }
    // Protocols without ports (ICMP) visit no bind layers; an endpoint binds on its first send.
    const bool has_ports = p.l4 == packet::l4_kind::udp;
    const flow::endpoint_key ep{k.fam, k.protocol, k.local, k.local_port};
    const bool bound = !has_ports || endpoints_.contains(ep);
    const path_kind kind =
        bound ? path_kind::datagram_outbound_first : path_kind::datagram_outbound_first_bind;
    if (run(key(kind), v, rec).verdict == action::permit) new_datagram_flow(hk, false);
    if (has_ports) endpoints_.bind(ep, now_);
  }

  // ---- flow bookkeeping --------------------------------------------------------------------

  /// Runs the path; when it is a reauthorization (§8), the flow is authorized again under the
  /// policy in force, or torn down when that fails. Returns whether the flow is gone.
  bool reauthorize_if(path_kind kind, flow::flow_entry* e, const incoming_values& v, record& rec,
                      path_key key) {
    const path_result& r = run(key, v, rec);
    if (!reauthorizing[static_cast<std::size_t>(kind)]) return false;
    ++counters_.reauthorized;
    e->policy_epoch = epoch_;
    if (r.verdict != action::block) return false;
    flows_.erase(e);
    ++counters_.torn_down;
    return true;
  }

  void adopt_midstream(const hashed_key& k, bool inbound) {
    flow::flow_entry* n = flows_.insert(k, now_).entry;
    if (!n) return;
    n->state = flow::tcp_state::established;
    n->inbound_origin = inbound;
    n->policy_epoch = epoch_;
  }

  void track_close(flow::flow_entry* e, const packet::parsed& p, bool outbound) {
    if (p.tcp.is_rst()) {
      e->state = flow::tcp_state::closed;
      return;
    }
    if (p.tcp.is_fin()) {
      if (outbound)  // not `(outbound ? a : b) = true`: clang 14 cannot compile a conditional of bit-fields
        e->fin_local = true;
      else
        e->fin_remote = true;
      e->state = (e->fin_local && e->fin_remote) ? flow::tcp_state::closed : flow::tcp_state::closing;
    }
  }

  flow::flow_entry* live_datagram_flow(const hashed_key& k) {
    flow::flow_entry* e = flows_.find(k);
    if (e && now_ > e->last_seen && now_ - e->last_seen > config_.datagram_idle_timeout.count()) {
      flows_.erase(e);  // a non-TCP flow expires after 60 s without traffic
      return nullptr;
    }
    return e;
  }

  void new_datagram_flow(const hashed_key& k, bool inbound) {
    flow::flow_entry* n = flows_.insert(k, now_).entry;
    if (!n) return;
    n->inbound_origin = inbound;
    n->policy_epoch = epoch_;
  }

  host host_;
  engine_config config_;
  flow::flow_table flows_;
  flow::endpoint_table endpoints_;
  flow::reassembler reassembly_;
  flow::answer_index* answers_ = nullptr;
  listener_hook listener_hook_ = nullptr;
  void* listener_context_ = nullptr;
  std::size_t active_ = 0;
  std::uint32_t epoch_ = 1;  // starts at 1: a run-time set replacement marks a flow with 0 (sets.hpp)
  sets_type sets_{};
  std::int64_t now_ = 0;
  incoming_values values_{};  // values_of's
  path_result result_{};      // run's
  engine_counters counters_{};
  std::array<std::vector<std::uint64_t>, policy_count> filter_hits_{};
  detail::small_ring<1024, detail::pending_suppression> suppressions_{};
  detail::small_ring<256, detail::fragment_verdict> fragment_verdicts_{};
};

/// An engine that records every step (what strata-classify prints).
template <auto const&... Policies>
using engine = basic_engine<true, Policies...>;
/// An engine that keeps verdicts only: the per-packet path at its fastest.
template <auto const&... Policies>
using verdict_engine = basic_engine<false, Policies...>;

}  // namespace strata
