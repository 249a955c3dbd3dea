// Policy analysis (issue 7): anomalies of a policy, found by the compiler, and what a policy switch changes.
//
//   constexpr auto r = strata::analyze(p);          // policy_report: findings, each with layer, filters,
//   witness static_assert(strata::analyze(p).count(strata::anomaly::shadowed) == 0);
//   static_assert(strata::strict<p>);                // shadowed/overridden filters are compile errors naming
//   them strata::analysis_text(r), strata::analysis_json(r) auto d = strata::diff(old_policy, new_policy); //
//   policy_diff: per layer, the boxes whose verdict changes d.affects(layer, values) // does this packet's
//   verdict at this layer change?
//
// Everything is constexpr (std::vector is used transiently), so the same code runs in static_assert and at
// run time; for large policies call it at run time (see README "Policy analysis" for the cost).
//
// Model. A packet, at one layer, is a point of a space with one dimension per *slot* of incoming_values (the
// storage fields read: IP_LOCAL_ADDRESS and IP_DESTINATION_ADDRESS are one dimension, as the evaluator reads
// one value for both). A slot's domain is its storage type's range (ports 0..65535, v4 addresses 0..2^32-1
// at a V4 layer). A field the observer never fills (field.hpp returns 0 / "") is a constant: its conditions
// are decided once. A filter's match region is a *box*: per slot it tests, a set — a union of 128-bit
// intervals (integers, addresses as intervals from prefixes), a union of ternary cubes (bit patterns) on a
// slot tested with flags_* matches anywhere at the layer, or a finite/cofinite set of strings. Conditions on
// one field are ORed (union), groups ANDed (intersection), so every region is exact, except:
//   * string matches other than equal/not_equal (equal_case_insensitive, WFP's suffix `prefix`, `not_prefix`)
//     and address masks that are not prefixes: the region is over-approximated (the whole slot) and the
//     filter is marked inexact;
//   * registered callouts (terminating, unknown): their answer is unknown.
// The layer is evaluated symbolically (boxes labelled with arbitration states, arbitration.md); an inexact
// filter's region or a callout's answer makes that part of the space *unknown*, and nothing is claimed about
// unknown parts. Every query has a work budget; a query that runs out claims nothing (it is counted in
// policy_report::inconclusive). So: a reported anomaly is real; a rare one may be missed (documented above).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <strata/arbitration.hpp>
#include <strata/detail/fixed_string.hpp>
#include <strata/flow/flow_table.hpp>

namespace strata {

/// The kinds of finding. shadowed/redundant/overridden are anomalies; the last two are information.
enum class anomaly : std::uint8_t {
  shadowed,        ///< every packet it matches is decided first by higher-weight filters of its sublayer
  redundant,       ///< removing it changes no verdict of its layer for any packet
  overridden,      ///< wherever it decides its sublayer, the layer's verdict is the opposite action
  generalisation,  ///< a later filter with another action matches a superset of an earlier one (info)
  correlation,     ///< two filters with different actions overlap, neither contains the other (info)
};
constexpr std::string_view name(anomaly a) {
  constexpr std::array<std::string_view, 5> n{"shadowed", "redundant", "overridden", "generalisation",
                                              "correlation"};
  return n[static_cast<std::size_t>(a)];
}

/// One finding: the filter, the layer, the filters that cause it, and a packet that shows it.
struct finding {
  anomaly kind = anomaly::shadowed;
  layer_id layer = layer_id::none;
  std::int16_t index = -1;               ///< the filter (index into the policy)
  std::string_view filter{};             ///< its name
  std::string_view sublayer{};           ///< its sublayer's name
  action act = action::none;             ///< its action
  std::array<std::string_view, 4> by{};  ///< the filters that shadow / override it, or the other of the pair
  std::uint16_t by_count = 0;            ///< how many there are (at most 4 are named)
  bool unmatchable = false;              ///< shadowed/redundant: the filter matches no packet at all
  bool has_witness = false;
  incoming_values witness{};      ///< a packet (at this layer) that the filter matches, showing the finding
  field_set fields{};             ///< the fields worth printing: those the filters involved test
  action verdict = action::none;  ///< overridden: the layer's verdict on the witness
};

/// What analyze() found.
struct policy_report {
  std::vector<finding> findings;
  std::size_t filters = 0;
  std::size_t inconclusive = 0;  ///< queries that ran out of budget (nothing claimed for them)
  std::size_t info_dropped = 0;  ///< information findings beyond the cap (not stored)

  constexpr std::size_t count(anomaly k) const {
    std::size_t n = 0;
    for (const auto& f : findings) n += f.kind == k;
    return n;
  }
  /// Whether filter `name` has a finding of kind k.
  constexpr bool has(anomaly k, std::string_view filter_name) const {
    for (const auto& f : findings)
      if (f.kind == k && f.filter == filter_name) return true;
    return false;
  }
  /// No shadowed and no overridden filter (what strict mode requires).
  constexpr bool clean() const { return count(anomaly::shadowed) == 0 && count(anomaly::overridden) == 0; }
};

/// Work limits of the analysis. Every query (one filter's shadowing, redundancy, override; one layer of a
/// diff) gets `budget` units (one unit is roughly one interval or cube touched); `max_pieces` caps the boxes
/// a symbolic evaluation holds. `info_cap` caps the stored information findings.
struct analysis_limits {
  long budget = 400000;
  std::size_t max_pieces = 20000;
  std::size_t info_cap = 64;
  bool information = true;
};

namespace detail::an {

// ---- slots: the storage fields of incoming_values, one dimension each ---------------------------------

enum class slot_kind : std::uint8_t { integer, address, text };
inline constexpr int slot_count = 30;

constexpr slot_kind kind_of_slot(int s) {
  return s < 24 ? slot_kind::integer : (s < 27 ? slot_kind::address : slot_kind::text);
}

constexpr void set_int(incoming_values& v, int s, std::uint64_t x) {
  switch (s) {
    case 0:
      v.local_port = static_cast<std::uint16_t>(x);
      break;
    case 1:
      v.remote_port = static_cast<std::uint16_t>(x);
      break;
    case 2:
      v.ip_protocol = static_cast<std::uint8_t>(x);
      break;
    case 3:
      v.local_address_type = static_cast<std::uint8_t>(x);
      break;
    case 4:
      v.destination_address_type = static_cast<std::uint8_t>(x);
      break;
    case 5:
      v.embedded_protocol = static_cast<std::uint8_t>(x);
      break;
    case 6:
      v.flags = static_cast<std::uint32_t>(x);
      break;
    case 7:
      v.direction = static_cast<std::uint32_t>(x);
      break;
    case 8:
      v.interface_index = static_cast<std::uint32_t>(x);
      break;
    case 9:
      v.sub_interface_index = static_cast<std::uint32_t>(x);
      break;
    case 10:
      v.interface_type = static_cast<std::uint32_t>(x);
      break;
    case 11:
      v.tunnel_type = static_cast<std::uint32_t>(x);
      break;
    case 12:
      v.compartment_id = static_cast<std::uint32_t>(x);
      break;
    case 13:
      v.discard_module = static_cast<std::uint32_t>(x);
      break;
    case 14:
      v.discard_reason = static_cast<std::uint32_t>(x);
      break;
    case 15:
      v.reauthorize_reason = static_cast<std::uint32_t>(x);
      break;
    case 16:
      v.original_icmp_type = static_cast<std::uint16_t>(x);
      break;
    case 17:
      v.ether_type = static_cast<std::uint16_t>(x);
      break;
    case 18:
      v.vlan_id = static_cast<std::uint16_t>(x);
      break;
    case 19:
      v.embedded_local_port = static_cast<std::uint16_t>(x);
      break;
    case 20:
      v.embedded_remote_port = static_cast<std::uint16_t>(x);
      break;
    case 21:
      v.local_interface = x;
      break;
    case 22:
      v.mac_local_address = x;
      break;
    case 23:
      v.mac_remote_address = x;
      break;
    default:
      break;
  }
}
constexpr void set_address(incoming_values& v, int s, address a) {
  if (s == 24)
    v.local_address = a;
  else if (s == 25)
    v.remote_address = a;
  else if (s == 26)
    v.embedded_remote_address = a;
}
constexpr void set_text(incoming_values& v, int s, std::string_view t) {
  if (s == 27)
    v.app_id = t;
  else if (s == 28)
    v.user_id = t;
  else if (s == 29)
    v.peer_name = t;
}

/// Which slot each field reads (-1: none, the field is a constant), found by probing field.hpp's readers,
/// so that the analysis reads exactly what the evaluator reads.
struct slot_table {
  std::array<std::int8_t, field_count> slot{};
  std::array<std::uint64_t, 24> int_max{};
};
constexpr slot_table probe_slots() {
  slot_table t;
  for (std::size_t f = 0; f < field_count; ++f) {
    const auto fid = static_cast<field_id>(f);
    t.slot[f] = -1;
    for (int s = 0; s < slot_count; ++s) {
      incoming_values v{};
      bool hit = false;
      if (kind(fid) == value_kind::integer && kind_of_slot(s) == slot_kind::integer) {
        set_int(v, s, ~std::uint64_t{0});
        const std::uint64_t got = integer_value(fid, v);
        if (got != 0) hit = true, t.int_max[static_cast<std::size_t>(s)] = got;
      } else if (kind(fid) == value_kind::address && kind_of_slot(s) == slot_kind::address) {
        set_address(v, s, address{1, 1});
        hit = address_value(fid, v) == address{1, 1};
      } else if (kind(fid) == value_kind::text && kind_of_slot(s) == slot_kind::text) {
        set_text(v, s, "x");
        hit = text_value(fid, v) == "x";
      }
      if (hit) {
        t.slot[f] = static_cast<std::int8_t>(s);
        break;
      }
    }
  }
  return t;
}
inline constexpr slot_table slots = probe_slots();
constexpr int slot_of(field_id f) { return slots.slot[static_cast<std::size_t>(f)]; }

// ---- 128-bit values and work budget --------------------------------------------------------------------

constexpr address inc(address a) {
  return a.lo == ~std::uint64_t{0} ? address{a.hi + 1, 0} : address{a.hi, a.lo + 1};
}
constexpr address dec(address a) {
  return a.lo == 0 ? address{a.hi - 1, ~std::uint64_t{0}} : address{a.hi, a.lo - 1};
}
inline constexpr address all_ones{~std::uint64_t{0}, ~std::uint64_t{0}};

struct budget {
  long left = 0;
  std::size_t max_pieces = 0;
  bool out = false;
  constexpr void spend(long n) {
    left -= n;
    if (left < 0) out = true;
  }
};

// ---- one dimension's set ----------------------------------------------------------------------------

enum class dmode : std::uint8_t { interval, cubes, text };
struct ival {
  address lo, hi;
};
struct cube {  // value/care over 64 bits; normalized: care holds every bit outside the slot's width (value 0)
  std::uint64_t value = 0, care = 0;
};

struct dset {
  dmode mode = dmode::interval;
  std::vector<ival> iv;              // sorted, disjoint
  std::vector<cube> cb;              // each nonempty
  std::vector<std::string_view> tx;  // text: the strings (finite) or the excluded ones (cofinite)
  bool cofinite = false;

