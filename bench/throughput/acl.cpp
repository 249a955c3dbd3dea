// DPDK's rte_acl on the 5-tuple part of the 1000-filter policy (its IP-packet and transport layers:
// every condition there is a protocol, a port, a port range or an address prefix), in a plain process:
// no hugepages, no PCI, one lcore (peers.md). Built only when libdpdk-dev is installed.
//
// Mapping: one ACL context per direction. The stateless path of an established TCP segment visits two
// layers (inbound: INBOUND_IPPACKET then INBOUND_TRANSPORT; outbound: OUTBOUND_TRANSPORT then
// OUTBOUND_IPPACKET); each (layer, sublayer) pair is an ACL category (6 of 8), and a rule's priority is
// its rank in WFP's order within its sublayer. rte_acl answers the best rule per category; WFP's
// arbitration across sublayers (a block is final, a permit may be overridden by a lower sublayer) and
// across the two layers is then a handful of branches. The key is extracted by strata's parser, like
// every other contender's.
#include "common.hpp"

#if STRATA_BENCH_HAVE_DPDK

#include <arpa/inet.h>
#include <rte_acl.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_rules.hpp"

namespace bench {
namespace {

struct acl_key {
  std::uint8_t proto;
  std::uint8_t pad[3];
  std::uint32_t local;   // network order
  std::uint32_t remote;  // network order
  std::uint16_t lport;   // network order
  std::uint16_t rport;   // network order
};

RTE_ACL_RULE_DEF(acl_rule, 5);

constexpr unsigned categories = 8;  // 2 layers x 3 sublayers, rounded up to RTE_ACL_RESULTS_MULTIPLIER

const rte_acl_field_def field_defs[5] = {
    {RTE_ACL_FIELD_TYPE_BITMASK, sizeof(std::uint8_t), 0, 0, offsetof(acl_key, proto)},
    {RTE_ACL_FIELD_TYPE_MASK, sizeof(std::uint32_t), 1, 1, offsetof(acl_key, local)},
    {RTE_ACL_FIELD_TYPE_MASK, sizeof(std::uint32_t), 2, 2, offsetof(acl_key, remote)},
    {RTE_ACL_FIELD_TYPE_RANGE, sizeof(std::uint16_t), 3, 3, offsetof(acl_key, lport)},
    {RTE_ACL_FIELD_TYPE_RANGE, sizeof(std::uint16_t), 4, 3, offsetof(acl_key, rport)},
};

struct direction_ctx {
  rte_acl_ctx* ctx = nullptr;
  std::size_t rules = 0;
};

struct acl_state {
  bool tried = false;
  std::string error;
  direction_ctx in, out;
  std::vector<strata::action> actions;  // by filter index
  double build_ms = 0;
};

acl_state& state() {
  static acl_state s;
  return s;
}

int sublayer_index(std::uint16_t weight) { return weight == 0x9000 ? 0 : weight == 0x4000 ? 1 : 2; }

bool build(direction_ctx& d, const char* name, strata::layer_id first, strata::layer_id second,
           std::string& err) {
  rte_acl_param p{};
  p.name = name;
  p.socket_id = 0;
  p.rule_size = RTE_ACL_RULE_SZ(5);
  p.max_rule_num = std::size(bench_rules::p1000);
  d.ctx = rte_acl_create(&p);
  if (!d.ctx) {
    err = std::string("rte_acl_create: ") + rte_strerror(rte_errno);
    return false;
  }
  std::vector<const bench_rules::rule*> mine;
  for (const auto& r : bench_rules::p1000)
    if (r.layer == first || r.layer == second) mine.push_back(&r);
  // WFP order within each (layer, sublayer): weight descending, then declaration.
  std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) {
    if (a->layer != b->layer) return a->layer < b->layer;
    if (a->sublayer_weight != b->sublayer_weight) return a->sublayer_weight > b->sublayer_weight;
    if (a->weight != b->weight) return a->weight > b->weight;
    return a->index < b->index;
  });
  std::vector<acl_rule> rules;
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const auto& r = *mine[i];
    acl_rule a{};
    const unsigned slot = r.layer == first ? 0 : 1;
    a.data.category_mask = 1u << (slot * 3 + sublayer_index(r.sublayer_weight));
    a.data.priority = static_cast<std::int32_t>(RTE_ACL_MAX_PRIORITY - 1 - i);  // earlier in the order wins
    a.data.userdata = r.index + 1u;
    a.field[0].value.u8 = 0, a.field[0].mask_range.u8 = 0;
    a.field[1].value.u32 = 0, a.field[1].mask_range.u32 = 0;
    a.field[2].value.u32 = 0, a.field[2].mask_range.u32 = 0;
    a.field[3].value.u16 = 0, a.field[3].mask_range.u16 = 0xffff;
    a.field[4].value.u16 = 0, a.field[4].mask_range.u16 = 0xffff;
    for (std::size_t c = 0; c < r.ncond; ++c) {
      const auto& k = r.conds[c];
      switch (k.kind) {
        case bench_rules::proto:
          a.field[0].value.u8 = static_cast<std::uint8_t>(k.a), a.field[0].mask_range.u8 = 0xff;
          break;
        case bench_rules::laddr:
          a.field[1].value.u32 = k.a, a.field[1].mask_range.u32 = 32;
          break;
        case bench_rules::raddr24:
          a.field[2].value.u32 = k.a, a.field[2].mask_range.u32 = 24;
          break;
        case bench_rules::port_eq:
          a.field[3].value.u16 = static_cast<std::uint16_t>(k.a),
          a.field[3].mask_range.u16 = static_cast<std::uint16_t>(k.a);
          break;
        case bench_rules::port_range:
          a.field[3].value.u16 = static_cast<std::uint16_t>(k.a),
          a.field[3].mask_range.u16 = static_cast<std::uint16_t>(k.b);
          break;
      }
    }
    rules.push_back(a);
  }
  d.rules = rules.size();
  if (int rc = rte_acl_add_rules(d.ctx, reinterpret_cast<const rte_acl_rule*>(rules.data()), rules.size());
      rc != 0) {
    err = "rte_acl_add_rules: " + std::to_string(rc);
    return false;
  }
  rte_acl_config cfg{};
  cfg.num_categories = categories;
  cfg.num_fields = 5;
  std::memcpy(cfg.defs, field_defs, sizeof(field_defs));
  if (int rc = rte_acl_build(d.ctx, &cfg); rc != 0) {
    err = "rte_acl_build: " + std::to_string(rc);
    return false;
  }
  return true;
}

