// Filters and sublayers (WFP's FWPM_FILTER0 and FWPM_SUBLAYER0): a stable name, a layer, a
// sublayer, a weight, conditions, an action and flags. A filter is written as
//
//   filter<"ssh-from-lan", layer::ale_auth_recv_accept_v4>(admin, weight(15), action::permit,
//                                                          clear_action_right, local_port == 22);
//
// and every mistake the compiler can see is reported with the filter's name.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <strata/condition.hpp>
#include <strata/detail/fixed_string.hpp>
#include <strata/layer.hpp>

namespace strata {

/// FWP_ACTION_TYPE, plus `none` for "no decision" in results.
enum class action : std::uint8_t {
  permit,
  block,
  continue_,            ///< FWP_ACTION_CONTINUE (non-terminating)
  callout_terminating,  ///< the callout must answer permit or block
  callout_inspection,   ///< the callout is told, and the filter always continues
  callout_unknown,      ///< the callout may answer permit, block or continue
  none,                 ///< in results: nothing decided
};

constexpr std::string_view name(action a) {
  constexpr std::array<std::string_view, 7> names{
      "permit", "block", "continue", "callout_terminating", "callout_inspection", "callout_unknown", "none"};
  return names[static_cast<std::size_t>(a)];
}

/// A sublayer: a named group of filters with a 16-bit weight; every sublayer of a layer is
/// evaluated, from the highest weight to the lowest.
struct sublayer {
  std::string_view name;
  std::uint16_t weight = 0;
  friend constexpr bool operator==(const sublayer&, const sublayer&) = default;
};

/// WFP's FWPM_SUBLAYER_UNIVERSAL, where filters without a sublayer go. Its real weight is not
/// published; strata gives it the middle of the range so that users can place theirs around it.
inline constexpr sublayer universal_sublayer{"universal", 0x8000};

/// A filter weight: a range 0–15 (the top four bits, the rest automatic), exact, or automatic.
struct weight_spec {
  enum class form : std::uint8_t { automatic, range, exact } kind = form::automatic;
  std::uint64_t value = 0;
  friend constexpr bool operator==(const weight_spec&, const weight_spec&) = default;
};
/// `weight(15)`: WFP's FWP_UINT8 weight range; 0–15.
constexpr weight_spec weight(std::uint64_t range_0_to_15) {
  return {weight_spec::form::range, range_0_to_15};
}
/// `exact_weight(0x0123...)`: WFP's FWP_UINT64 weight, taken as is.
constexpr weight_spec exact_weight(std::uint64_t w) { return {weight_spec::form::exact, w}; }

/// Filter flags (FWPM_FILTER_FLAG_*).
struct filter_flags {
  std::uint16_t bits = 0;
  constexpr filter_flags operator|(filter_flags o) const {
    return {static_cast<std::uint16_t>(bits | o.bits)};
  }
  constexpr bool has(filter_flags o) const { return (bits & o.bits) == o.bits && o.bits != 0; }
  friend constexpr bool operator==(filter_flags, filter_flags) = default;
};
/// FWPM_FILTER_FLAG_CLEAR_ACTION_RIGHT: the filter's permit is hard (lower sublayers cannot
/// override it, only a callout veto can).
inline constexpr filter_flags clear_action_right{0x8};
/// Shorter spelling of clear_action_right.
inline constexpr filter_flags hard{0x8};
/// FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED.
inline constexpr filter_flags permit_if_callout_unregistered{0x10};

/// What a callout answers: an action, and whether it clears the write right (makes it hard).
struct callout_answer {
  action act = action::continue_;
  bool clear_action_right = false;
  constexpr callout_answer() = default;
  constexpr callout_answer(action a, bool clear = false) : act(a), clear_action_right(clear) {}
};
/// A callout's classify function: the layer's values and whether the write right is still set.
using callout_fn = callout_answer (*)(const incoming_values&, bool write_right);

/// Marks a callout filter whose callout is not registered.
struct unregistered_callout_t {};
inline constexpr unregistered_callout_t unregistered_callout{};

template <action Kind, class F>
struct callout_action {
  static constexpr action kind = Kind;
  F function;
};
template <class T>
inline constexpr bool is_callout_action_v = false;
template <action Kind, class F>
inline constexpr bool is_callout_action_v<callout_action<Kind, F>> = true;

template <class F>
constexpr callout_action<action::callout_terminating, F> callout_terminating(F f) {
  return {f};
}
template <class F>
constexpr callout_action<action::callout_inspection, F> callout_inspection(F f) {
  return {f};
}
template <class F>
constexpr callout_action<action::callout_unknown, F> callout_unknown(F f) {
  return {f};
}

/// One filter in the flat form a policy stores.
struct filter_value {
  std::string_view name{};
  layer_id layer = layer_id::none;
  sublayer sub = universal_sublayer;
  weight_spec weight{};
  std::uint64_t effective_weight = 0;
  action act = action::block;
  callout_fn callout = nullptr;
  filter_flags flags{};
  std::uint16_t first_condition = 0;
  std::uint16_t condition_count = 0;
  std::uint16_t sublayer_index = 0;
  std::uint16_t declaration = 0;
};

/// A filter as written, before a policy gathers it: its name travels in the type so that a later
/// diagnostic (a duplicate name) can show it.
template <detail::fixed_string Name, std::size_t NConditions>
struct filter_spec {
  static constexpr auto name = Name;
  filter_value value{};
  std::array<condition_value, NConditions> conditions{};
};

template <class T>
inline constexpr bool is_filter_spec_v = false;
template <detail::fixed_string Name, std::size_t N>
inline constexpr bool is_filter_spec_v<filter_spec<Name, N>> = true;

/// A field as a type, so that diagnostics can name it.
template <field_id F>
struct field_c {
  static constexpr field_id id = F;
};

// Error reports. Each is declared and never defined: the compiler stops at the call and prints the
// template arguments, which name the filter, the field and the layer.
namespace error {
template <detail::fixed_string Filter, class Field, class Layer>
void field_is_not_offered_at_layer();
template <detail::fixed_string Filter, class Field, class Layer>
void address_family_does_not_match_layer();
template <detail::fixed_string Filter>
void weight_range_must_be_0_to_15();
template <detail::fixed_string Filter, class Callout>
void callout_is_not_callable_with_incoming_values();
template <detail::fixed_string Filter>
void filter_has_no_action();
template <detail::fixed_string Filter>
void filter_has_two_actions();
template <detail::fixed_string Filter, class Argument>
void filter_argument_is_not_a_sublayer_weight_action_flag_or_condition();
template <detail::fixed_string Filter>
void filter_name_is_empty();
template <detail::fixed_string Filter>
void sublayer_name_is_empty();
template <detail::fixed_string Filter>
void filter_has_too_many_conditions();
template <detail::fixed_string Filter>
void permit_if_callout_unregistered_needs_a_terminating_or_unknown_callout();
}  // namespace error

namespace detail {

template <class T>
constexpr std::size_t condition_count_of() {
  if constexpr (is_condition_v<T>)
    return std::tuple_size_v<decltype(T::alternatives)>;
  else
    return 0;
}

template <class F>
constexpr callout_fn to_callout_fn(F f) {
  if constexpr (std::is_convertible_v<F, callout_fn>) {
    return static_cast<callout_fn>(f);
  } else if constexpr (std::is_invocable_v<F, const incoming_values&, bool>) {
    return +[](const incoming_values& v, bool write) -> callout_answer { return F{}(v, write); };
  } else {
    return +[](const incoming_values& v, bool) -> callout_answer { return F{}(v); };
  }
}

template <class F>
concept usable_callout = std::is_convertible_v<F, callout_fn> ||
    (std::is_default_constructible_v<F> && (
                                               requires(F f, const incoming_values& v) {
                                                 { f(v, true) } -> std::convertible_to<callout_answer>;
                                               } ||
                                               requires(F f, const incoming_values& v) {
                                                 { f(v) } -> std::convertible_to<callout_answer>;
                                               }));

// Specificity of a condition in bits, for automatic weights ("more specific first").
constexpr std::uint64_t specificity(const condition_value& c) {
  auto ones = [](address m) {
    std::uint64_t n = 0;
    for (std::uint64_t x = m.hi; x; x &= x - 1) ++n;
    for (std::uint64_t x = m.lo; x; x &= x - 1) ++n;
    return n;
  };
  switch (c.match) {
    case match_type::equal:
      // The prefix length: a v4 mask holds its 32 bits in the low word, a v6 mask all 128.
      if (kind(c.field) == value_kind::address) return ones(c.mask);
      return 16;
    case match_type::range: {
      std::uint64_t span = c.high.lo - c.low.lo, bits = 0;
      while (span) span >>= 1, ++bits;
      return bits >= 16 ? 1 : 16 - bits;
    }
    default:
      return 1;
  }
}

template <fixed_string Name, Layer L, class Spec, class A>
constexpr void take_filter_argument(Spec& spec, std::size_t& next, const A& a) {
  constexpr family layer_fam = L::address_family;
  if constexpr (std::is_same_v<A, sublayer>) {
    spec.value.sub = a;
    if (a.name.empty()) error::sublayer_name_is_empty<Name>();
  } else if constexpr (std::is_same_v<A, weight_spec>) {
    spec.value.weight = a;
    if (a.kind == weight_spec::form::range && a.value > 15) error::weight_range_must_be_0_to_15<Name>();
  } else if constexpr (std::is_same_v<A, action>) {
    spec.value.act = a;
  } else if constexpr (std::is_same_v<A, filter_flags>) {
    spec.value.flags = spec.value.flags | a;
  } else if constexpr (is_callout_action_v<A>) {
    spec.value.act = A::kind;
    using F = decltype(a.function);
    if constexpr (std::is_same_v<F, unregistered_callout_t>) {
      spec.value.callout = nullptr;
    } else if constexpr (!usable_callout<F>) {
      error::callout_is_not_callable_with_incoming_values<Name, F>();
    } else {
      spec.value.callout = to_callout_fn(a.function);
    }
  } else if constexpr (is_condition_v<A>) {
    if constexpr (!offers(L::id, A::field))
      error::field_is_not_offered_at_layer<Name, field_c<A::field>, L>();
    for (const auto& alt : a.alternatives) {
      if (alt.fam != family::none && layer_fam != family::none && alt.fam != layer_fam)
        error::address_family_does_not_match_layer<Name, field_c<A::field>, L>();
      spec.conditions[next++] = alt;
    }
  } else {
    error::filter_argument_is_not_a_sublayer_weight_action_flag_or_condition<Name, A>();
  }
}

}  // namespace detail

/// Builds a filter. Arguments, in any order: a sublayer, a weight, an action (or a callout), flags,
/// and conditions. The layer is a type from strata::layer.
template <detail::fixed_string Name, Layer L, class... Args>
consteval auto filter(Args... args) {
  constexpr std::size_t n_conditions =
      (std::size_t{0} + ... + detail::condition_count_of<Args>());  // few args
  constexpr std::size_t n_actions =
      (std::size_t{0} + ... +
       (std::is_same_v<Args, action> || is_callout_action_v<Args> ? std::size_t{1} : std::size_t{0}));
  if constexpr (Name.size() == 0) error::filter_name_is_empty<Name>();
  if constexpr (n_actions == 0) error::filter_has_no_action<Name>();
  if constexpr (n_actions > 1) error::filter_has_two_actions<Name>();
  if constexpr (n_conditions > 0xffff) error::filter_has_too_many_conditions<Name>();

  filter_spec<Name, n_conditions> spec;
  spec.value.name = spec.name.view();
  spec.value.layer = L::id;
  spec.value.condition_count = static_cast<std::uint16_t>(n_conditions);
  std::size_t next = 0;
  (detail::take_filter_argument<Name, L>(spec, next, args), ...);

  if (spec.value.flags.has(permit_if_callout_unregistered) && spec.value.act != action::callout_terminating &&
      spec.value.act != action::callout_unknown)
    error::permit_if_callout_unregistered_needs_a_terminating_or_unknown_callout<Name>();

  // Effective weight (WFP: exact as given; a range in the top four bits; automatic below 2^60).
  std::uint64_t auto_bits = 0;
  for (const auto& c : spec.conditions) auto_bits += detail::specificity(c);
  const std::uint64_t auto60 = (auto_bits > 0xfffff ? 0xfffff : auto_bits) << 40;
  switch (spec.value.weight.kind) {
    case weight_spec::form::exact:
      spec.value.effective_weight = spec.value.weight.value;
      break;
    case weight_spec::form::range:
      spec.value.effective_weight = (spec.value.weight.value << 60) | auto60;
      break;
    case weight_spec::form::automatic:
      spec.value.effective_weight = auto60;
      break;
  }
  return spec;
}

}  // namespace strata
