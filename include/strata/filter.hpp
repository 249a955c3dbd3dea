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
#include <tuple>
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

// A filter is built in two parts, so that the compile time of a large policy stays low: what does not
// depend on the filter's name (checking the arguments' types, filling in the values, the weight) is a
// template of the layer and the argument types only, shared by every filter of the same shape; the
// name-dependent part (filter<Name, L>) only reports errors with the name, and costs nothing more.

/// Type-level mistakes in a filter's arguments, found once per shape.
enum class argument_error : std::uint8_t { none, not_an_argument, field_not_offered, callout_not_callable };
template <Layer L, class A>
constexpr argument_error argument_type_error() {
  if constexpr (std::is_same_v<A, sublayer> || std::is_same_v<A, weight_spec> || std::is_same_v<A, action> ||
                std::is_same_v<A, filter_flags>) {
    return argument_error::none;
  } else if constexpr (is_callout_action_v<A>) {
    using F = decltype(A::function);
    if constexpr (std::is_same_v<F, unregistered_callout_t> || usable_callout<F>)
      return argument_error::none;
    else
      return argument_error::callout_not_callable;
  } else if constexpr (is_condition_v<A>) {
    return offers(L::id, A::field) ? argument_error::none : argument_error::field_not_offered;
  } else {
    return argument_error::not_an_argument;
  }
}

/// What the argument types say about a filter: condition and action counts, the first bad argument.
struct filter_shape {
  std::size_t conditions = 0;
  std::size_t actions = 0;
  std::size_t bad_argument = 0;  ///< index of the first argument with a type error, if `error`
  argument_error error = argument_error::none;
};
template <Layer L, class... Args>
consteval filter_shape shape_of() {
  filter_shape s;
  const std::size_t conditions[] = {0, condition_count_of<Args>()...};
  const bool actions[] = {false, (std::is_same_v<Args, action> || is_callout_action_v<Args>)...};
  const argument_error errors[] = {argument_error::none, argument_type_error<L, Args>()...};
  for (std::size_t i = 1; i <= sizeof...(Args); ++i) {
    s.conditions += conditions[i];
    s.actions += actions[i] ? 1 : 0;
    if (s.error == argument_error::none && errors[i] != argument_error::none) {
      s.error = errors[i];
      s.bad_argument = i - 1;
    }
  }
  return s;
}

/// Reports a type-level mistake with the filter's name (instantiated only for a bad filter).
template <fixed_string Name, Layer L, class A>
consteval void report_argument_type_error() {
  if constexpr (argument_type_error<L, A>() == argument_error::callout_not_callable)
    error::callout_is_not_callable_with_incoming_values<Name, decltype(A::function)>();
  else if constexpr (argument_type_error<L, A>() == argument_error::field_not_offered)
    error::field_is_not_offered_at_layer<Name, field_c<A::field>, L>();
  else
    error::filter_argument_is_not_a_sublayer_weight_action_flag_or_condition<Name, A>();
}

/// Value-level mistakes, found while the filter is built.
enum class value_error : std::uint8_t {
  none,
  sublayer_name_is_empty,
  weight_range_must_be_0_to_15,
  address_family_does_not_match_layer,
  permit_if_callout_unregistered_needs_a_terminating_or_unknown_callout,
};
struct build_result {
  value_error error = value_error::none;
  std::size_t argument = 0;  ///< the argument at fault
};

template <Layer L, class A>
constexpr void take_filter_argument(filter_value& f, condition_value* conditions, std::size_t& next,
                                    const A& a, std::size_t index, build_result& r) {
  auto fail = [&](value_error e) {
    if (r.error == value_error::none) r = {e, index};
  };
  if constexpr (std::is_same_v<A, sublayer>) {
    f.sub = a;
    if (a.name.empty()) fail(value_error::sublayer_name_is_empty);
  } else if constexpr (std::is_same_v<A, weight_spec>) {
    f.weight = a;
    if (a.kind == weight_spec::form::range && a.value > 15) fail(value_error::weight_range_must_be_0_to_15);
  } else if constexpr (std::is_same_v<A, action>) {
    f.act = a;
  } else if constexpr (std::is_same_v<A, filter_flags>) {
    f.flags = f.flags | a;
  } else if constexpr (is_callout_action_v<A>) {
    f.act = A::kind;
    using F = decltype(a.function);
    if constexpr (std::is_same_v<F, unregistered_callout_t>)
      f.callout = nullptr;
    else if constexpr (usable_callout<F>)
      f.callout = to_callout_fn(a.function);
  } else if constexpr (is_condition_v<A>) {
    constexpr family layer_fam = L::address_family;
    for (const auto& alt : a.alternatives) {
      if (alt.fam != family::none && layer_fam != family::none && alt.fam != layer_fam)
        fail(value_error::address_family_does_not_match_layer);
      conditions[next++] = alt;
    }
  }
}