  constexpr bool empty() const {
    switch (mode) {
      case dmode::interval:
        return iv.empty();
      case dmode::cubes:
        return cb.empty();
      case dmode::text:
        return !cofinite && tx.empty();
    }
    return true;
  }
};

/// The space of one layer: each slot's mode and range.
struct space {
  std::array<dmode, slot_count> mode{};
  std::array<address, slot_count> max{};
};

constexpr dset full(const space& sp, int s) {
  dset d;
  d.mode = sp.mode[static_cast<std::size_t>(s)];
  const address mx = sp.max[static_cast<std::size_t>(s)];
  if (d.mode == dmode::interval)
    d.iv.push_back({address{}, mx});
  else if (d.mode == dmode::cubes)
    d.cb.push_back({0, ~mx.lo});
  else
    d.cofinite = true;
  return d;
}

constexpr bool contains_text(const std::vector<std::string_view>& v, std::string_view s) {
  for (auto x : v)
    if (x == s) return true;
  return false;
}

constexpr cube cube_and(cube a, cube b, bool& empty) {
  empty = ((a.value ^ b.value) & a.care & b.care) != 0;
  return {a.value | b.value, a.care | b.care};
}

constexpr dset intersect(const dset& a, const dset& b, budget& w) {
  dset r;
  r.mode = a.mode;
  switch (a.mode) {
    case dmode::interval: {
      std::size_t i = 0, j = 0;
      w.spend(static_cast<long>(a.iv.size() + b.iv.size()));
      while (i < a.iv.size() && j < b.iv.size()) {
        const address lo = std::max(a.iv[i].lo, b.iv[j].lo), hi = std::min(a.iv[i].hi, b.iv[j].hi);
        if (lo <= hi) r.iv.push_back({lo, hi});
        if (a.iv[i].hi < b.iv[j].hi)
          ++i;
        else
          ++j;
      }
      break;
    }
    case dmode::cubes:
      w.spend(static_cast<long>(a.cb.size() * b.cb.size()));
      for (const cube& x : a.cb)
        for (const cube& y : b.cb) {
          bool e = false;
          const cube z = cube_and(x, y, e);
          if (!e) r.cb.push_back(z);
        }
      break;
    case dmode::text:
      w.spend(static_cast<long>(a.tx.size() * (b.tx.size() + 1)));
      if (!a.cofinite && !b.cofinite) {
        for (auto s : a.tx)
          if (contains_text(b.tx, s)) r.tx.push_back(s);
      } else if (!a.cofinite) {
        for (auto s : a.tx)
          if (!contains_text(b.tx, s)) r.tx.push_back(s);
      } else if (!b.cofinite) {
        for (auto s : b.tx)
          if (!contains_text(a.tx, s)) r.tx.push_back(s);
      } else {
        r.cofinite = true;
        r.tx = a.tx;
        for (auto s : b.tx)
          if (!contains_text(r.tx, s)) r.tx.push_back(s);
      }
      break;
  }
  return r;
}

/// x − y for one cube: disjoint cubes.
constexpr void cube_minus(cube x, cube y, std::vector<cube>& out) {
  bool e = false;
  (void)cube_and(x, y, e);
  if (e) {
    out.push_back(x);
    return;
  }
  std::uint64_t extra = y.care & ~x.care;  // bits y fixes that x leaves free
  cube rest = x;
  while (extra) {
    const std::uint64_t bit = extra & (~extra + 1);
    extra &= extra - 1;
    out.push_back({(rest.value & ~bit) | (~y.value & bit), rest.care | bit});
    rest = {(rest.value & ~bit) | (y.value & bit), rest.care | bit};
  }
}

constexpr dset subtract(const dset& a, const dset& b, budget& w) {
  dset r;
  r.mode = a.mode;
  switch (a.mode) {
    case dmode::interval: {
      std::size_t j = 0;
      w.spend(static_cast<long>(a.iv.size() + b.iv.size()));
      for (const ival& x : a.iv) {
        address lo = x.lo;
        bool done = false;
        while (j < b.iv.size() && b.iv[j].hi < lo) ++j;
        for (std::size_t k = j; k < b.iv.size() && b.iv[k].lo <= x.hi; ++k) {
          if (b.iv[k].lo > lo) r.iv.push_back({lo, dec(b.iv[k].lo)});
          if (b.iv[k].hi >= x.hi) {
            done = true;
            break;
          }
          lo = inc(b.iv[k].hi);
        }
        if (!done && lo <= x.hi) r.iv.push_back({lo, x.hi});
      }
      break;
    }
    case dmode::cubes: {
      r.cb = a.cb;
      for (const cube& y : b.cb) {
        std::vector<cube> next;
        w.spend(static_cast<long>(r.cb.size()) * 2);
        for (const cube& x : r.cb) cube_minus(x, y, next);
        r.cb = std::move(next);
        if (r.cb.empty() || w.out || r.cb.size() > w.max_pieces) break;
      }
      if (r.cb.size() > w.max_pieces) w.out = true;
      break;
    }
    case dmode::text: {
      dset nb = b;
      nb.cofinite = !b.cofinite;
      return intersect(a, nb, w);
    }
  }
  return r;
}

constexpr dset unite(const dset& a, const dset& b, budget& w) {
  dset r;
  r.mode = a.mode;
  switch (a.mode) {
    case dmode::interval: {
      std::vector<ival> all = a.iv;
      for (const auto& x : b.iv) all.push_back(x);
      std::sort(all.begin(), all.end(), [](const ival& x, const ival& y) { return x.lo < y.lo; });
      w.spend(static_cast<long>(all.size()));
      for (const auto& x : all) {
        if (!r.iv.empty() && (r.iv.back().hi == all_ones || x.lo <= inc(r.iv.back().hi))) {
          if (x.hi > r.iv.back().hi) r.iv.back().hi = x.hi;
        } else {
          r.iv.push_back(x);
        }
      }
      break;
    }
    case dmode::cubes:
      r.cb = a.cb;
      for (const auto& x : b.cb) r.cb.push_back(x);
      break;
    case dmode::text: {
      // complement(union) = complement(a) ∩ complement(b)
      dset na = a, nb = b;
      na.cofinite = !a.cofinite;
      nb.cofinite = !b.cofinite;
      r = intersect(na, nb, w);
      r.cofinite = !r.cofinite;
      break;
    }
  }
  return r;
}

inline constexpr std::array<std::string_view, 12> text_fillers{
    "",       "?",       "??",       "???",       "????",       "?????",
    "??????", "???????", "????????", "?????????", "??????????", "???????????"};

/// One member of a nonempty set.
constexpr bool pick(const dset& d, address& a, std::string_view& t) {
  switch (d.mode) {
    case dmode::interval:
      if (d.iv.empty()) return false;
      a = d.iv.front().lo;
      return true;
    case dmode::cubes:
      if (d.cb.empty()) return false;
      a = address{0, d.cb.front().value};
      return true;
    case dmode::text:
      if (!d.cofinite) {
        if (d.tx.empty()) return false;
        t = d.tx.front();
        return true;
      }
      for (auto s : text_fillers)
        if (!contains_text(d.tx, s)) {
          t = s;
          return true;
        }
      return false;
  }
  return false;
}

// ---- boxes --------------------------------------------------------------------------------------------

struct dcon {
  std::int8_t slot = 0;
  dset set;
};
/// A product of per-slot sets; slots not listed are unconstrained. `dims` is sorted by slot.
struct box {
  std::vector<dcon> dims;
  bool empty = false;