bool init() {
  acl_state& s = state();
  if (s.tried) return s.error.empty();
  s.tried = true;
  cpu_set_t set;
  CPU_ZERO(&set);
  int cpu = 0;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set)) {
        cpu = i;
        break;
      }
  // peers.md: a plain process without hugepages; -l names the one CPU this process runs on.
  std::string lcore = std::to_string(cpu);
  const char* args[] = {
      "throughput", "--no-huge", "--no-pci",       "-l",          lcore.c_str(),
      "-m",         "256",       "--no-telemetry", "--no-shconf", "--log-level=lib.eal:error"};
  if (rte_eal_init(static_cast<int>(std::size(args)), const_cast<char**>(args)) < 0) {
    s.error = std::string("rte_eal_init failed: ") + rte_strerror(rte_errno);
    return false;
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (!build(s.in, "strata_in", strata::layer_id::inbound_ippacket_v4, strata::layer_id::inbound_transport_v4,
             s.error) ||
      !build(s.out, "strata_out", strata::layer_id::outbound_transport_v4,
             strata::layer_id::outbound_ippacket_v4, s.error))
    return false;
  s.build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  s.actions.assign(std::size(bench_rules::p1000), strata::action::permit);
  for (const auto& r : bench_rules::p1000) s.actions[r.index] = r.act;
  return true;
}

bool make_key(const strata::packet::parsed& p, const strata::host& h, acl_key& k, bool& inbound) {
  strata::path_key key;
  strata::incoming_values v;
  if (!stateless_key(p, h, key, v)) return false;
  inbound = key.kind == strata::path_kind::tcp_inbound_segment;
  k = {};
  k.proto = v.ip_protocol;
  k.local = htonl(static_cast<std::uint32_t>(v.local_address.lo));
  k.remote = htonl(static_cast<std::uint32_t>(v.remote_address.lo));
  k.lport = htons(v.local_port);
  k.rport = htons(v.remote_port);
  return true;
}

// WFP's arbitration over the per-category answers of one packet (two layers x three sublayers).
stateless_outcome combine(const std::uint32_t* res, const std::vector<strata::action>& actions) {
  stateless_outcome o{0, -1};
  for (unsigned layer = 0; layer < 2; ++layer) {
    for (unsigned sub = 0; sub < 3; ++sub) {
      const std::uint32_t u = res[layer * 3 + sub];
      if (u == 0) continue;
      o.filter = static_cast<std::int16_t>(u - 1);
      if (actions[u - 1] == strata::action::block) {
        o.verdict = 1;
        return o;
      }
    }
  }
  return o;
}