/// Fills in a filter's values from its arguments and computes its effective weight: the same
/// instantiation for every filter of the same layer and argument types.
template <Layer L, class... Args>
constexpr build_result build_filter(filter_value& f, condition_value* conditions, std::size_t n_conditions,
                                    const Args&... args) {
  build_result r;
  f.layer = L::id;
  f.condition_count = static_cast<std::uint16_t>(n_conditions);
  std::size_t next = 0;
  std::size_t index = 0;
  (take_filter_argument<L>(f, conditions, next, args, index++, r), ...);

  if (r.error == value_error::none && f.flags.has(permit_if_callout_unregistered) &&
      f.act != action::callout_terminating && f.act != action::callout_unknown)
    r = {value_error::permit_if_callout_unregistered_needs_a_terminating_or_unknown_callout, 0};

  // Effective weight (WFP: exact as given; a range in the top four bits; automatic below 2^60).
  std::uint64_t auto_bits = 0;
  for (std::size_t i = 0; i < n_conditions; ++i) auto_bits += specificity(conditions[i]);
  const std::uint64_t auto60 = (auto_bits > 0xfffff ? 0xfffff : auto_bits) << 40;
  switch (f.weight.kind) {
    case weight_spec::form::exact:
      f.effective_weight = f.weight.value;
      break;
    case weight_spec::form::range:
      f.effective_weight = (f.weight.value << 60) | auto60;
      break;
    case weight_spec::form::automatic:
      f.effective_weight = auto60;
      break;
  }
  return r;
}

template <class A>
struct field_of {
  using type = void;
};
template <field_id F, std::size_t N>
struct field_of<condition<F, N>> {
  using type = field_c<F>;
};

}  // namespace detail

/// Builds a filter. Arguments, in any order: a sublayer, a weight, an action (or a callout), flags,
/// and conditions. The layer is a type from strata::layer.
template <detail::fixed_string Name, Layer L, class... Args>
consteval auto filter(Args... args) {
  constexpr detail::filter_shape shape = detail::shape_of<L, Args...>();
  if constexpr (Name.size() == 0) error::filter_name_is_empty<Name>();
  if constexpr (shape.actions == 0) error::filter_has_no_action<Name>();
  if constexpr (shape.actions > 1) error::filter_has_two_actions<Name>();
  if constexpr (shape.conditions > 0xffff) error::filter_has_too_many_conditions<Name>();
  if constexpr (shape.error != detail::argument_error::none)
    detail::report_argument_type_error<Name, L,
                                       std::tuple_element_t<shape.bad_argument, std::tuple<Args...>>>();

  filter_spec<Name, shape.conditions> spec;
  const detail::build_result r =
      detail::build_filter<L>(spec.value, spec.conditions.data(), shape.conditions, args...);
  spec.value.name = spec.name.view();
  using enum detail::value_error;
  switch (r.error) {
    case none:
      break;
    case sublayer_name_is_empty:
      error::sublayer_name_is_empty<Name>();
      break;
    case weight_range_must_be_0_to_15:
      error::weight_range_must_be_0_to_15<Name>();
      break;
    case permit_if_callout_unregistered_needs_a_terminating_or_unknown_callout:
      error::permit_if_callout_unregistered_needs_a_terminating_or_unknown_callout<Name>();
      break;
    case address_family_does_not_match_layer: {
      // The field at fault, as a type for the diagnostic: the argument's index picks it.
      std::size_t i = 0;
      [[maybe_unused]] const bool reported[] = {
          false,
          (i++ == r.argument && !std::is_void_v<typename detail::field_of<Args>::type>
               ? (error::address_family_does_not_match_layer<Name, typename detail::field_of<Args>::type,
                                                             L>(),
                  true)
               : false)...};
      break;
    }
  }
  return spec;
}

}  // namespace strata
