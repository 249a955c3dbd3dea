// Conditions: field, match type, value (WFP's FWPM_FILTER_CONDITION0). Written as expressions on
// field objects (`local_port == 22`, `remote_address == "10.0.0.0/8"_v4`); the field travels in the
// condition's type so a filter can check at compile time that its layer offers it.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <string_view>

#include <strata/address.hpp>
#include <strata/field.hpp>
#include <strata/set_data.hpp>

namespace strata {

/// FWP_MATCH_TYPE, in WFP's numbering.
enum class match_type : std::uint8_t {
  equal = 0,
  greater = 1,
  less = 2,
  greater_or_equal = 3,
  less_or_equal = 4,
  range = 5,
  flags_all_set = 6,
  flags_any_set = 7,
  flags_none_set = 8,
  equal_case_insensitive = 9,
  not_equal = 10,
  prefix = 11,      ///< strings: the value *ends with* the operand (WFP's misleading name)
  not_prefix = 12,  ///< strings: the value does not end with the operand
  in_set = 13,      ///< extension: the value is in a named run-time set (strata/sets.hpp)
  not_in_set = 14,  ///< extension: the value is not in it
};

constexpr std::string_view name(match_type m) {
  constexpr std::array<std::string_view, 15> names{
      "equal",     "greater",       "less",          "greater_or_equal", "less_or_equal",
      "range",     "flags_all_set", "flags_any_set", "flags_none_set",   "equal_case_insensitive",
      "not_equal", "prefix",        "not_prefix",    "in_set",           "not_in_set"};
  return names[static_cast<std::size_t>(m)];
}

/// One condition in the flat form a policy stores. Integers live in `low.lo`/`high.lo`; addresses
/// in `low` with `mask` (an address condition is WFP's V4/V6_ADDR_MASK when `mask` is partial).
struct condition_value {
  field_id field{};
  match_type match = match_type::equal;
  family fam = family::none;  ///< family of an address operand, none otherwise
  address low{};              ///< the operand, or the range's low end
  address high{};             ///< the range's high end
  address mask{~std::uint64_t{0}, ~std::uint64_t{0}};
  std::string_view text{};  ///< string operand
};

/// An inclusive range operand: `local_port == range(49152, 65535)`.
/// A named run-time set, as a condition operand: `remote_address.in(address_set<"blocklist">)`,
/// `local_port.in(port_set<"admin-ports">)` (nft: `ip saddr @blocklist`). The name and the kind are
/// compile-time; the contents are loaded into the engine at run time (strata/sets.hpp). In a
/// condition_value: `text` is the name, `high.lo` the kind, `low.lo` the set's index in its policy and
/// `fam` the family of the filter's layer (both set by `policy()`).
template <detail::fixed_string Name, set_kind K>
struct named_set {
  static constexpr detail::fixed_string name = Name;
  static constexpr set_kind kind = K;
};
template <detail::fixed_string Name>
inline constexpr named_set<Name, set_kind::address> address_set{};
template <detail::fixed_string Name>
inline constexpr named_set<Name, set_kind::port> port_set{};

constexpr bool is_set_match(match_type m) { return m == match_type::in_set || m == match_type::not_in_set; }

template <class T>
struct range_operand {
  T low, high;
};
template <class T>
constexpr range_operand<T> range(T low, T high) {
  return {low, high};
}

/// A condition on field F. Consecutive conditions on the same field are ORed (WFP), which is what
/// `||` builds; `||` across different fields does not exist in WFP and does not compile.
template <field_id F, std::size_t N = 1>
struct condition {
  static constexpr field_id field = F;
  std::array<condition_value, N> alternatives{};

  template <std::size_t M>
  constexpr condition<F, N + M> operator||(const condition<F, M>& other) const {
    condition<F, N + M> r;
    for (std::size_t i = 0; i < N; ++i) r.alternatives[i] = alternatives[i];
    for (std::size_t i = 0; i < M; ++i) r.alternatives[N + i] = other.alternatives[i];
    return r;
  }
  template <field_id G, std::size_t M>
  requires(G != F) constexpr condition operator||(const condition<G, M>&) const {
    static_assert(G == F, "WFP ORs only conditions on the same field; write two filters instead");
    return *this;
  }
};

template <class T>
inline constexpr bool is_condition_v = false;
template <field_id F, std::size_t N>
inline constexpr bool is_condition_v<condition<F, N>> = true;

namespace detail {
template <field_id F>
constexpr condition<F> make_condition(match_type m, address low, address high = {}, family fam = family::none,
                                      address mask = {~std::uint64_t{0}, ~std::uint64_t{0}}) {
  condition<F> c;
  c.alternatives[0] = condition_value{F, m, fam, low, high, mask, {}};
  return c;
}
constexpr address int_value(std::uint64_t v) { return {0, v}; }
}  // namespace detail

template <class T>
concept integer_operand = std::integral<T> || std::is_enum_v<T>;

/// A field usable in conditions. `local_port == 22`, `flags.none_set(flag::is_fragment)`.
template <field_id F>
struct field_ref {
  static constexpr field_id id = F;
  static constexpr value_kind kind = strata::kind(F);

