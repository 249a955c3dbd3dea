// Policies: sublayers + filters + a default action, gathered at compile time into flat tables
// (filters, conditions, and each layer's evaluation order), so that neither the compiled pipeline
// nor the analysis repeats whole-policy algorithms per layer.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>

#include <strata/filter.hpp>

namespace strata {

/// The policy's default action: what a layer decides when it has filters and none decided.
struct default_action_t {
  action value = action::permit;
};
inline constexpr default_action_t default_permit{action::permit};
inline constexpr default_action_t default_block{action::block};

/// A compiled-in policy: flat, constexpr tables. NF filters, NC conditions.
template <std::size_t NF, std::size_t NC>
struct policy_value {
  static constexpr std::size_t filter_count = NF;
  static constexpr std::size_t condition_count = NC;

  std::array<filter_value, NF> filters{};
  std::array<condition_value, NC> conditions{};
  /// Distinct sublayers, highest weight first (ties: first declared first).
  std::array<sublayer, NF + 1> sublayers{};
  std::size_t sublayer_count = 0;
  /// Filter indexes grouped by layer, each layer in evaluation order: sublayer weight descending,
  /// then effective weight descending, then declaration order.
  std::array<std::uint16_t, NF> order{};
  std::array<std::uint16_t, layer_count + 1> layer_begin{};
  action default_action = action::permit;
  /// Distinct run-time sets the conditions name (condition.hpp `named_set`), numbered in order of use.
  std::size_t set_count = 0;