  constexpr const dset* find(int s) const {
    for (const auto& d : dims)
      if (d.slot == s) return &d.set;
    return nullptr;
  }
  constexpr void set(int s, dset v) {
    for (auto& d : dims)
      if (d.slot == s) {
        d.set = std::move(v);
        if (d.set.empty()) empty = true;
        return;
      }
    if (v.empty()) empty = true;
    auto it = dims.begin();
    while (it != dims.end() && it->slot < s) ++it;
    dims.insert(it, dcon{static_cast<std::int8_t>(s), std::move(v)});
  }
};

constexpr box intersect(const box& a, const box& b, budget& w) {
  box r;
  if (a.empty || b.empty) {
    r.empty = true;
    return r;
  }
  std::size_t i = 0, j = 0;
  while (i < a.dims.size() || j < b.dims.size()) {
    if (j == b.dims.size() || (i < a.dims.size() && a.dims[i].slot < b.dims[j].slot)) {
      r.dims.push_back(a.dims[i++]);
    } else if (i == a.dims.size() || b.dims[j].slot < a.dims[i].slot) {
      r.dims.push_back(b.dims[j++]);
    } else {
      dcon c{a.dims[i].slot, intersect(a.dims[i].set, b.dims[j].set, w)};
      ++i, ++j;
      if (c.set.empty()) {
        r.empty = true;
        r.dims.clear();
        return r;
      }
      r.dims.push_back(std::move(c));
    }
  }
  return r;
}

constexpr bool intersects(const box& a, const box& b, budget& w) {
  if (a.empty || b.empty) return false;
  for (const auto& x : a.dims)
    if (const dset* y = b.find(x.slot))
      if (intersect(x.set, *y, w).empty()) return false;
  return true;
}

/// a − b as disjoint boxes.
constexpr void subtract(const space& sp, const box& a, const box& b, std::vector<box>& out, budget& w) {
  if (a.empty) return;
  if (!intersects(a, b, w)) {
    out.push_back(a);
    return;
  }
  box rest = a;
  for (const auto& d : b.dims) {
    dset cur;
    if (const dset* have = rest.find(d.slot))
      cur = *have;
    else
      cur = full(sp, d.slot);
    dset outside = subtract(cur, d.set, w);
    if (!outside.empty()) {
      box piece = rest;
      piece.set(d.slot, std::move(outside));
      out.push_back(std::move(piece));
    }
    rest.set(d.slot, intersect(cur, d.set, w));
  }
}

constexpr std::vector<box> subtract(const space& sp, const std::vector<box>& xs, const box& b, budget& w) {
  std::vector<box> out;
  for (const auto& x : xs) subtract(sp, x, b, out, w);
  if (out.size() > w.max_pieces) w.out = true;
  return out;
}

/// `a ⊆ b` (exact; false when the budget ran out).
constexpr bool subset(const space& sp, const box& a, const box& b, budget& w) {
  std::vector<box> r;
  subtract(sp, a, b, r, w);
  return r.empty() && !w.out;
}

constexpr incoming_values point_of(const box& b) {
  incoming_values v{};
  for (const auto& d : b.dims) {
    address a{};
    std::string_view t;
    if (!pick(d.set, a, t)) continue;
    switch (kind_of_slot(d.slot)) {
      case slot_kind::integer:
        set_int(v, d.slot, a.lo);
        break;
      case slot_kind::address:
        set_address(v, d.slot, a);
        break;
      case slot_kind::text:
        set_text(v, d.slot, t);
        break;
    }
  }
  return v;
}

// ---- conditions to sets ------------------------------------------------------------------------------

constexpr void interval_to_cubes(std::uint64_t lo, std::uint64_t hi, std::uint64_t outside,
                                 std::vector<cube>& out) {
  while (lo <= hi) {
    int k = 0;
    while (k < 64 && ((lo >> k) & 1u) == 0) ++k;  // alignment of lo
    // largest aligned block that fits in [lo, hi]
    while (k > 0 &&
           (k == 64 ? !(lo == 0 && hi == ~std::uint64_t{0}) : (lo + ((std::uint64_t{1} << k) - 1)) > hi))
      --k;
    const std::uint64_t span = k == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << k) - 1;
    out.push_back({lo, ~span | outside});
    if (k == 64 || lo + span == ~std::uint64_t{0}) break;
    lo = lo + span + 1;
  }
}

/// The set of one condition (one alternative of an OR group); `exact` turns false when over-approximated.
constexpr dset condition_set(const space& sp, int s, const condition_value& c, bool& exact) {
  const auto si = static_cast<std::size_t>(s);
  const address mx = sp.max[si];
  dset d;
  d.mode = sp.mode[si];
  auto add_interval = [&](address lo, address hi) {
    if (hi > mx) hi = mx;
    if (lo > hi) return;
    if (d.mode == dmode::interval)
      d.iv.push_back({lo, hi});
    else
      interval_to_cubes(lo.lo, hi.lo, ~mx.lo, d.cb);
  };
  if (is_set_match(c.match)) {  // a run-time set: its contents are unknown at compile time
    exact = false;
    if (d.mode == dmode::text)
      d.cofinite = true;
    else
      add_interval({}, mx);
    return d;
  }
  if (d.mode == dmode::text) {
    if (c.match == match_type::equal)
      d.tx.push_back(c.text);
    else if (c.match == match_type::not_equal)
      d.cofinite = true, d.tx.push_back(c.text);
    else if (c.match == match_type::equal_case_insensitive || c.match == match_type::prefix ||
             c.match == match_type::not_prefix)
      exact = false, d.cofinite = true;
    // other match types never match a string (condition.hpp): the empty set
    return d;
  }
  const bool is_addr = kind_of_slot(s) == slot_kind::address;
  const address a = is_addr ? c.low : address{0, c.low.lo};
  const address b = is_addr ? c.high : address{0, c.high.lo};
  switch (c.match) {
    case match_type::equal:
    case match_type::not_equal: {
      address lo = a, hi = a;
      if (is_addr) {
        // (v & mask) == low: an interval when the mask's free bits (within the domain) are the low ones.
        const address m = c.mask;
        const address free{mx.hi & ~m.hi, mx.lo & ~m.lo};
        const bool low_outside_mask = (a.hi & ~m.hi) != 0 || (a.lo & ~m.lo) != 0;
        const bool low_outside_domain = (a.hi & ~mx.hi) != 0 || (a.lo & ~mx.lo) != 0;
        const address f1 = inc(free);  // free + 1 must be a power of two (or 0 when free is all ones)
        const bool pow2 =
            (f1.hi & (f1.hi - 1)) == 0 && (f1.lo & (f1.lo - 1)) == 0 && !(f1.hi != 0 && f1.lo != 0);
        if (low_outside_mask || low_outside_domain) {
          if (c.match == match_type::not_equal) add_interval({}, mx);  // never equal: always not equal
          return d;
        }
        if (!pow2) {  // a mask that is not a prefix: over-approximate
          exact = false;
          add_interval({}, mx);
          return d;
        }
        hi = address{a.hi | free.hi, a.lo | free.lo};
      }
      if (c.match == match_type::equal) {
        add_interval(lo, hi);
      } else {
        if (lo > address{}) add_interval({}, dec(lo));
        if (hi < mx) add_interval(inc(hi), mx);
      }
      return d;
    }
    case match_type::greater:
      if (a < mx) add_interval(inc(a), mx);
      return d;
    case match_type::less:
      if (a > address{}) add_interval({}, dec(a));
      return d;
    case match_type::greater_or_equal:
      add_interval(a, mx);
      return d;
    case match_type::less_or_equal:
      add_interval({}, a);
      return d;
    case match_type::range:
      if (a <= b) add_interval(a, b);
      return d;
    case match_type::flags_all_set:
    case match_type::flags_any_set:
    case match_type::flags_none_set: {
      if (is_addr) return d;         // never matches an address
      if (d.mode != dmode::cubes) {  // cannot happen: the space puts such slots in cube mode
        exact = false;
        add_interval({}, mx);
        return d;
      }
      const std::uint64_t W = mx.lo, bits = c.low.lo;
      if (c.match == match_type::flags_all_set) {
        if ((bits & ~W) == 0) d.cb.push_back({bits, bits | ~W});
      } else if (c.match == match_type::flags_none_set) {
        d.cb.push_back({0, (bits & W) | ~W});
      } else {
        std::uint64_t seen = 0;
        for (std::uint64_t x = bits & W; x; x &= x - 1) {
          const std::uint64_t bit = x & (~x + 1);
          d.cb.push_back({bit, bit | seen | ~W});
          seen |= bit;
        }
      }
      return d;
    }
    default:
      return d;  // string match types on numbers never match
  }
}

/// Whether a slot is tested with flags_* matches by any of these conditions (then it is held as cubes).
constexpr bool is_flags_match(match_type m) {
  return m == match_type::flags_all_set || m == match_type::flags_any_set || m == match_type::flags_none_set;
}

/// The space of layer `l` for the given policies' conditions.
template <Policy... P>
constexpr space space_of(layer_id l, const P&... p) {
  space sp;
  for (int s = 0; s < slot_count; ++s) {
    const auto si = static_cast<std::size_t>(s);
    switch (kind_of_slot(s)) {
      case slot_kind::integer:
        sp.mode[si] = dmode::interval;
        sp.max[si] = address{0, slots.int_max[si]};
        break;
      case slot_kind::address:
        sp.mode[si] = dmode::interval;
        sp.max[si] = layer_family(l) == family::v4 ? address{0, 0xffffffffu} : all_ones;
        break;
      case slot_kind::text:
        sp.mode[si] = dmode::text;
        break;
    }
  }
  auto mark = [&](const auto& pol) {
    for (const std::uint16_t fi : pol.evaluation_order(l))
      for (const auto& c : pol.conditions_of(pol.filters[fi]))
        if (is_flags_match(c.match) && slot_of(c.field) >= 0 && kind(c.field) == value_kind::integer)
          sp.mode[static_cast<std::size_t>(slot_of(c.field))] = dmode::cubes;
  };
  (mark(p), ...);
  return sp;
}

/// The match region of a filter (over-approximated, with exact = false, where the header says).
template <Policy P>
constexpr box region_of(const space& sp, const P& p, const filter_value& f, bool& exact, budget& w) {
  box r;
  exact = true;
  const auto conds = p.conditions_of(f);
  std::size_t i = 0;
  while (i < conds.size()) {
    const field_id fld = conds[i].field;
    const int s = slot_of(fld);
    if (s < 0) {  // a constant field: decide the group now
      bool any = false;
      for (; i < conds.size() && conds[i].field == fld; ++i) any = any || test(conds[i], incoming_values{});
      if (!any) r.empty = true;
      continue;
    }
    dset g;
    g.mode = sp.mode[static_cast<std::size_t>(s)];
    bool first = true;
    for (; i < conds.size() && conds[i].field == fld; ++i) {
      dset c = condition_set(sp, s, conds[i], exact);
      if (first)
        g = std::move(c);
      else
        g = unite(g, c, w);
      first = false;
    }
    if (const dset* have = r.find(s)) {
      dset both = intersect(*have, g, w);
      r.set(s, std::move(both));
    } else {
      r.set(s, std::move(g));
    }
  }
  if (r.empty) r.dims.clear();
  return r;
}

// ---- a layer, symbolically -----------------------------------------------------------------------------

enum class okind : std::uint8_t { none, fixed, unknown };
struct outcome_t {
  okind k = okind::none;
  action act = action::none;
  bool hard = false;
  std::int16_t filter = -1;
};

struct lfilter {
  std::int16_t index = -1;
  std::uint16_t sub = 0;
  box region;
  bool exact = true;
  bool decides = false;    ///< can decide its sublayer (not continue / inspection)
  bool sure = false;       ///< decides whenever it matches (static, unregistered or terminating callout)
  bool is_static = false;  ///< its decision is known (permit/block, unregistered callout)
  outcome_t out;           ///< when it decides: what (fixed) or unknown
  field_set fields{};
};

struct layer_model {
  layer_id layer = layer_id::none;
  space sp;
  std::vector<lfilter> f;                                   // evaluation order
  std::vector<std::pair<std::size_t, std::size_t>> groups;  // sublayers: [begin, end) into f
  action default_action = action::permit;
};

template <Policy P>
constexpr lfilter describe(const space& sp, const P& p, std::uint16_t fi, budget& w) {
  const filter_value& fv = p.filters[fi];
  lfilter lf;
  lf.index = static_cast<std::int16_t>(fi);
  lf.sub = fv.sublayer_index;
  lf.region = region_of(sp, p, fv, lf.exact, w);
  for (const auto& c : p.conditions_of(fv))
    lf.fields.bits |= std::uint64_t{1} << static_cast<unsigned>(c.field);
  switch (fv.act) {
    case action::permit:
      lf.decides = lf.sure = lf.is_static = true;
      lf.out = {okind::fixed, action::permit, fv.flags.has(clear_action_right), lf.index};
      break;
    case action::block:
      lf.decides = lf.sure = lf.is_static = true;
      lf.out = {okind::fixed, action::block, true, lf.index};
      break;
    case action::callout_terminating:
    case action::callout_unknown:
      lf.decides = true;
      if (!fv.callout) {
        lf.sure = lf.is_static = true;
        lf.out = fv.flags.has(permit_if_callout_unregistered)
                     ? outcome_t{okind::fixed, action::permit, false, lf.index}
                     : outcome_t{okind::fixed, action::block, true, lf.index};
      } else {
        lf.sure = fv.act == action::callout_terminating;
        lf.out = {okind::unknown, action::none, false, lf.index};
      }
      break;
    default:
      break;  // continue, inspection: never decide
  }
  if (!lf.exact && lf.decides) {  // over-approximated region: where it may match, the outcome is unknown
    lf.out.k = okind::unknown;
  }
  return lf;
}

template <Policy P>
constexpr layer_model model_of(layer_id l, const space& sp, const P& p, budget& w) {
  layer_model m;
  m.layer = l;
  m.sp = sp;
  m.default_action = p.default_action;
  int cur = -1;
  for (const std::uint16_t fi : p.evaluation_order(l)) {
    lfilter lf = describe(sp, p, fi, w);
    if (static_cast<int>(lf.sub) != cur) {
      cur = lf.sub;
      m.groups.push_back({m.f.size(), m.f.size()});
    }
    m.f.push_back(std::move(lf));
    m.groups.back().second = m.f.size();
  }
  return m;
}

struct lstate {
  action act = action::none;
  bool write = true;
  bool unknown = false;
  bool hard = false;
  std::int16_t filter = -1;
};
struct piece {
  box b;
  lstate st;
};

constexpr lstate arbitrate_state(lstate s, const outcome_t& o) {
  if (o.k == okind::none || s.unknown) return s;
  if (o.k == okind::unknown) {
    if (s.write || s.act != action::block) s.unknown = true;  // may decide, or veto a hard permit
    return s;
  }
  if (!s.write) return s;  // a static decision cannot change a hard result
  s.act = o.act;
  s.filter = o.filter;
  if (o.hard) s.write = false, s.hard = true;
  return s;
}
constexpr bool settled(const lstate& s) { return s.unknown || (!s.write && s.act == action::block); }

/// The layer's evaluation over `start`: the pieces (disjoint, covering `start`) with their final states.
/// `exclude`: a filter (index into m.f) treated as absent; `assume`: a filter whose decision is taken for its
/// whole sublayer (the override query). Returns false when the budget ran out.
constexpr bool evaluate(const layer_model& m, const std::vector<box>& start, int exclude, int assume,
                        std::vector<piece>& out, budget& w) {
  std::vector<piece> cur;
  for (const auto& b : start)
    if (!b.empty) cur.push_back({b, {}});
  for (const auto& [gb, ge] : m.groups) {
    std::vector<piece> next;
    const bool assumed_here =
        assume >= 0 && static_cast<std::size_t>(assume) >= gb && static_cast<std::size_t>(assume) < ge;
    for (auto& pc : cur) {
      if (settled(pc.st)) {
        next.push_back(std::move(pc));
        continue;
      }
      if (assumed_here) {
        next.push_back({std::move(pc.b), arbitrate_state(pc.st, m.f[static_cast<std::size_t>(assume)].out)});
        continue;
      }
      std::vector<box> rem{pc.b};
      for (std::size_t i = gb; i < ge && !rem.empty(); ++i) {
        const lfilter& g = m.f[i];
        if (static_cast<int>(i) == exclude || !g.decides || g.region.empty) continue;
        if (!pc.st.write && g.out.k == okind::fixed) continue;  // cannot change a hard permit: not split
        bool hit = false;
        for (const auto& r : rem) {
          box z = intersect(r, g.region, w);
          if (!z.empty) next.push_back({std::move(z), arbitrate_state(pc.st, g.out)}), hit = true;
        }
        if (hit) rem = subtract(m.sp, rem, g.region, w);
        if (w.out || next.size() > w.max_pieces) {
          w.out = true;
          return false;
        }
      }
      for (auto& r : rem) next.push_back({std::move(r), pc.st});
    }
    cur = std::move(next);
  }
  out = std::move(cur);
  return !w.out;
}

/// 0 permit, 1 block, 2 unknown.
constexpr int verdict_of(const lstate& s, bool has_filters, action default_action) {
  if (s.unknown) return 2;
  if (s.act == action::permit || s.act == action::block) return s.act == action::block;
  return (has_filters ? default_action : action::permit) == action::block;
}

// ---- queries -------------------------------------------------------------------------------------------

constexpr void add_by(finding& fd, std::string_view n) {
  for (std::size_t i = 0; i < fd.by_count && i < fd.by.size(); ++i)
    if (fd.by[i] == n) return;
  if (fd.by_count < fd.by.size()) fd.by[fd.by_count] = n;
  ++fd.by_count;
}

template <Policy P>
constexpr finding make_finding(const P& p, const layer_model& m, anomaly k, std::size_t i) {
  const lfilter& lf = m.f[i];
  const filter_value& fv = p.filters[static_cast<std::size_t>(lf.index)];
  finding fd;
  fd.kind = k;
  fd.layer = m.layer;
  fd.index = lf.index;
  fd.filter = fv.name;
  fd.sublayer = p.sublayers[fv.sublayer_index].name;
  fd.act = fv.act;
  fd.fields = lf.fields;
  return fd;
}

template <Policy P>
constexpr void set_witness(const P& p, const layer_model& m, finding& fd, const box& b) {
  if (b.empty) return;
  fd.witness = point_of(b);
  // The region may be over-approximated (inexact filters): keep only a witness the filter really matches.
  fd.has_witness = matches(p, p.filters[static_cast<std::size_t>(fd.index)], fd.witness);
  (void)m;
}

template <Policy P>
constexpr void analyze_layer(const P& p, layer_id l, const analysis_limits& lim, policy_report& rep) {
  budget setup{lim.budget * 4, lim.max_pieces};
  const space sp = space_of(l, p);
  const layer_model m = model_of(l, sp, p, setup);
  if (setup.out) {
    ++rep.inconclusive;
    return;
  }
  const bool has_filters = !m.f.empty();
  for (std::size_t gi = 0; gi < m.groups.size(); ++gi) {
    const auto [gb, ge] = m.groups[gi];
    for (std::size_t i = gb; i < ge; ++i) {
      const lfilter& lf = m.f[i];
      // -- shadowed: the region minus the sure, exact deciders before it in the sublayer
      budget w{lim.budget, lim.max_pieces};
      std::vector<box> rem;
      if (!lf.region.empty) rem.push_back(lf.region);
      finding sh = make_finding(p, m, anomaly::shadowed, i);
      bool uncertain_before = false;  // a decider before it whose decision or region is not known exactly
      for (std::size_t j = gb; j < i && !rem.empty(); ++j) {
        const lfilter& g = m.f[j];
        if (!g.decides || g.region.empty) continue;
        bool touches = false;
        for (const auto& r : rem) touches = touches || intersects(r, g.region, w);
        if (!touches) continue;
        if (!(g.sure && g.exact)) {
          uncertain_before = true;
          continue;
        }
        add_by(sh, p.filters[static_cast<std::size_t>(g.index)].name);
        sh.fields.bits |= g.fields.bits;
        rem = subtract(sp, rem, g.region, w);
        if (w.out) break;
      }
      if (w.out) {
        ++rep.inconclusive;
        continue;
      }
      const bool shadowed = rem.empty();
      if (shadowed) {
        sh.unmatchable = lf.region.empty;
        set_witness(p, m, sh, lf.region);
        rep.findings.push_back(sh);
      }
      // -- redundant: the layer's verdicts over its region, with and without it
      {
        budget w2{lim.budget, lim.max_pieces};
        std::vector<piece> with, without;
        const std::vector<box> start{lf.region};
        bool ok = lf.region.empty || (evaluate(m, start, -1, -1, with, w2) &&
                                      evaluate(m, start, static_cast<int>(i), -1, without, w2));
        const bool has_without = m.f.size() > 1;
        bool same = ok;
        for (std::size_t a = 0; same && a < with.size(); ++a) {
          const int va = verdict_of(with[a].st, has_filters, m.default_action);
          for (std::size_t b = 0; same && b < without.size(); ++b) {
            const int vb = verdict_of(without[b].st, has_without, m.default_action);
            if (va == vb && va != 2) continue;
            if (intersects(with[a].b, without[b].b, w2)) same = false;
          }
          if (w2.out) ok = same = false;
        }
        if (!ok)
          ++rep.inconclusive;
        else if (same) {
          finding rd = make_finding(p, m, anomaly::redundant, i);
          rd.unmatchable = lf.region.empty;
          set_witness(p, m, rd, lf.region);
          rep.findings.push_back(rd);
        }
      }
      // -- overridden: where it decides its sublayer, the layer's verdict is always the other action
      if (!shadowed && !uncertain_before && lf.is_static && lf.exact && !lf.region.empty) {
        budget w3{lim.budget, lim.max_pieces};
        std::vector<piece> res;
        if (!evaluate(m, rem, -1, static_cast<int>(i), res, w3)) {
          ++rep.inconclusive;
        } else {
          const int opposite = lf.out.act == action::permit ? 1 : 0;
          bool all = !res.empty();
          finding ov = make_finding(p, m, anomaly::overridden, i);
          for (const auto& pc : res) {
            if (verdict_of(pc.st, true, m.default_action) != opposite || pc.st.filter < 0 ||
                pc.st.filter == lf.index) {
              all = false;
              break;
            }
            add_by(ov, p.filters[static_cast<std::size_t>(pc.st.filter)].name);
            for (const auto& g : m.f)
              if (g.index == pc.st.filter) ov.fields.bits |= g.fields.bits;
          }
          if (all) {
            ov.verdict = opposite ? action::block : action::permit;
            set_witness(p, m, ov, res.front().b);
            rep.findings.push_back(ov);
          }
        }
      }
    }
  }
  // -- information: overlapping filters with different actions
  if (!lim.information) return;
  for (std::size_t i = 0; i < m.f.size(); ++i) {
    const lfilter& a = m.f[i];
    if (!a.is_static || !a.exact || a.region.empty) continue;
    for (std::size_t j = i + 1; j < m.f.size(); ++j) {
      const lfilter& b = m.f[j];
      if (!b.is_static || !b.exact || b.region.empty || b.out.act == a.out.act) continue;
      budget w{lim.budget, lim.max_pieces};
      const box z = intersect(a.region, b.region, w);
      if (z.empty) continue;
      const bool a_in_b = subset(sp, a.region, b.region, w);
      const bool b_in_a = !a_in_b && subset(sp, b.region, a.region, w);
      if (w.out || b_in_a)
        continue;  // a later filter inside an earlier one: shadowing/override, reported above
      if (rep.count(anomaly::generalisation) + rep.count(anomaly::correlation) >= lim.info_cap) {
        ++rep.info_dropped;
        continue;
      }
      finding fd = make_finding(p, m, a_in_b ? anomaly::generalisation : anomaly::correlation, j);
      add_by(fd, p.filters[static_cast<std::size_t>(a.index)].name);
      fd.fields.bits |= a.fields.bits;
      set_witness(p, m, fd, z);
      rep.findings.push_back(fd);
    }
  }
}

}  // namespace detail::an