  // Integer fields.
  template <integer_operand T>
  requires(kind == value_kind::integer) friend constexpr condition<F> operator==(field_ref, T v) {
    return detail::make_condition<F>(match_type::equal, detail::int_value(static_cast<std::uint64_t>(v)));
  }
  template <integer_operand T>
  requires(kind == value_kind::integer) friend constexpr condition<F> operator!=(field_ref, T v) {
    return detail::make_condition<F>(match_type::not_equal, detail::int_value(static_cast<std::uint64_t>(v)));
  }
  template <integer_operand T>
  requires(kind == value_kind::integer) friend constexpr condition<F> operator>(field_ref, T v) {
    return detail::make_condition<F>(match_type::greater, detail::int_value(static_cast<std::uint64_t>(v)));
  }
  template <integer_operand T>
  requires(kind == value_kind::integer) friend constexpr condition<F> operator<(field_ref, T v) {
    return detail::make_condition<F>(match_type::less, detail::int_value(static_cast<std::uint64_t>(v)));
  }
  template <integer_operand T>
  requires(kind == value_kind::integer) friend constexpr condition<F> operator>=(field_ref, T v) {
    return detail::make_condition<F>(match_type::greater_or_equal,
                                     detail::int_value(static_cast<std::uint64_t>(v)));
  }
  template <integer_operand T>
  requires(kind == value_kind::integer) friend constexpr condition<F> operator<=(field_ref, T v) {
    return detail::make_condition<F>(match_type::less_or_equal,
                                     detail::int_value(static_cast<std::uint64_t>(v)));
  }
  template <integer_operand T>
  requires(kind == value_kind::integer) friend constexpr condition<F> operator==(field_ref,
                                                                                 range_operand<T> r) {
    return detail::make_condition<F>(match_type::range, detail::int_value(static_cast<std::uint64_t>(r.low)),
                                     detail::int_value(static_cast<std::uint64_t>(r.high)));
  }
  template <integer_operand T>
  requires(kind == value_kind::integer) constexpr condition<F> all_set(T bits) const {
    return detail::make_condition<F>(match_type::flags_all_set,
                                     detail::int_value(static_cast<std::uint64_t>(bits)));
  }
  template <integer_operand T>
  requires(kind == value_kind::integer) constexpr condition<F> any_set(T bits) const {
    return detail::make_condition<F>(match_type::flags_any_set,
                                     detail::int_value(static_cast<std::uint64_t>(bits)));
  }
  template <integer_operand T>
  requires(kind == value_kind::integer) constexpr condition<F> none_set(T bits) const {
    return detail::make_condition<F>(match_type::flags_none_set,
                                     detail::int_value(static_cast<std::uint64_t>(bits)));
  }

  // Address fields: a literal with "/len" matches as address-and-mask, a plain one as equality.
  friend constexpr condition<F> operator==(field_ref,
                                           strata::prefix p) requires(kind == value_kind::address) {
    return detail::make_condition<F>(match_type::equal, p.addr, {}, p.fam, p.mask());
  }
  friend constexpr condition<F> operator!=(field_ref,
                                           strata::prefix p) requires(kind == value_kind::address) {
    return detail::make_condition<F>(match_type::not_equal, p.addr, {}, p.fam, p.mask());
  }
  friend constexpr condition<F> operator==(field_ref,
                                           range_operand<strata::prefix> r) requires(kind ==
                                                                                     value_kind::address) {
    return detail::make_condition<F>(match_type::range, r.low.addr, r.high.addr, r.low.fam);
  }

  // Run-time sets: an address field takes an address set, an integer field (ports, ICMP type/code) a
  // port set.
  template <detail::fixed_string Name, set_kind K>
  constexpr condition<F> in(named_set<Name, K>) const {
    static_assert(kind != value_kind::text, "a run-time set holds addresses or ports, not strings");
    static_assert((kind == value_kind::address) == (K == set_kind::address),
                  "an address field takes an address_set<\"name\">, a port field a port_set<\"name\">");
    condition<F> c =
        detail::make_condition<F>(match_type::in_set, {}, detail::int_value(static_cast<std::uint64_t>(K)));
    c.alternatives[0].text = named_set<Name, K>::name.view();
    return c;
  }
  template <detail::fixed_string Name, set_kind K>
  constexpr condition<F> not_in(named_set<Name, K> s) const {
    condition<F> c = in(s);
    c.alternatives[0].match = match_type::not_in_set;
    return c;
  }

