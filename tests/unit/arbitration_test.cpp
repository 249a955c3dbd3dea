// Arbitration per ../shared/spec/arbitration.md, with small policies, through both evaluators: the generic
// one (strata::evaluate_layer / classify_generic) and the compiled one (strata::compiled<P>::evaluate<L> /
// run<Path>). Every expected verdict below is read from the spec text quoted next to it.
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include <strata/strata.hpp>

namespace {

using namespace strata::literals;
using strata::action;
using strata::callout_answer;
using strata::family;
using strata::incoming_values;
using strata::layer_id;
using strata::layer_result;
using strata::sublayer;
namespace layer = strata::layer;
namespace path = strata::path;
using strata::filter;
using strata::policy;

// --- helpers ---------------------------------------------------------------------------------------------

template <class P>
std::string_view filter_name(const P& p, int index) {
  return index < 0 ? std::string_view{"(none)"} : p.filters[static_cast<std::size_t>(index)].name;
}
template <class P>
std::string_view sublayer_name(const P& p, int index) {
  return index < 0 ? std::string_view{"(none)"} : p.sublayers[static_cast<std::size_t>(index)].name;
}
template <class P>
std::string describe(const P& p, const layer_result& r) {
  std::ostringstream s;
  s << "{act " << strata::name(r.act) << ", filter " << filter_name(p, r.filter) << ", sublayer "
    << sublayer_name(p, r.sublayer) << ", hard " << r.hard << ", veto " << r.veto << "}";
  return s.str();
}

/// What a layer is expected to decide.
struct expected {
  action act = action::none;
  std::string_view filter = "(none)";
  bool hard = false;
  bool veto = false;
  bool check_hard = true;  ///< false where the spec does not say whether the result is hard
};

/// Evaluates layer L of policy P with both evaluators; both must agree, and agree with `e`.
template <auto const& P, layer_id L>
void expect_layer(const incoming_values& v, const expected& e, std::string_view what) {
  SCOPED_TRACE(std::string(what));
  const layer_result g = strata::evaluate_layer(P, L, v);
  const layer_result c = strata::compiled<P>::template evaluate<L>(v);
  EXPECT_TRUE(g == c) << "generic " << describe(P, g) << " vs compiled " << describe(P, c);
  EXPECT_EQ(g.act, e.act) << describe(P, g);
  EXPECT_EQ(filter_name(P, g.filter), e.filter) << describe(P, g);
  if (e.check_hard) {
    EXPECT_EQ(g.hard, e.hard) << describe(P, g);
  }
  EXPECT_EQ(g.veto, e.veto) << describe(P, g);
  EXPECT_EQ(g.decided(), e.act == action::permit || e.act == action::block);
  if (g.filter >= 0) {
    EXPECT_EQ(g.sublayer, P.filters[static_cast<std::size_t>(g.filter)].sublayer_index);
  }
}

// Callouts (arbitration.md: "A callout is user code, called with the packet, the layer's fields and the
// current rights"). constexpr, so that they also run inside static_assert.
constexpr callout_answer answer_permit(const incoming_values&, bool) { return action::permit; }
constexpr callout_answer answer_block(const incoming_values&, bool) { return action::block; }
constexpr callout_answer answer_continue(const incoming_values&, bool) { return action::continue_; }
constexpr callout_answer answer_hard_permit(const incoming_values&, bool) { return {action::permit, true}; }

int g_calls = 0;
int g_calls_with_write_right = 0;
callout_answer counting_block(const incoming_values&, bool write_right) {
  ++g_calls;
  if (write_right) ++g_calls_with_write_right;
  return action::block;
}
callout_answer counting_permit(const incoming_values&, bool write_right) {
  ++g_calls;
  if (write_right) ++g_calls_with_write_right;
  return action::permit;
}
void reset_calls() { g_calls = g_calls_with_write_right = 0; }

constexpr sublayer hi{"hi", 200};
constexpr sublayer lo{"lo", 100};
constexpr incoming_values any_packet{};

using L4 = layer::inbound_transport_v4;
constexpr layer_id T4 = layer_id::inbound_transport_v4;

// --- "Every layer evaluates every sublayer that holds filters for it, from the highest sublayer weight to
//      the lowest." / "A decision made while the write right is set replaces the current action." --------
// lo is declared first: only the sublayer weight can put hi first. hi's callout block is soft (a callout's
// block is soft), so lo's permit, evaluated after it, replaces it. Declaration order would end in block.
constexpr auto p_sublayer_order =
    policy(filter<"lo-permit", L4>(lo, action::permit),
           filter<"hi-callout-block", L4>(hi, strata::callout_terminating(&answer_block)));

TEST(Arbitration, SublayersRunFromHighestWeightToLowest) {
  ASSERT_EQ(p_sublayer_order.sublayer_list().size(), 2u);
  EXPECT_EQ(p_sublayer_order.sublayer_list()[0].name, "hi");
  EXPECT_EQ(p_sublayer_order.sublayer_list()[1].name, "lo");
  expect_layer<p_sublayer_order, T4>(any_packet, {action::permit, "lo-permit", false, false},
                                     "soft callout block in hi, then permit in lo");
  const layer_result r = strata::evaluate_layer(p_sublayer_order, T4, any_packet);
  EXPECT_EQ(sublayer_name(p_sublayer_order, r.sublayer), "lo");
}

// --- "Matching filters are tried from the highest weight to the lowest. The first one whose action is permit
//      or block decides the sublayer"
//      ------------------------------------------------------------------------
constexpr auto p_exact_weights = policy(filter<"w10-block", L4>(strata::exact_weight(10), action::block),
                                        filter<"w20-permit", L4>(strata::exact_weight(20), action::permit),
                                        filter<"w15-block", L4>(strata::exact_weight(15), action::block));
// "Equal weights are ordered by declaration order."
constexpr auto p_tie_permit_first =
    policy(filter<"first-permit", L4>(strata::exact_weight(5), action::permit),
           filter<"second-block", L4>(strata::exact_weight(5), action::block));
constexpr auto p_tie_block_first =
    policy(filter<"first-block", L4>(strata::exact_weight(5), action::block),
           filter<"second-permit", L4>(strata::exact_weight(5), action::permit));

TEST(Arbitration, FiltersRunByWeightWithTiesInDeclarationOrder) {
  expect_layer<p_exact_weights, T4>(any_packet, {action::permit, "w20-permit", false, false},
                                    "highest weight wins");
  expect_layer<p_tie_permit_first, T4>(any_packet, {action::permit, "first-permit", false, false},
                                       "tie: first");
  expect_layer<p_tie_block_first, T4>(any_packet, {action::block, "first-block", true, false}, "tie: first");
}

// --- weights: "exactly (64-bit), as a range 0–15 (the top four bits; the rest assigned automatically and
//      deterministically from the conditions, more specific first), or left empty (automatic)" -------------
constexpr auto p_weight_forms = policy(
    // Automatic: the more specific filter first, whatever the declaration order.
    filter<"auto-broad-block", L4>(action::block, strata::remote_address == "10.0.0.0/8"_v4),
    filter<"auto-narrow-permit", L4>(action::permit, strata::remote_address == "10.1.0.0/16"_v4),
    filter<"auto-port-block", L4>(action::block, strata::local_port == 7),
    filter<"auto-port-and-address-permit", L4>(action::permit, strata::local_port == 7,
                                               strata::remote_address == "10.9.0.0/16"_v4),
    // Ranges: the range is the top four bits, so weight(1) with one condition beats a more specific
    // automatic weight.
    filter<"range1-port-block", L4>(strata::weight(1), action::block, strata::local_port == 1000),
    filter<"auto-specific-permit", L4>(action::permit, strata::local_port == 1000,
                                       strata::remote_address == "10.2.3.4"_v4),
    // Inside one range, the more specific first.
    filter<"range3-broad-permit", L4>(strata::weight(3), action::permit, strata::local_port == 2000,
                                      strata::remote_address == "10.0.0.0/8"_v4),
    filter<"range3-narrow-block", L4>(strata::weight(3), action::block, strata::local_port == 2000,
                                      strata::remote_address == "10.7.7.0/24"_v4),
    // A higher range beats a more specific lower one.
    filter<"range5-broad-block", L4>(strata::weight(5), action::block, strata::local_port == 3000),
    filter<"range4-narrow-permit", L4>(strata::weight(4), action::permit, strata::local_port == 3000,
                                       strata::remote_address == "10.7.7.7"_v4),
    // Exact weights are taken as is: just below range 1 loses to it; the maximum beats range 15.
    filter<"exact-below-range1-permit", L4>(strata::exact_weight((std::uint64_t{1} << 60) - 1),
                                            action::permit, strata::local_port == 4000),
    filter<"range1-block", L4>(strata::weight(1), action::block, strata::local_port == 4000),
    filter<"range15-block", L4>(strata::weight(15), action::block, strata::local_port == 5000),
    filter<"exact-max-permit", L4>(strata::exact_weight(~std::uint64_t{0}), action::permit,
                                   strata::local_port == 5000));

TEST(Arbitration, WeightRangesExactWeightsAndAutomaticWeights) {
  expect_layer<p_weight_forms, T4>({.remote_address = "10.1.2.3"_v4},
                                   {action::permit, "auto-narrow-permit", false, false}, "/16 before /8");
  expect_layer<p_weight_forms, T4>({.remote_address = "10.200.2.3"_v4},
                                   {action::block, "auto-broad-block", true, false}, "only /8 matches");
  expect_layer<p_weight_forms, T4>({.remote_address = "10.9.1.1"_v4, .local_port = 7},
                                   {action::permit, "auto-port-and-address-permit", false, false},
                                   "two conditions before one");
  expect_layer<p_weight_forms, T4>({.remote_address = "10.2.3.4"_v4, .local_port = 1000},
                                   {action::block, "range1-port-block", true, false},
                                   "range 1 beats automatic");
  expect_layer<p_weight_forms, T4>({.remote_address = "10.7.7.1"_v4, .local_port = 2000},
                                   {action::block, "range3-narrow-block", true, false},
                                   "more specific in range 3");
  expect_layer<p_weight_forms, T4>({.remote_address = "10.7.7.7"_v4, .local_port = 3000},
                                   {action::block, "range5-broad-block", true, false},
                                   "range 5 beats range 4");
  expect_layer<p_weight_forms, T4>({.local_port = 4000}, {action::block, "range1-block", true, false},
                                   "exact 2^60-1 < range 1");
  expect_layer<p_weight_forms, T4>({.local_port = 5000}, {action::permit, "exact-max-permit", false, false},
                                   "exact max > range 15");
  // The effective weights themselves: range r is r << 60 plus an automatic part below 2^60.
  const auto w = [](std::string_view n) {
    return p_weight_forms.filters[static_cast<std::size_t>(p_weight_forms.find(n))].effective_weight;
  };
  EXPECT_EQ(w("range1-port-block") >> 60, 1u);
  EXPECT_EQ(w("range15-block") >> 60, 15u);
  EXPECT_EQ(w("range5-broad-block") >> 60, 5u);
  EXPECT_LT(w("auto-specific-permit"), std::uint64_t{1} << 60);
  EXPECT_EQ(w("exact-max-permit"), ~std::uint64_t{0});
  EXPECT_GT(w("auto-narrow-permit"), w("auto-broad-block"));
}

// --- continue: "continue passes to the next filter"; "A sublayer where nothing decides has no say." -------
constexpr auto p_continue =
    policy(filter<"hi-continue", L4>(hi, strata::exact_weight(100), action::continue_),
           filter<"hi-then-block", L4>(hi, strata::exact_weight(50), action::block, strata::local_port == 1),
           filter<"lo-continue-only", L4>(lo, action::continue_, strata::local_port == 2));

TEST(Arbitration, ContinuePassesToTheNextFilterAndDecidesNothing) {
  expect_layer<p_continue, T4>({.local_port = 1}, {action::block, "hi-then-block", true, false},
                               "continue, block");
  expect_layer<p_continue, T4>({.local_port = 2}, {}, "only continues: no decision");
  expect_layer<p_continue, T4>({.local_port = 3}, {}, "only continue matched");
}

// --- hard and soft: "block from a static filter is hard ... permit is soft, unless the filter has the
//      clear_action_right flag"; "While the write right is cleared, later sublayers cannot change the action"
constexpr auto p_hard_block =
    policy(filter<"lo-permit", L4>(lo, action::permit), filter<"hi-block", L4>(hi, action::block));
constexpr auto p_soft_permit =
    policy(filter<"hi-permit", L4>(hi, action::permit), filter<"lo-block", L4>(lo, action::block));
constexpr auto p_hard_permit =
    policy(filter<"hi-hard-permit", L4>(hi, action::permit, strata::clear_action_right),
           filter<"lo-block", L4>(lo, action::block));
constexpr auto p_hard_permit_short = policy(filter<"hi-hard-permit", L4>(hi, action::permit, strata::hard),
                                            filter<"lo-block", L4>(lo, action::block));

TEST(Arbitration, StaticBlockIsHardPermitIsSoftUnlessClearActionRight) {
  expect_layer<p_hard_block, T4>(any_packet, {action::block, "hi-block", true, false}, "hard block stays");
  expect_layer<p_soft_permit, T4>(any_packet, {action::block, "lo-block", true, false},
                                  "soft permit overridden");
  expect_layer<p_hard_permit, T4>(any_packet, {action::permit, "hi-hard-permit", true, false},
                                  "clear_action_right: a lower static block cannot override");
  expect_layer<p_hard_permit_short, T4>(any_packet, {action::permit, "hi-hard-permit", true, false},
                                        "hard alias");
}

// --- veto: "a callout answering block after a hard permit. A veto overrides the hard permit and is reported
//      as a veto." Callouts are called with the current rights. ------------------------------------------
constexpr auto p_veto =
    policy(filter<"hi-hard-permit", L4>(hi, action::permit, strata::clear_action_right),
           filter<"lo-callout-block", L4>(lo, strata::callout_terminating(&counting_block)));
constexpr auto p_no_veto_after_block =
    policy(filter<"hi-block", L4>(hi, action::block),
           filter<"lo-callout-permit", L4>(lo, strata::callout_terminating(&counting_permit)));
constexpr auto p_callout_block_after_soft_permit =
    policy(filter<"hi-permit", L4>(hi, action::permit),
           filter<"lo-callout-block", L4>(lo, strata::callout_terminating(&counting_block)));

TEST(Arbitration, CalloutBlockAfterHardPermitIsAVeto) {
  reset_calls();
  // (The write right stays cleared after a veto; whether the result counts as hard is not said.)
  expect_layer<p_veto, T4>(any_packet, {action::block, "lo-callout-block", false, true, false}, "veto");
  EXPECT_EQ(g_calls, 2);  // once per evaluator
  EXPECT_EQ(g_calls_with_write_right, 0)
      << "the callout runs after a hard permit: the write right is cleared";

  // "Every sublayer runs, even after a block": the callout is called, but cannot change a hard block.
  reset_calls();
  expect_layer<p_no_veto_after_block, T4>(any_packet, {action::block, "hi-block", true, false}, "no change");
  EXPECT_EQ(g_calls, 2);
  EXPECT_EQ(g_calls_with_write_right, 0);

  // A callout block after a soft permit is an ordinary decision, not a veto.
  reset_calls();
  expect_layer<p_callout_block_after_soft_permit, T4>(
      any_packet, {action::block, "lo-callout-block", false, false}, "no veto");
  EXPECT_EQ(g_calls_with_write_right, 2);
}

// --- "A callout's permit or block is soft unless the callout clears the right itself." ---------------------
constexpr auto p_callout_soft_permit =
    policy(filter<"hi-callout-permit", L4>(hi, strata::callout_terminating(&answer_permit)),
           filter<"lo-block", L4>(lo, action::block));
constexpr auto p_callout_hard_permit =
    policy(filter<"hi-callout-hard-permit", L4>(hi, strata::callout_terminating(&answer_hard_permit)),
           filter<"lo-block", L4>(lo, action::block));

TEST(Arbitration, CalloutDecisionsAreSoftUnlessTheCalloutClearsTheRight) {
  expect_layer<p_callout_soft_permit, T4>(any_packet, {action::block, "lo-block", true, false}, "soft");
  expect_layer<p_callout_hard_permit, T4>(any_packet, {action::permit, "hi-callout-hard-permit", true, false},
                                          "hard");
}

// --- callout kinds: "callout_terminating (must answer permit or block)" — anything else counts as block
//      (wfp-facts §1); "callout_unknown (may answer any of the three)"; "callout_inspection (always
//      continues)" ----------------------------------------------------------------------------------------
constexpr auto p_terminating_continue =
    policy(filter<"terminating-says-continue", L4>(strata::exact_weight(20),
                                                   strata::callout_terminating(&answer_continue)),
           filter<"then-permit", L4>(strata::exact_weight(10), action::permit));
constexpr auto p_unknown_continue = policy(
    filter<"unknown-says-continue", L4>(strata::exact_weight(20), strata::callout_unknown(&answer_continue)),
    filter<"then-permit", L4>(strata::exact_weight(10), action::permit));
constexpr auto p_unknown_permit = policy(
    filter<"unknown-says-permit", L4>(strata::exact_weight(20), strata::callout_unknown(&answer_permit)),
    filter<"then-block", L4>(strata::exact_weight(10), action::block));
constexpr auto p_inspection = policy(
    filter<"inspection-says-block", L4>(strata::exact_weight(20), strata::callout_inspection(&counting_block),
                                        strata::local_port == 1 || strata::local_port == 2),
    filter<"then-permit", L4>(strata::exact_weight(10), action::permit, strata::local_port == 1));

TEST(Arbitration, CalloutKinds) {
  expect_layer<p_terminating_continue, T4>(any_packet,
                                           {action::block, "terminating-says-continue", false, false},
                                           "terminating + continue = block");
  expect_layer<p_unknown_continue, T4>(any_packet, {action::permit, "then-permit", false, false},
                                       "unknown + continue passes on");
  expect_layer<p_unknown_permit, T4>(any_packet, {action::permit, "unknown-says-permit", false, false},
                                     "unknown + permit decides");
  reset_calls();
  expect_layer<p_inspection, T4>({.local_port = 1}, {action::permit, "then-permit", false, false},
                                 "inspection answers block, never decides");
  EXPECT_EQ(g_calls, 2) << "the inspection callout is called (once per evaluator)";
  reset_calls();
  expect_layer<p_inspection, T4>({.local_port = 2}, {}, "inspection alone decides nothing");
  EXPECT_EQ(g_calls, 2);
  reset_calls();
  expect_layer<p_inspection, T4>({.local_port = 3}, {}, "no match, no call");
  EXPECT_EQ(g_calls, 0);
}

// --- "A callout_terminating/callout_unknown filter whose callout is not registered acts as block, unless the
//      filter has permit_if_callout_unregistered; a callout_inspection filter without callout is skipped." --
constexpr auto p_unregistered =
    policy(filter<"terminating-unregistered", L4>(strata::exact_weight(20),
                                                  strata::callout_terminating(strata::unregistered_callout),
                                                  strata::local_port == 1),
           filter<"terminating-unregistered-permit", L4>(
               strata::exact_weight(20), strata::callout_terminating(strata::unregistered_callout),
               strata::permit_if_callout_unregistered, strata::local_port == 2),
           filter<"unknown-unregistered", L4>(strata::exact_weight(20),
                                              strata::callout_unknown(strata::unregistered_callout),
                                              strata::local_port == 3),
           filter<"unknown-unregistered-permit", L4>(
               strata::exact_weight(20), strata::callout_unknown(strata::unregistered_callout),
               strata::permit_if_callout_unregistered, strata::local_port == 4),
           filter<"inspection-unregistered", L4>(strata::exact_weight(20),
                                                 strata::callout_inspection(strata::unregistered_callout),
                                                 strata::local_port == 5 || strata::local_port == 6),
           filter<"fallback-permit", L4>(
               strata::exact_weight(10), action::permit,
               strata::local_port == 1 || strata::local_port == 3 || strata::local_port == 5),
           filter<"fallback-block", L4>(strata::exact_weight(10), action::block,
                                        strata::local_port == 2 || strata::local_port == 4));

TEST(Arbitration, UnregisteredCallouts) {
  // "acts as block": whether that block is hard is not said, so it is not checked.
  expect_layer<p_unregistered, T4>({.local_port = 1},
                                   {action::block, "terminating-unregistered", false, false, false},
                                   "terminating, unregistered: block");
  expect_layer<p_unregistered, T4>({.local_port = 2},
                                   {action::permit, "terminating-unregistered-permit", false, false},
                                   "terminating, unregistered, permit_if_callout_unregistered");
  expect_layer<p_unregistered, T4>({.local_port = 3},
                                   {action::block, "unknown-unregistered", false, false, false},
                                   "unknown, unregistered: block");
  expect_layer<p_unregistered, T4>({.local_port = 4},
                                   {action::permit, "unknown-unregistered-permit", false, false},
                                   "unknown, unregistered, permit_if_callout_unregistered");
  expect_layer<p_unregistered, T4>({.local_port = 5}, {action::permit, "fallback-permit", false, false},
                                   "inspection, unregistered: skipped");
  expect_layer<p_unregistered, T4>({.local_port = 6}, {}, "inspection, unregistered, alone: nothing");
}

// --- conditions and match types ---------------------------------------------------------------------------
// Every filter below is a callout_inspection filter whose callout sets one bit: inspection never decides, so
// every matching filter is called, and the bits show exactly which filters matched, in both evaluators.
std::uint64_t g_marks = 0;
template <int N>
callout_answer mark(const incoming_values&, bool) {
  g_marks |= std::uint64_t{1} << N;
  return action::continue_;
}
template <int N>
constexpr auto mark_at = strata::callout_inspection(&mark<N>);

using strata::flags;
using strata::local_port;
using strata::remote_address;
using strata::remote_port;
namespace flag = strata::flag;

constexpr auto p_match = policy(
    // integers (arbitration.md: equal, greater, less, greater_or_equal, less_or_equal, range inclusive both
    // ends, flags_all_set, flags_any_set, flags_none_set, not_equal)
    filter<"eq", L4>(mark_at<0>, local_port == 80), filter<"gt", L4>(mark_at<1>, local_port > 80),
    filter<"lt", L4>(mark_at<2>, local_port < 80), filter<"ge", L4>(mark_at<3>, local_port >= 80),
    filter<"le", L4>(mark_at<4>, local_port <= 80),
    filter<"range", L4>(mark_at<5>, local_port == strata::range(80, 90)),
    filter<"all-set", L4>(mark_at<6>, flags.all_set(flag::is_loopback | flag::is_reauthorize)),
    filter<"any-set", L4>(mark_at<7>, flags.any_set(flag::is_loopback | flag::is_reauthorize)),
    filter<"none-set", L4>(mark_at<8>, flags.none_set(flag::is_loopback | flag::is_reauthorize)),
    filter<"ne", L4>(mark_at<9>, local_port != 80),
    // addresses: prefix (address/mask), a plain address, not_equal with a prefix, a range
    filter<"v4-prefix", L4>(mark_at<10>, remote_address == "10.0.0.0/8"_v4),
    filter<"v4-host", L4>(mark_at<11>, remote_address == "10.1.2.3"_v4),
    filter<"v4-not-prefix", L4>(mark_at<12>, remote_address != "10.0.0.0/8"_v4),
    filter<"v4-range", L4>(mark_at<13>, remote_address == strata::range("10.0.0.5"_v4, "10.0.0.9"_v4)),
    // "consecutive conditions on the same field are ORed", "conditions on different fields are ANDed"
    filter<"or", L4>(mark_at<14>, local_port == 22 || local_port == 80),
    filter<"or-as-arguments", L4>(mark_at<15>, local_port == 22, local_port == 80),
    filter<"and", L4>(mark_at<16>, local_port == 80, remote_port == 1000),
    filter<"same-field-not-consecutive", L4>(mark_at<17>, local_port == 22, remote_port == 1000,
                                             local_port == 80),
    filter<"or-and", L4>(mark_at<18>, local_port == 22 || local_port == 80,
                         remote_address == "10.0.0.0/8"_v4),
    // "A filter with no conditions matches everything at its layer."
    filter<"no-conditions", L4>(mark_at<19>),
    // v6 addresses at the V6 layer
    filter<"v6-prefix", layer::inbound_transport_v6>(mark_at<20>, remote_address == "2001:db8::/32"_v6),
    filter<"v6-host", layer::inbound_transport_v6>(mark_at<21>, remote_address == "2001:db8::1"_v6),
    filter<"v6-not-prefix", layer::inbound_transport_v6>(mark_at<22>, remote_address != "2001:db8::/32"_v6),
    filter<"v6-local-prefix", layer::inbound_transport_v6>(mark_at<23>,
                                                           strata::local_address == "fd00::/8"_v6),
    // byte strings: equal, equal_case_insensitive, prefix (tests the END of the value), not_prefix
    filter<"app-equal", layer::ale_auth_connect_v4>(mark_at<24>,
                                                    strata::ale_app_id == "\\device\\x\\app.exe"),
    filter<"app-equal-ci", layer::ale_auth_connect_v4>(
        mark_at<25>, strata::ale_app_id.equal_case_insensitive("\\DEVICE\\X\\APP.EXE")),
    filter<"app-ends-with", layer::ale_auth_connect_v4>(mark_at<26>, strata::ale_app_id.prefix("app.exe")),
    filter<"app-not-ends-with", layer::ale_auth_connect_v4>(mark_at<27>,
                                                            strata::ale_app_id.not_prefix("app.exe")),
    // ICMP: "the type is carried in the local-port field and the code in the remote-port field"
    filter<"icmp-port-unreachable", layer::inbound_icmp_error_v4>(mark_at<28>, strata::icmp_type == 3,
                                                                  strata::icmp_code == 3),
    filter<"embedded-port", layer::inbound_icmp_error_v4>(mark_at<29>, strata::embedded_remote_port == 53));

constexpr std::uint64_t bits(std::initializer_list<int> ns) {
  std::uint64_t b = 0;
  for (int n : ns) b |= std::uint64_t{1} << n;
  return b;
}
std::string bit_list(std::uint64_t b) {
  std::string s;
  for (int i = 0; i < 64; ++i)
    if ((b >> i) & 1)
      s += std::to_string(i) + " " + std::string(p_match.filters[static_cast<std::size_t>(i)].name) + ", ";
  return s;
}

template <layer_id L>
void expect_matches(const incoming_values& v, std::uint64_t expected_bits, std::string_view what) {
  SCOPED_TRACE(std::string(what));
  g_marks = 0;
  const layer_result g = strata::evaluate_layer(p_match, L, v);
  EXPECT_EQ(g_marks, expected_bits) << "generic matched: " << bit_list(g_marks)
                                    << "\nexpected: " << bit_list(expected_bits);
  g_marks = 0;
  const layer_result c = strata::compiled<p_match>::evaluate<L>(v);
  EXPECT_EQ(g_marks, expected_bits) << "compiled matched: " << bit_list(g_marks)
                                    << "\nexpected: " << bit_list(expected_bits);
  EXPECT_FALSE(g.decided());
  EXPECT_FALSE(c.decided());
  // The all_matches report of the generic evaluator names the same filters.
  std::uint64_t reported = 0;
  (void)strata::evaluate_layer(
      p_match, L, v, [&](int fi) { reported |= std::uint64_t{1} << fi; }, true);
  EXPECT_EQ(reported, expected_bits) << "on_match reported: " << bit_list(reported);
}

TEST(Conditions, IntegerMatchTypes) {
  using strata::flag::is_loopback;
  using strata::flag::is_reauthorize;
  constexpr std::uint32_t both = is_loopback | is_reauthorize;
  // port 80, one of the two flags, address 10.1.2.3
  expect_matches<T4>({.remote_address = "10.1.2.3"_v4, .local_port = 80, .flags = is_reauthorize},
                     bits({0, 3, 4, 5, 7, 10, 11, 14, 15, 18, 19}), "port 80");
  // port 81, both flags, address 10.0.0.7 (inside the range 10.0.0.5-10.0.0.9)
  expect_matches<T4>({.remote_address = "10.0.0.7"_v4, .local_port = 81, .flags = both | flag::is_fragment},
                     bits({1, 3, 5, 6, 7, 9, 10, 13, 19}), "port 81");
  // port 79, no flag of the two, address outside 10/8
  expect_matches<T4>({.remote_address = "11.0.0.1"_v4, .local_port = 79, .flags = flag::is_fragment},
                     bits({2, 4, 8, 9, 12, 19}), "port 79");
  // range bounds are inclusive: 90 in, 91 out; the address range bounds as well
  expect_matches<T4>({.remote_address = "10.0.0.5"_v4, .local_port = 90}, bits({1, 3, 5, 8, 9, 10, 13, 19}),
                     "port 90, low address bound");
  expect_matches<T4>({.remote_address = "10.0.0.9"_v4, .local_port = 91}, bits({1, 3, 8, 9, 10, 13, 19}),
                     "port 91, high address bound");
  expect_matches<T4>({.remote_address = "10.0.0.10"_v4, .local_port = 79}, bits({2, 4, 8, 9, 10, 19}),
                     "just above the address range");
}

TEST(Conditions, SameFieldOredDifferentFieldsAnded) {
  // port 80 and remote port 1000 from 10/8: "or", "or-as-arguments", "and", "or-and", but not the filter
  // whose local_port conditions are not consecutive (22 AND 80 can never both hold).
  expect_matches<T4>({.remote_address = "10.1.1.1"_v4, .local_port = 80, .remote_port = 1000},
                     bits({0, 3, 4, 5, 8, 10, 14, 15, 16, 18, 19}), "80 from 10/8");
  expect_matches<T4>({.remote_address = "10.1.1.1"_v4, .local_port = 22, .remote_port = 1000},
                     bits({2, 4, 8, 9, 10, 14, 15, 18, 19}), "22 from 10/8");
  expect_matches<T4>({.remote_address = "192.0.2.1"_v4, .local_port = 22, .remote_port = 1000},
                     bits({2, 4, 8, 9, 12, 14, 15, 19}), "22 from outside 10/8");
  expect_matches<T4>({.remote_address = "10.1.1.1"_v4, .local_port = 80, .remote_port = 999},
                     bits({0, 3, 4, 5, 8, 10, 14, 15, 18, 19}), "remote port 999");
}

TEST(Conditions, Ipv6AddressPrefixes) {
  const auto v6 = [](std::string_view text) { return strata::parse_address(text, family::v6).value(); };
  expect_matches<layer_id::inbound_transport_v6>(
      {.local_address = v6("fd00::2"), .remote_address = v6("2001:db8::1")}, bits({20, 21, 23}),
      "2001:db8::1 to fd00::2");
  expect_matches<layer_id::inbound_transport_v6>(
      {.local_address = v6("fe80::2"), .remote_address = v6("2001:db8:ffff::9")}, bits({20}),
      "in 2001:db8::/32");
  expect_matches<layer_id::inbound_transport_v6>(
      {.local_address = v6("fdff::1"), .remote_address = v6("2001:db9::1")}, bits({22, 23}),
      "outside 2001:db8::/32");
}

TEST(Conditions, ByteStrings) {
  constexpr layer_id C4 = layer_id::ale_auth_connect_v4;
  expect_matches<C4>({.app_id = "\\device\\x\\app.exe"}, bits({24, 25, 26}), "exact");
  expect_matches<C4>({.app_id = "\\Device\\X\\App.exe"}, bits({25, 27}), "other case");
  expect_matches<C4>({.app_id = "\\device\\y\\app.exe"}, bits({26}), "same ending");
  expect_matches<C4>({.app_id = "app.exe\\device"}, bits({27}), "starts, does not end, with app.exe");
  expect_matches<C4>({.app_id = ""}, bits({27}), "empty");
}

TEST(Conditions, IcmpTypeAndCodeInThePortSlotsAndTheEmbeddedTuple) {
  constexpr layer_id E4 = layer_id::inbound_icmp_error_v4;
  expect_matches<E4>({.local_port = 3, .remote_port = 3, .embedded_remote_port = 53}, bits({28, 29}),
                     "port unreachable for DNS");
  expect_matches<E4>({.local_port = 3, .remote_port = 1}, bits({}), "host unreachable");
  expect_matches<E4>({.local_port = 11, .remote_port = 3}, bits({}), "time exceeded");
}

// --- the layer's result: default action, layers without filters, no arbitration across layers ------------
using strata::local_port;
constexpr auto p_default_permit =
    policy(filter<"block-telnet", layer::ale_auth_recv_accept_v4>(action::block, local_port == 23));
constexpr auto p_default_block =
    policy(strata::default_block,
           filter<"allow-ssh", layer::ale_auth_recv_accept_v4>(action::permit, local_port == 22));
constexpr auto p_across_layers =
    policy(filter<"hard-permit-at-transport", L4>(hi, action::permit, strata::clear_action_right),
           filter<"block-at-ale", layer::ale_auth_recv_accept_v4>(lo, action::block, local_port == 8080));

template <auto const& P, class Path>
strata::path_result run_both(const incoming_values& v) {
  strata::trace tg, tc;
  const strata::path_result g = strata::classify_generic(P, Path::key, v, tg);
  const strata::path_result c = strata::compiled<P>::template run<Path>(v, tc);
  EXPECT_TRUE(g == c) << "generic and compiled differ on " << Path::name;
  EXPECT_EQ(tg.size(), tc.size());
  for (std::size_t i = 0; i < tg.size() && i < tc.size(); ++i) EXPECT_TRUE(tg[i] == tc[i]) << "step " << i;
  return g;
}

TEST(LayerResult, DefaultActionAppliesOnlyWhereALayerHasFiltersAndNoneDecided) {
  using syn = path::tcp::inbound_syn<strata::v4>;
  using seg = path::tcp::inbound_segment<strata::v4>;
  // "If no sublayer decided, the result is the policy's default action, permit unless the policy sets block"
  auto r = run_both<p_default_permit, syn>({.local_port = 80});
  EXPECT_EQ(r.verdict, action::permit);
  EXPECT_EQ(r.filter, -1);
  r = run_both<p_default_permit, syn>({.local_port = 23});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(filter_name(p_default_permit, r.filter), "block-telnet");

  r = run_both<p_default_block, syn>({.local_port = 80});
  EXPECT_EQ(r.verdict, action::block) << "no filter decided at ALE_AUTH_RECV_ACCEPT: the default, block";
  EXPECT_EQ(r.filter, -1);
  EXPECT_EQ(r.layer, layer_id::ale_auth_recv_accept_v4);
  r = run_both<p_default_block, syn>({.local_port = 22});
  EXPECT_EQ(r.verdict, action::permit);
  EXPECT_EQ(filter_name(p_default_block, r.filter), "allow-ssh");
  // "A layer with no filters at all costs nothing and decides nothing": the segment path visits only
  // INBOUND_IPPACKET and INBOUND_TRANSPORT, which hold no filters, so default_block does not apply.
  r = run_both<p_default_block, seg>({.local_port = 80});
  EXPECT_EQ(r.verdict, action::permit);
  EXPECT_FALSE(strata::compiled<p_default_block>::has_filters<layer_id::inbound_transport_v4>);
  EXPECT_TRUE(strata::compiled<p_default_block>::has_filters<layer_id::ale_auth_recv_accept_v4>);
  const layer_result none = strata::compiled<p_default_block>::evaluate<layer_id::inbound_transport_v4>({});
  EXPECT_FALSE(none.decided());
  EXPECT_EQ(strata::layer_verdict(none, false, action::block), action::permit);
  EXPECT_EQ(strata::layer_verdict(none, true, action::block), action::block);
  EXPECT_EQ(strata::layer_verdict(none, true, action::permit), action::permit);
}

TEST(LayerResult, NoArbitrationAcrossLayers) {
  // "a hard permit at one layer does not protect a packet from a block at a later layer"
  strata::trace t;
  const auto r =
      strata::compiled<p_across_layers>::run<path::tcp::inbound_syn<strata::v4>>({.local_port = 8080}, t);
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(filter_name(p_across_layers, r.filter), "block-at-ale");
  EXPECT_EQ(r.layer, layer_id::ale_auth_recv_accept_v4);
  ASSERT_GE(t.size(), 3u);
  EXPECT_EQ(t[1].layer, layer_id::inbound_transport_v4);
  EXPECT_EQ(t[1].act, action::permit);
  EXPECT_TRUE(t[1].hard);
  EXPECT_EQ(filter_name(p_across_layers, t[1].filter), "hard-permit-at-transport");
  using syn = path::tcp::inbound_syn<strata::v4>;
  EXPECT_TRUE((run_both<p_across_layers, syn>({.local_port = 8080}) == r));
  EXPECT_EQ((run_both<p_across_layers, syn>({.local_port = 80}).verdict), action::permit);
}

TEST(LayerResult, ABlockedPacketsRecordNamesFilterLayerAndSublayer) {
  const auto r = run_both<p_hard_block, path::tcp::inbound_segment<strata::v4>>({});
  EXPECT_EQ(r.verdict, action::block);
  EXPECT_EQ(filter_name(p_hard_block, r.filter), "hi-block");
  EXPECT_EQ(sublayer_name(p_hard_block, r.sublayer), "hi");
  EXPECT_EQ(r.layer, layer_id::inbound_transport_v4);
  EXPECT_TRUE(r.hard);
}

// --- item 9: provable verdicts ----------------------------------------------------------------------------
constexpr auto p_ssh = policy(filter<"allow-ssh-from-lan", layer::ale_auth_recv_accept_v4>(
                                  action::permit, local_port == 22, remote_address == "10.0.0.0/8"_v4),
                              filter<"allow-ssh-from-lan-v6", layer::ale_auth_recv_accept_v6>(
                                  action::permit, local_port == 22, remote_address == "fd00::/8"_v6),
                              filter<"block-inbound", layer::ale_auth_recv_accept_v4>(action::block),
                              filter<"block-inbound-v6", layer::ale_auth_recv_accept_v6>(action::block));

using syn4 = path::tcp::inbound_syn<strata::v4>;
using syn6 = path::tcp::inbound_syn<strata::v6>;
static_assert(strata::verdict(p_ssh, syn4{}, {.remote_address = "10.1.2.3"_v4, .local_port = 22}) ==
              action::permit);
static_assert(strata::verdict(p_ssh, syn4{}, {.remote_address = "192.0.2.1"_v4, .local_port = 22}) ==
              action::block);
static_assert(strata::verdict(p_ssh, syn4{}, {.remote_address = "10.1.2.3"_v4, .local_port = 80}) ==
              action::block);
static_assert(strata::verdict(p_ssh, syn6{}, {.remote_address = "fd00::7"_v6, .local_port = 22}) ==
              action::permit);
static_assert(strata::verdict(p_ssh, syn6{}, {.remote_address = "2001:db8::7"_v6, .local_port = 22}) ==
              action::block);
// A path that never visits ALE_AUTH_RECV_ACCEPT is not blocked by its filters.
static_assert(strata::verdict(p_ssh, path::tcp::inbound_data<strata::v4>{}, {.local_port = 80}) ==
              action::permit);
// The same proofs through the compiled pipeline.
static_assert(strata::compiled<p_ssh>::run<syn4>({.remote_address = "10.1.2.3"_v4, .local_port = 22})
                  .verdict == action::permit);
static_assert(strata::compiled<p_ssh>::run<syn4>({.remote_address = "192.0.2.1"_v4, .local_port = 22})
                  .verdict == action::block);
static_assert(strata::compiled<p_ssh>::run<syn6>({.remote_address = "2001:db8::7"_v6, .local_port = 22})
                  .verdict == action::block);
static_assert(strata::compiled<p_ssh>::run<syn4>({.remote_address = "192.0.2.1"_v4, .local_port = 22})
                  .filter == p_ssh.find("block-inbound"));
static_assert(strata::compiled<p_ssh>::classify(syn4::key,
                                                {.remote_address = "10.1.2.3"_v4, .local_port = 22})
                  .verdict == action::permit);
// Arbitration rules proved at compile time: hard permit, veto by a (constexpr) callout, soft permit
// overridden.
constexpr auto p_proof_veto =
    policy(filter<"hard-permit", L4>(hi, action::permit, strata::clear_action_right),
           filter<"veto", L4>(lo, strata::callout_terminating(&answer_block)));
static_assert(strata::evaluate_layer(p_proof_veto, T4, {}).act == action::block);
static_assert(strata::evaluate_layer(p_proof_veto, T4, {}).veto);
static_assert(strata::compiled<p_proof_veto>::evaluate<T4>({}).veto);
static_assert(strata::compiled<p_hard_permit>::evaluate<T4>({}).act == action::permit);
static_assert(strata::evaluate_layer(p_soft_permit, T4, {}).act == action::block);
static_assert(strata::verdict(p_default_block, syn4{}, {.local_port = 80}) == action::block);
static_assert(
    strata::compiled<p_default_block>::run<path::tcp::inbound_segment<strata::v4>>({.local_port = 80})
        .verdict == action::permit);

TEST(ProvableVerdicts, TheStaticAssertsAgreeAtRunTime) {
  // The same questions at run time (a static_assert that compiled proves nothing if it is never evaluated
  // the same way at run time; here both paths of evaluation are exercised).
  incoming_values v{.remote_address = "10.1.2.3"_v4, .local_port = 22};
  EXPECT_EQ(strata::verdict(p_ssh, syn4{}, v), action::permit);
  EXPECT_EQ(strata::compiled<p_ssh>::run<syn4>(v).verdict, action::permit);
  v.local_port = 80;
  EXPECT_EQ(strata::verdict(p_ssh, syn4{}, v), action::block);
  EXPECT_EQ(strata::compiled<p_ssh>::run<syn4>(v).verdict, action::block);
}

}  // namespace