/// The anomaly report of a policy. constexpr: usable in static_assert for small policies (see README for the
/// cost); the same code at run time for large ones.
template <Policy P>
constexpr policy_report analyze(const P& p, analysis_limits lim = {}) {
  policy_report rep;
  rep.filters = p.filter_count;
  for (std::size_t l = 0; l < layer_count; ++l) {
    const auto lid = static_cast<layer_id>(l);
    if (p.has_filters_at(lid)) detail::an::analyze_layer(p, lid, lim, rep);
  }
  return rep;
}

namespace detail::an {

constexpr bool contains(const dset& d, int s, const incoming_values& v) {
  switch (kind_of_slot(s)) {
    case slot_kind::integer: {
      std::uint64_t x = 0;
      for (std::size_t f = 0; f < field_count; ++f)
        if (slots.slot[f] == s) {
          x = integer_value(static_cast<field_id>(f), v);
          break;
        }
      if (d.mode == dmode::interval) {
        for (const auto& i : d.iv)
          if (address{0, x} >= i.lo && address{0, x} <= i.hi) return true;
        return false;
      }
      for (const auto& c : d.cb)
        if (((x ^ c.value) & c.care) == 0) return true;
      return false;
    }
    case slot_kind::address: {
      address x{};
      for (std::size_t f = 0; f < field_count; ++f)
        if (slots.slot[f] == s) {
          x = address_value(static_cast<field_id>(f), v);
          break;
        }
      for (const auto& i : d.iv)
        if (x >= i.lo && x <= i.hi) return true;
      return false;
    }
    case slot_kind::text: {
      std::string_view x;
      for (std::size_t f = 0; f < field_count; ++f)
        if (slots.slot[f] == s) {
          x = text_value(static_cast<field_id>(f), v);
          break;
        }
      return contains_text(d.tx, x) != d.cofinite;
    }
  }
  return false;
}
constexpr bool contains(const box& b, const incoming_values& v) {
  if (b.empty) return false;
  for (const auto& d : b.dims)
    if (!contains(d.set, d.slot, v)) return false;
  return true;
}

}  // namespace detail::an