  // String fields.
  friend constexpr condition<F> operator==(field_ref, std::string_view s) requires(kind == value_kind::text) {
    condition<F> c;
    c.alternatives[0] = condition_value{F, match_type::equal, family::none, {}, {}, {}, s};
    return c;
  }
  constexpr condition<F> equal_case_insensitive(std::string_view s) const requires(kind == value_kind::text) {
    condition<F> c;
    c.alternatives[0] = condition_value{F, match_type::equal_case_insensitive, family::none, {}, {}, {}, s};
    return c;
  }
  /// WFP's FWP_MATCH_PREFIX: true when the value *ends with* `s`.
  constexpr condition<F> prefix(std::string_view s) const requires(kind == value_kind::text) {
    condition<F> c;
    c.alternatives[0] = condition_value{F, match_type::prefix, family::none, {}, {}, {}, s};
    return c;
  }
  constexpr condition<F> not_prefix(std::string_view s) const requires(kind == value_kind::text) {
    condition<F> c;
    c.alternatives[0] = condition_value{F, match_type::not_prefix, family::none, {}, {}, {}, s};
    return c;
  }
};

/// The field objects, named after WFP's conditions.
inline namespace fields {
#define STRATA_X(id, wfp, kind) inline constexpr field_ref<field_id::id> id{};
STRATA_FIELDS(STRATA_X)
#undef STRATA_X
// Short names for the common ones.
inline constexpr field_ref<field_id::ip_local_port> local_port{};
inline constexpr field_ref<field_id::ip_remote_port> remote_port{};
inline constexpr field_ref<field_id::ip_local_address> local_address{};
inline constexpr field_ref<field_id::ip_remote_address> remote_address{};
/// ICMP type and code sit in the port slots (FWPM_CONDITION_ICMP_TYPE is IP_LOCAL_PORT).
inline constexpr field_ref<field_id::ip_local_port> icmp_type{};
inline constexpr field_ref<field_id::ip_remote_port> icmp_code{};
}  // namespace fields

namespace detail {
constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}
constexpr bool ends_with(std::string_view v, std::string_view s) {
  return v.size() >= s.size() && v.substr(v.size() - s.size()) == s;
}
}  // namespace detail

/// Tests one condition against a value: the single definition both the compiled pipeline (with a
/// constant condition, so the compiler folds it) and the generic evaluator use.
constexpr bool test_integer(const condition_value& c, std::uint64_t v) {
  const std::uint64_t a = c.low.lo;
  switch (c.match) {
    case match_type::equal:
      return v == a;
    case match_type::not_equal:
      return v != a;
    case match_type::greater:
      return v > a;
    case match_type::less:
      return v < a;
    case match_type::greater_or_equal:
      return v >= a;
    case match_type::less_or_equal:
      return v <= a;
    case match_type::range:
      return a <= v && v <= c.high.lo;
    case match_type::flags_all_set:
      return (v & a) == a;
    case match_type::flags_any_set:
      return (v & a) != 0;
    case match_type::flags_none_set:
      return (v & a) == 0;
    default:
      return false;
  }
}
constexpr bool test_address(const condition_value& c, address v) {
  switch (c.match) {
    case match_type::equal:
      return (v & c.mask) == c.low;
    case match_type::not_equal:
      return (v & c.mask) != c.low;
    case match_type::greater:
      return v > c.low;
    case match_type::less:
      return v < c.low;
    case match_type::greater_or_equal:
      return v >= c.low;
    case match_type::less_or_equal:
      return v <= c.low;
    case match_type::range:
      return c.low <= v && v <= c.high;
    default:
      return false;
  }
}
constexpr bool test_text(const condition_value& c, std::string_view v) {
  switch (c.match) {
    case match_type::equal:
      return v == c.text;
    case match_type::not_equal:
      return v != c.text;
    case match_type::equal_case_insensitive:
      return detail::iequal(v, c.text);
    case match_type::prefix:
      return detail::ends_with(v, c.text);
    case match_type::not_prefix:
      return !detail::ends_with(v, c.text);
    default:
      return false;
  }
}
/// A set condition. Without sets (`v.sets` null, as in constant evaluation) every set is empty.
constexpr bool test_set(const condition_value& c, const incoming_values& v) {
  const bool in = v.sets != nullptr && detail::set_member(v.sets[c.low.lo], c.field, c.fam, v);
  return c.match == match_type::in_set ? in : !in;
}
/// Generic (run-time field) form.
constexpr bool test(const condition_value& c, const incoming_values& v) {
  if (is_set_match(c.match)) return test_set(c, v);
  switch (kind(c.field)) {
    case value_kind::integer:
      return test_integer(c, integer_value(c.field, v));
    case value_kind::address:
      return test_address(c, address_value(c.field, v));
    case value_kind::text:
      return test_text(c, text_value(c.field, v));
  }
  return false;
}

}  // namespace strata
