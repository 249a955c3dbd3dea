// A string usable as a template argument: filter names and address literals travel in types,
// so that a diagnostic can name them.
#pragma once

#include <cstddef>
#include <string_view>

namespace strata::detail {

template <std::size_t N>
struct fixed_string {
  char data[N]{};

  consteval fixed_string(const char (&text)[N]) {
    for (std::size_t i = 0; i < N; ++i) data[i] = text[i];
  }
  static constexpr std::size_t size() { return N - 1; }
  constexpr std::string_view view() const { return {data, N - 1}; }
  constexpr operator std::string_view() const { return view(); }
};

}  // namespace strata::detail