// ---- policy diff
// -------------------------------------------------------------------------------------------

/// One region of a layer whose verdict differs between two policies.
struct changed_region {
  detail::an::box region;
  action before = action::none;  ///< permit/block, or none when unknown (a callout or an inexact filter)
  action after = action::none;
  std::string_view before_filter{}, after_filter{};  ///< deciding filters (empty: the default)
  incoming_values witness{};
};
/// The layers whose verdicts differ between two policies, and where.
struct layer_diff {
  layer_id layer = layer_id::none;
  bool whole = false;  ///< not analysed (budget): every packet at this layer counts as changed
  std::vector<changed_region> regions;
};
struct policy_diff {
  std::vector<layer_diff> layers;

  constexpr bool empty() const { return layers.empty(); }
  constexpr const layer_diff* find(layer_id l) const {
    for (const auto& d : layers)
      if (d.layer == l) return &d;
    return nullptr;
  }
  constexpr bool changes(layer_id l) const { return find(l) != nullptr; }
  /// Whether a packet presenting `v` at layer `l` may get another verdict there under the new policy.
  constexpr bool affects(layer_id l, const incoming_values& v) const {
    const layer_diff* d = find(l);
    if (!d) return false;
    if (d->whole) return true;
    for (const auto& r : d->regions)
      if (detail::an::contains(r.region, v)) return true;
    return false;
  }
  /// `affects` for what a flow knows (protocol, addresses, ports): a region's condition on any other
  /// field (interface, application, flags, ...) counts as met, so the answer is never too narrow.
  constexpr bool affects_tuple(layer_id l, const incoming_values& v) const {
    const layer_diff* d = find(l);
    if (!d) return false;
    if (d->whole) return true;
    constexpr field_id known[] = {field_id::ip_protocol, field_id::ip_local_address,
                                  field_id::ip_remote_address, field_id::ip_local_port,
                                  field_id::ip_remote_port};
    for (const auto& r : d->regions) {
      if (r.region.empty) continue;
      bool inside = true;
      for (const auto& dim : r.region.dims) {
        bool tuple_slot = false;
        for (field_id f : known) tuple_slot = tuple_slot || detail::an::slot_of(f) == dim.slot;
        if (tuple_slot && !detail::an::contains(dim.set, dim.slot, v)) {
          inside = false;
          break;
        }
      }
      if (inside) return true;
    }
    return false;
  }
};