class acl_single final : public contender {
 public:
  explicit acl_single(const workload& w) : w_(w) {}
  void pass() override {
    const acl_state& s = state();
    std::uint64_t b = 0;
    std::uint32_t res[categories];
    for (const segment& seg : w_.segs) {
      for (const strata::io::frame& f : seg.frames) {
        const auto p = strata::packet::parse(f.data, seg.link, f.wire_length);
        acl_key k;
        bool inbound;
        if (!make_key(p, seg.host, k, inbound)) continue;
        const std::uint8_t* data = reinterpret_cast<const std::uint8_t*>(&k);
        rte_acl_classify(inbound ? s.in.ctx : s.out.ctx, &data, res, 1, categories);
        b += combine(res, s.actions).verdict == 1;
      }
    }
    blocked_ += b;
  }
  std::uint64_t blocked() const override { return blocked_; }

 private:
  const workload& w_;
  std::uint64_t blocked_ = 0;
};

/// Keys gathered per direction and classified 64 at a time (rte_acl's strength: SIMD over a batch).
class acl_batch final : public contender {
 public:
  static constexpr unsigned batch = 64;
  explicit acl_batch(const workload& w) : w_(w) {}
  void pass() override {
    std::uint64_t b = 0;
    for (const segment& seg : w_.segs) {
      for (const strata::io::frame& f : seg.frames) {
        const auto p = strata::packet::parse(f.data, seg.link, f.wire_length);
        acl_key k;
        bool inbound;
        if (!make_key(p, seg.host, k, inbound)) continue;
        pending& q = inbound ? in_ : out_;
        q.keys[q.n++] = k;
        if (q.n == batch) b += flush(q, inbound);
      }
    }
    b += flush(in_, true) + flush(out_, false);
    blocked_ += b;
  }
  std::uint64_t blocked() const override { return blocked_; }

 private:
  struct pending {
    acl_key keys[batch];
    unsigned n = 0;
  };
  std::uint64_t flush(pending& q, bool inbound) {
    if (q.n == 0) return 0;
    const acl_state& s = state();
    const std::uint8_t* data[batch];
    for (unsigned i = 0; i < q.n; ++i) data[i] = reinterpret_cast<const std::uint8_t*>(&q.keys[i]);
    rte_acl_classify(inbound ? s.in.ctx : s.out.ctx, data, res_, q.n, categories);
    std::uint64_t b = 0;
    for (unsigned i = 0; i < q.n; ++i) b += combine(res_ + i * categories, s.actions).verdict == 1;
    q.n = 0;
    return b;
  }
  const workload& w_;
  pending in_, out_;
  std::uint32_t res_[batch * categories];
  std::uint64_t blocked_ = 0;
};

}  // namespace

bool acl_available(std::string& why) {
  if (init()) {
    why = "rte_acl: " + std::to_string(state().in.rules + state().out.rules) +
          " rules (IP-packet + transport layers of p1000), build " + std::to_string(state().build_ms) + " ms";
    return true;
  }
  why = state().error;
  return false;
}

std::vector<contender_info> acl_contenders() {
  return {
      {"rte_acl-1000", "acl", [](const workload& w) { return std::make_unique<acl_single>(w); }},
      {"rte_acl-1000-batch64", "acl", [](const workload& w) { return std::make_unique<acl_batch>(w); }},
  };
}

std::vector<stateless_outcome> acl_outcomes(const workload& w) {
  std::vector<stateless_outcome> out;
  const acl_state& s = state();
  std::uint32_t res[categories];
  for (const segment& seg : w.segs) {
    for (const strata::io::frame& f : seg.frames) {
      const auto p = strata::packet::parse(f.data, seg.link, f.wire_length);
      acl_key k;
      bool inbound;
      stateless_outcome o;
      if (make_key(p, seg.host, k, inbound)) {
        const std::uint8_t* data = reinterpret_cast<const std::uint8_t*>(&k);
        rte_acl_classify(inbound ? s.in.ctx : s.out.ctx, &data, res, 1, categories);
        o = combine(res, s.actions);
      }
      out.push_back(o);
    }
  }
  return out;
}

}  // namespace bench

#else  // no DPDK

namespace bench {
bool acl_available(std::string& why) {
  why = "not built: DPDK's rte_acl (Debian libdpdk-dev) was not found when the benchmark was configured";
  return false;
}
std::vector<contender_info> acl_contenders() { return {}; }
std::vector<stateless_outcome> acl_outcomes(const workload&) { return {}; }
}  // namespace bench

#endif