  constexpr std::span<const std::uint16_t> evaluation_order(layer_id l) const {
    const auto i = static_cast<std::size_t>(l);
    return std::span<const std::uint16_t>(order.data() + layer_begin[i], order.data() + layer_begin[i + 1]);
  }
  constexpr bool has_filters_at(layer_id l) const {
    const auto i = static_cast<std::size_t>(l);
    return layer_begin[i] != layer_begin[i + 1];
  }
  constexpr std::span<const condition_value> conditions_of(const filter_value& f) const {
    return std::span<const condition_value>(conditions.data() + f.first_condition, f.condition_count);
  }
  /// Index of the filter with this name, or -1.
  constexpr int find(std::string_view name) const {
    for (std::size_t i = 0; i < NF; ++i)
      if (filters[i].name == name) return static_cast<int>(i);
    return -1;
  }
  constexpr std::span<const sublayer> sublayer_list() const {
    return std::span<const sublayer>(sublayers.data(), sublayer_count);
  }
};

template <class T>
inline constexpr bool is_policy_v = false;
template <std::size_t NF, std::size_t NC>
inline constexpr bool is_policy_v<policy_value<NF, NC>> = true;
/// The Policy concept: what `policy(...)` returns.
template <class T>
concept Policy = is_policy_v<std::remove_cvref_t<T>>;

namespace error {
template <detail::fixed_string Filter>
void duplicate_filter_name();
template <detail::fixed_string Filter>
void filter_uses_a_sublayer_name_already_declared_with_another_weight();
template <class Argument>
void policy_argument_is_not_a_filter_sublayer_or_default_action();
void sublayer_declared_twice_with_different_weights();
}  // namespace error

namespace detail {

constexpr std::size_t sum(std::initializer_list<std::size_t> values) {
  std::size_t n = 0;
  for (std::size_t v : values) n += v;
  return n;
}

/// FNV-1a of a name.
constexpr std::uint64_t name_hash(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

/// What policy() needs to know of an argument's type, in one small class per type (not one function
/// template per question: a thousand filters are a thousand types).
template <class A>
struct policy_argument {
  static constexpr std::size_t filters = 0;
  static constexpr std::size_t conditions = 0;
  static constexpr std::string_view name{};
};
template <fixed_string Name, std::size_t N>
struct policy_argument<filter_spec<Name, N>> {
  static constexpr std::size_t filters = 1;
  static constexpr std::size_t conditions = N;
  static constexpr std::string_view name = filter_spec<Name, N>::name.view();
};

/// The argument index of the first filter whose name an earlier filter has, or `none`: found from the
/// types, so that the report is instantiated only for a policy that has a duplicate.
inline constexpr std::size_t no_duplicate = ~std::size_t{0};
template <class... Args>
consteval std::size_t first_duplicate_name() {
  constexpr std::size_t n = sizeof...(Args);
  const std::string_view names[] = {std::string_view{}, policy_argument<Args>::name...};
  // Sort the names' hashes once and compare neighbours (cheap enough for clang's default constexpr
  // step limit with a thousand filters); only equal hashes compare the names.
  std::array<std::pair<std::uint64_t, std::size_t>, n> hashes{};
  std::size_t m = 0;
  for (std::size_t i = 1; i <= n; ++i)
    if (!names[i].empty()) hashes[m++] = {name_hash(names[i]), i - 1};
  std::sort(hashes.begin(), hashes.begin() + static_cast<std::ptrdiff_t>(m));
  std::size_t first = no_duplicate;
  for (std::size_t i = 1; i < m; ++i) {
    for (std::size_t j = i; j > 0 && hashes[j - 1].first == hashes[i].first; --j) {
      const std::size_t a = hashes[j - 1].second, b = hashes[i].second;
      if (names[a + 1] == names[b + 1]) first = std::min(first, std::max(a, b));
    }
  }
  return first;
}

template <class P>
struct policy_builder {
  P& p;
  std::size_t next_filter = 0;
  std::size_t next_condition = 0;

  // Returns the sublayer's index, adding it when new; -1 when the name exists with another weight.
  constexpr int add_sublayer(const sublayer& s) {
    for (std::size_t i = 0; i < p.sublayer_count; ++i) {
      if (p.sublayers[i].name == s.name) return p.sublayers[i].weight == s.weight ? static_cast<int>(i) : -1;
    }
    p.sublayers[p.sublayer_count] = s;
    return static_cast<int>(p.sublayer_count++);
  }
};

template <class P, class A>
constexpr void take_policy_argument(policy_builder<P>& b, const A& a) {
  if constexpr (std::is_same_v<A, sublayer>) {
    if (b.add_sublayer(a) < 0) error::sublayer_declared_twice_with_different_weights();
  } else if constexpr (std::is_same_v<A, default_action_t>) {
    b.p.default_action = a.value;
  } else if constexpr (policy_argument<A>::filters == 1) {
    filter_value f = a.value;
    const int s = b.add_sublayer(f.sub);
    if (s < 0) error::filter_uses_a_sublayer_name_already_declared_with_another_weight<A::name>();
    f.first_condition = static_cast<std::uint16_t>(b.next_condition);
    f.declaration = static_cast<std::uint16_t>(b.next_filter);
    for (const auto& c : a.conditions) b.p.conditions[b.next_condition++] = c;
    b.p.filters[b.next_filter++] = f;
  } else {
    error::policy_argument_is_not_a_filter_sublayer_or_default_action<A>();
  }
}

/// Numbers the run-time sets (a condition's `low.lo`, first use first) and gives each set condition
/// the family of its filter's layer (an IPv4 value and an IPv6 one may be equal as 128-bit numbers).
template <class P>
constexpr void number_sets(P& p) {
  for (const auto& f : p.filters) {
    for (std::size_t i = f.first_condition; i < std::size_t{f.first_condition} + f.condition_count; ++i) {
      condition_value& c = p.conditions[i];
      if (!is_set_match(c.match)) continue;
      c.fam = layer_family(f.layer);
      std::size_t index = p.set_count;
      for (std::size_t j = 0; j < i; ++j)
        if (is_set_match(p.conditions[j].match) && p.conditions[j].text == c.text) {
          index = static_cast<std::size_t>(p.conditions[j].low.lo);
          break;
        }
      if (index == p.set_count) ++p.set_count;
      c.low.lo = index;
    }
  }
}

template <class P>
constexpr void compute_order(P& p) {
  // Sublayers: highest weight first; ties keep their declaration order (stable).
  {
    std::array<std::uint16_t, P::filter_count + 1> idx{};
    for (std::size_t i = 0; i < p.sublayer_count; ++i) idx[i] = static_cast<std::uint16_t>(i);
    for (std::size_t i = 1; i < p.sublayer_count; ++i)  // insertion sort: stable, and sublayers are few
      for (std::size_t j = i; j > 0 && p.sublayers[idx[j]].weight > p.sublayers[idx[j - 1]].weight; --j)
        std::swap(idx[j], idx[j - 1]);
    std::array<sublayer, P::filter_count + 1> sorted{};
    for (std::size_t i = 0; i < p.sublayer_count; ++i) sorted[i] = p.sublayers[idx[i]];
    p.sublayers = sorted;
  }
  for (auto& f : p.filters) {
    for (std::size_t i = 0; i < p.sublayer_count; ++i)
      if (p.sublayers[i].name == f.sub.name) f.sublayer_index = static_cast<std::uint16_t>(i);
  }
  // Bucket by layer (counting sort), then order each bucket.
  std::array<std::uint16_t, layer_count + 1> count{};
  for (const auto& f : p.filters) ++count[static_cast<std::size_t>(f.layer) + 1];
  for (std::size_t i = 1; i <= layer_count; ++i)
    count[i] = static_cast<std::uint16_t>(count[i] + count[i - 1]);
  p.layer_begin = count;
  for (std::size_t i = 0; i < P::filter_count; ++i)
    p.order[count[static_cast<std::size_t>(p.filters[i].layer)]++] = static_cast<std::uint16_t>(i);
  for (std::size_t l = 0; l < layer_count; ++l) {
    std::sort(p.order.begin() + p.layer_begin[l], p.order.begin() + p.layer_begin[l + 1],
              [&](auto a, auto b) {
                const auto& x = p.filters[a];
                const auto& y = p.filters[b];
                if (x.sublayer_index != y.sublayer_index) return x.sublayer_index < y.sublayer_index;
                if (x.effective_weight != y.effective_weight) return x.effective_weight > y.effective_weight;
                return x.declaration < y.declaration;
              });
  }
}

}  // namespace detail

/// Gathers filters, sublayers and a default action into a policy. Filters without a sublayer go to
/// the universal sublayer; sublayers may be listed to fix their order, or are taken from filters.
template <class... Args>
consteval auto policy(Args... args) {
  // Sums and sequences over the arguments are braced lists, not folds: a fold over a thousand
  // filters exceeds clang's expression nesting limit.
  constexpr std::size_t nf = detail::sum({std::size_t{0}, detail::policy_argument<Args>::filters...});
  constexpr std::size_t nc = detail::sum({std::size_t{0}, detail::policy_argument<Args>::conditions...});
  static_assert(nf < 0xffff && nc < 0xffff, "a policy holds at most 65534 filters and conditions");
  if constexpr (nf > 1) {
    constexpr std::size_t duplicate = detail::first_duplicate_name<Args...>();
    if constexpr (duplicate != detail::no_duplicate)
      error::duplicate_filter_name<std::tuple_element_t<duplicate, std::tuple<Args...>>::name>();
  }
  policy_value<nf, nc> p;
  [[maybe_unused]] detail::policy_builder<policy_value<nf, nc>> b{p};
  [[maybe_unused]] const int taken[] = {0, (detail::take_policy_argument(b, args), 0)...};
  detail::number_sets(p);
  detail::compute_order(p);
  return p;
}

}  // namespace strata