/// For engine::select(i, affected): whether a policy change can change a flow's verdict at the ALE
/// authorization layer it was authorized at (§8: RECV_ACCEPT for inbound-created flows, CONNECT for
/// outbound-created ones). `d` must outlive the call.
inline auto affected_flows(const policy_diff& d) {
  return [&d](const flow::flow_entry& e) {
    const bool v6 = e.fam() == family::v6;
    const layer_id l = e.inbound_origin
                           ? (v6 ? layer_id::ale_auth_recv_accept_v6 : layer_id::ale_auth_recv_accept_v4)
                           : (v6 ? layer_id::ale_auth_connect_v6 : layer_id::ale_auth_connect_v4);
    incoming_values v;
    v.ip_protocol = e.protocol();
    v.local_address = e.local();
    v.remote_address = e.remote();
    v.local_port = e.local_port();
    v.remote_port = e.remote_port();
    return d.affects_tuple(l, v);
  };
}

namespace detail::an {

template <Policy A, Policy B>
constexpr bool same_layer(const A& a, const B& b, layer_id l) {
  const auto oa = a.evaluation_order(l), ob = b.evaluation_order(l);
  if (oa.size() != ob.size()) return false;
  if (!oa.empty() && a.default_action != b.default_action) return false;
  for (std::size_t i = 0; i < oa.size(); ++i) {
    const filter_value &x = a.filters[oa[i]], &y = b.filters[ob[i]];
    if (x.act != y.act || x.flags != y.flags || x.callout != y.callout ||
        x.condition_count != y.condition_count ||
        a.sublayers[x.sublayer_index].weight != b.sublayers[y.sublayer_index].weight ||
        a.sublayers[x.sublayer_index].name != b.sublayers[y.sublayer_index].name)
      return false;
    // sublayer boundaries must agree too
    if (i > 0 && (a.filters[oa[i - 1]].sublayer_index == x.sublayer_index) !=
                     (b.filters[ob[i - 1]].sublayer_index == y.sublayer_index))
      return false;
    const auto ca = a.conditions_of(x), cb = b.conditions_of(y);
    for (std::size_t k = 0; k < ca.size(); ++k) {
      const condition_value &u = ca[k], &t = cb[k];
      if (u.field != t.field || u.match != t.match || u.low != t.low || u.high != t.high ||
          u.mask != t.mask || u.text != t.text)
        return false;
    }
  }
  return true;
}

constexpr action verdict_action(int v) {
  return v == 2 ? action::none : (v ? action::block : action::permit);
}

}  // namespace detail::an

