// Range adaptors: a capture source is a range of frames; `views::classify(engine)` turns it into a
// range of records, so the rest of range-v3 composes with it:
//
//   for (const auto& r : reader | strata::views::classify(e) | ranges::views::filter(strata::is_blocked))
#pragma once

#include <range/v3/view/cache1.hpp>
#include <range/v3/view/transform.hpp>

#include <strata/io/frame.hpp>
#include <strata/record.hpp>

namespace strata::views {

/// Classifies each frame once, in order. The engine keeps flow state, so the adaptor caches each
/// record (views::cache1): views downstream may dereference as often as they like.
template <class Engine>
auto classify(Engine& engine) {
  return ranges::views::transform([&engine](const io::frame& f) { return engine.classify(f); }) |
         ranges::views::cache1;
}

}  // namespace strata::views