/// Which layers, and which regions of their field space, change their verdict from policy `a` to `b`.
/// Exact for static filters with exact regions; a region involving a callout or an inexact filter counts as
/// changed (so that reauthorization by `affects` is never too narrow); a layer whose evaluation exceeds the
/// budget is marked `whole`.
template <Policy A, Policy B>
constexpr policy_diff diff(const A& a, const B& b, analysis_limits lim = {}) {
  using namespace detail::an;
  policy_diff d;
  for (std::size_t l = 0; l < layer_count; ++l) {
    const auto lid = static_cast<layer_id>(l);
    if (!a.has_filters_at(lid) && !b.has_filters_at(lid)) continue;
    if (same_layer(a, b, lid)) continue;
    layer_diff ld;
    ld.layer = lid;
    budget w{lim.budget * 8, lim.max_pieces};
    const space sp = space_of(lid, a, b);
    const layer_model ma = model_of(lid, sp, a, w), mb = model_of(lid, sp, b, w);
    std::vector<piece> pa, pb;
    const std::vector<box> start{box{}};
    if (!evaluate(ma, start, -1, -1, pa, w) || !evaluate(mb, start, -1, -1, pb, w)) {
      ld.whole = true;
      d.layers.push_back(std::move(ld));
      continue;
    }
    for (const auto& x : pa) {
      const int vx = verdict_of(x.st, !ma.f.empty(), ma.default_action);
      for (const auto& y : pb) {
        const int vy = verdict_of(y.st, !mb.f.empty(), mb.default_action);
        if (vx == vy && vx != 2) continue;
        box z = intersect(x.b, y.b, w);
        if (z.empty) continue;
        changed_region r;
        r.before = verdict_action(vx);
        r.after = verdict_action(vy);
        if (x.st.filter >= 0) r.before_filter = a.filters[static_cast<std::size_t>(x.st.filter)].name;
        if (y.st.filter >= 0) r.after_filter = b.filters[static_cast<std::size_t>(y.st.filter)].name;
        r.witness = point_of(z);
        r.region = std::move(z);
        ld.regions.push_back(std::move(r));
        if (ld.regions.size() > lim.max_pieces) w.out = true;
      }
      if (w.out) break;
    }
    if (w.out) {
      ld.whole = true;
      ld.regions.clear();
    }
    if (ld.whole || !ld.regions.empty()) d.layers.push_back(std::move(ld));
  }
  return d;
}

// ---- strict mode
// ---------------------------------------------------------------------------------------------

namespace error {
/// Strict mode: these filters can never decide their sublayer (higher-weight filters decide first).
template <detail::fixed_string... Filter>
void filter_is_shadowed();
/// Strict mode: wherever these filters decide, another sublayer's hard decision makes the verdict the
/// opposite.
template <detail::fixed_string... Filter>
void filter_is_overridden();
}  // namespace error

namespace detail::an {

template <std::size_t NF>
struct strict_summary {
  std::array<std::uint16_t, NF + 1> shadowed{}, overridden{};
  std::size_t n_shadowed = 0, n_overridden = 0;
};
template <auto const& P>
constexpr auto summarize() {
  strict_summary<std::remove_cvref_t<decltype(P)>::filter_count> s;
  const policy_report r = analyze(P);
  for (const auto& f : r.findings) {
    if (f.kind == anomaly::shadowed) {
      bool seen = false;
      for (std::size_t i = 0; i < s.n_shadowed; ++i) seen = seen || s.shadowed[i] == f.index;
      if (!seen) s.shadowed[s.n_shadowed++] = static_cast<std::uint16_t>(f.index);
    } else if (f.kind == anomaly::overridden) {
      s.overridden[s.n_overridden++] = static_cast<std::uint16_t>(f.index);
    }
  }
  return s;
}
template <auto const& P>
inline constexpr auto strict_summary_v = summarize<P>();

template <auto const& P, std::size_t I>
struct name_chars {
  static constexpr std::size_t n = P.filters[I].name.size();
  struct chars {
    char d[n + 1];
  };
  static constexpr chars value = [] {
    chars c{};
    for (std::size_t i = 0; i < n; ++i) c.d[i] = P.filters[I].name[i];
    c.d[n] = 0;
    return c;
  }();
  static constexpr fixed_string<n + 1> name{value.d};
};
template <auto const& P, std::size_t... I>
constexpr void report_shadowed(std::index_sequence<I...>) {
  error::filter_is_shadowed<name_chars<P, strict_summary_v<P>.shadowed[I]>::name...>();
}
template <auto const& P, std::size_t... I>
constexpr void report_overridden(std::index_sequence<I...>) {
  error::filter_is_overridden<name_chars<P, strict_summary_v<P>.overridden[I]>::name...>();
}

}  // namespace detail::an

namespace detail::an {
template <auto const& P>
constexpr bool no_shadowed() {
  constexpr auto& s = strict_summary_v<P>;
  if constexpr (s.n_shadowed > 0) report_shadowed<P>(std::make_index_sequence<s.n_shadowed>{});
  return true;
}
template <auto const& P>
constexpr bool no_overridden() {
  constexpr auto& s = strict_summary_v<P>;
  if constexpr (s.n_overridden > 0) report_overridden<P>(std::make_index_sequence<s.n_overridden>{});
  return true;
}
template <auto const& P>
inline constexpr bool no_shadowed_v = no_shadowed<P>();
template <auto const& P>
inline constexpr bool no_overridden_v = no_overridden<P>();
}  // namespace detail::an

/// Strict mode: compilation fails when the policy has shadowed or overridden filters, with one error per
/// kind naming them all (error::filter_is_shadowed<"a", "b">, error::filter_is_overridden<...>).
///   static_assert(strata::strict<my_policy>);   or, in a function:
///   strata::require_no_anomalies<my_policy>();
template <auto const& P>
inline constexpr bool strict = detail::an::no_shadowed_v<P>& detail::an::no_overridden_v<P>;
template <auto const& P>
consteval bool require_no_anomalies() {
  return strict<P>;
}

// ---- printing
// ----------------------------------------------------------------------------------------------

namespace detail::an {

inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      constexpr char hex[] = "0123456789abcdef";
      out += "\\u00";
      out += hex[(c >> 4) & 0xf];
      out += hex[c & 0xf];
    } else
      out += c;
  }
  out += '"';
}

struct shown_field {
  std::string_view name;
  std::string text;  ///< as printed in text reports
  std::string json;  ///< as a JSON value
};
/// The fields of a witness worth printing (those in `fields` that the analysis models).
inline std::vector<shown_field> witness_fields(const incoming_values& v, field_set fields, layer_id l) {
  std::vector<shown_field> out;
  for (std::size_t f = 0; f < field_count; ++f) {
    const auto fid = static_cast<field_id>(f);
    if (!fields.contains(fid) || slot_of(fid) < 0) continue;
    shown_field sf{spelling(fid), {}, {}};
    switch (kind(fid)) {
      case value_kind::integer: {
        const std::uint64_t x = integer_value(fid, v);
        sf.json = std::to_string(x);
        if (fid == field_id::flags) {
          constexpr char hex[] = "0123456789abcdef";
          std::uint64_t y = x;
          do sf.text.insert(sf.text.begin(), hex[y & 0xf]), y >>= 4;
          while (y);
          sf.text = "0x" + sf.text;
        } else {
          sf.text = sf.json;
        }
        break;
      }
      case value_kind::address:
        sf.text = to_string(address_value(fid, v), layer_family(l) == family::v4 ? family::v4 : family::v6);
        append_json_string(sf.json, sf.text);
        break;
      case value_kind::text:
        sf.text = "\"" + std::string(text_value(fid, v)) + "\"";
        append_json_string(sf.json, text_value(fid, v));
        break;
    }
    out.push_back(std::move(sf));
  }
  return out;
}

inline std::string names_text(const finding& f) {
  std::string s;
  const std::size_t shown = std::min<std::size_t>(f.by_count, f.by.size());
  for (std::size_t i = 0; i < shown; ++i) {
    if (i) s += ", ";
    s += "\"" + std::string(f.by[i]) + "\"";
  }
  if (f.by_count > shown) s += " and " + std::to_string(f.by_count - shown) + " more";
  return s;
}

}  // namespace detail::an

/// The report as text: one block per layer, one finding per line with its witness below it.
inline std::string analysis_text(const policy_report& r) {
  using namespace detail::an;
  std::string out =
      "policy analysis: " + std::to_string(r.filters) + " filters; " +
      std::to_string(r.count(anomaly::shadowed)) + " shadowed, " +
      std::to_string(r.count(anomaly::redundant)) + " redundant, " +
      std::to_string(r.count(anomaly::overridden)) + " overridden; " +
      std::to_string(r.count(anomaly::generalisation) + r.count(anomaly::correlation) + r.info_dropped) +
      " overlaps with different actions (information)";
  if (r.inconclusive) out += "; " + std::to_string(r.inconclusive) + " queries inconclusive (budget)";
  out += "\n";
  layer_id last = layer_id::none;
  for (const auto& f : r.findings) {
    if (f.layer != last) {
      out += std::string(short_identifier(f.layer)) + "\n";
      last = f.layer;
    }
    std::string line = "  " + std::string(name(f.kind));
    line.resize(18, ' ');
    line += std::string(name(f.act)) + " \"" + std::string(f.filter) + "\" (sublayer " +
            std::string(f.sublayer) + "): ";
    switch (f.kind) {
      case anomaly::shadowed:
        line += f.unmatchable ? "matches no packet"
                              : "every packet it matches is decided first by " + names_text(f);
        break;
      case anomaly::redundant:
        line += f.unmatchable ? "matches no packet" : "removing it changes no verdict";
        break;
      case anomaly::overridden:
        line += "wherever it decides its sublayer, the layer's verdict is " + std::string(name(f.verdict)) +
                " by " + names_text(f);
        break;
      case anomaly::generalisation:
        line += "matches every packet of the earlier " + names_text(f) + ", and more";
        break;
      case anomaly::correlation:
        line += "overlaps the earlier " + names_text(f);
        break;
    }
    out += line + "\n";
    if (f.has_witness) {
      out += "                  witness:";
      const auto fields = witness_fields(f.witness, f.fields, f.layer);
      if (fields.empty()) out += " any packet";
      for (const auto& sf : fields) out += " " + std::string(sf.name) + "=" + sf.text;
      out += "\n";
    }
  }
  if (r.info_dropped) out += "(" + std::to_string(r.info_dropped) + " more overlaps not listed)\n";
  return out;
}

/// The report as one JSON object.
inline std::string analysis_json(const policy_report& r) {
  using namespace detail::an;
  std::string out = "{\"filters\":" + std::to_string(r.filters) + ",\"counts\":{";
  for (int k = 0; k < 5; ++k) {
    if (k) out += ',';
    out += "\"" + std::string(name(static_cast<anomaly>(k))) +
           "\":" + std::to_string(r.count(static_cast<anomaly>(k)));
  }
  out += "},\"inconclusive\":" + std::to_string(r.inconclusive) +
         ",\"info_dropped\":" + std::to_string(r.info_dropped) + ",\"findings\":[";
  bool first = true;
  for (const auto& f : r.findings) {
    if (!first) out += ',';
    first = false;
    out += "{\"kind\":\"" + std::string(name(f.kind)) + "\",\"layer\":\"" +
           std::string(short_identifier(f.layer)) + "\",\"filter\":";
    append_json_string(out, f.filter);
    out += ",\"sublayer\":";
    append_json_string(out, f.sublayer);
    out += ",\"action\":\"" + std::string(name(f.act)) + "\",\"by\":[";
    for (std::size_t i = 0; i < std::min<std::size_t>(f.by_count, f.by.size()); ++i) {
      if (i) out += ',';
      append_json_string(out, f.by[i]);
    }
    out += "],\"by_count\":" + std::to_string(f.by_count);
    if (f.unmatchable) out += ",\"unmatchable\":true";
    if (f.kind == anomaly::overridden) out += ",\"verdict\":\"" + std::string(name(f.verdict)) + "\"";
    if (f.has_witness) {
      out += ",\"witness\":{";
      bool fw = true;
      for (const auto& sf : witness_fields(f.witness, f.fields, f.layer)) {
        if (!fw) out += ',';
        fw = false;
        out += "\"" + std::string(sf.name) + "\":" + sf.json;
      }
      out += "}";
    }
    out += "}";
  }
  out += "]}";
  return out;
}

/// The diff as text: per changed layer, each region's witness and the verdicts before and after.
inline std::string diff_text(const policy_diff& d) {
  using namespace detail::an;
  std::string out;
  if (d.empty()) return "policy diff: no layer changes its verdict for any packet\n";
  out = "policy diff: " + std::to_string(d.layers.size()) + " layers change\n";
  for (const auto& l : d.layers) {
    out += std::string(short_identifier(l.layer));
    if (l.whole) {
      out += ": not analysed (budget), every packet counts as changed\n";
      continue;
    }
    out += ": " + std::to_string(l.regions.size()) + " regions\n";
    for (const auto& r : l.regions) {
      field_set fs;
      for (const auto& dm : r.region.dims)
        for (std::size_t f = 0; f < field_count; ++f)
          if (slots.slot[f] == dm.slot) {
            fs.bits |= std::uint64_t{1} << f;
            break;
          }
      out += "  " + std::string(name(r.before)) + " -> " + std::string(name(r.after)) + "   e.g.";
      const auto fields = witness_fields(r.witness, fs, l.layer);
      if (fields.empty()) out += " any packet";
      for (const auto& sf : fields) out += " " + std::string(sf.name) + "=" + sf.text;
      out += "\n";
    }
  }
  return out;
}

}  // namespace strata
