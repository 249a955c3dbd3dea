// strata-classify for any set of policies, in one line:
//
//   int main(int argc, char** argv) { return strata::cli::main<my_policy>(argc, argv, {"mine"}); }
//
// Modelled on tcpdump: -r FILE reads pcap/pcapng, --local names the observed host, records go to
// stdout as JSON Lines or text, -w writes the blocked (or every) packet to a pcap, --summary prints
// the counts. Exit status: 0 success, 1 I/O error (named file and cause), 2 usage error.
// Depends on libpcap (strata::pcap) and CLI11; not part of the core.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <strata/analysis.hpp>
#include <strata/engine.hpp>
#include <strata/io/format.hpp>
#include <strata/io/pcap_file.hpp>
#include <strata/set_file.hpp>
#include <strata/version.hpp>
#include <strata/views.hpp>

namespace strata::cli {

/// Parses "tcp/22", "udp/53" (also "6/22").
inline std::optional<port_hint> parse_port_hint(std::string_view text, bool listening) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view p = text.substr(0, slash), port = text.substr(slash + 1);
  port_hint h;
  h.listening = listening;
  if (p == "tcp")
    h.protocol = proto::tcp;
  else if (p == "udp")
    h.protocol = proto::udp;
  else {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc{} || end != p.data() + p.size() || v > 255) return std::nullopt;
    h.protocol = static_cast<std::uint8_t>(v);
  }
  unsigned v = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc{} || end != port.data() + port.size() || v > 65535 || port.empty()) return std::nullopt;
  h.port = static_cast<std::uint16_t>(v);
  return h;
}

/// The offline listener inference's pre-pass (traversal.md §3): reads a capture once and keeps the
/// host's "nobody listens here" answers, and the outbound datagrams whose first fragment cuts the
/// transport header (§5). `limit` bounds the frames read (0: all).
inline void scan_answers(io::pcap_reader& reader, const host& h, flow::answer_index& answers,
                         std::uint64_t limit = 0) {
  for (const io::frame& f : reader) {
    answers.add(packet::parse(f, reader.link_type()), f.data, h, f.index, f.time.time_since_epoch().count());
    if (limit && f.index >= limit) break;
  }
}

/// The options of strata-classify.
struct options {
  std::string read_file;
  std::vector<std::string> locals;
  std::vector<std::string> listen, closed;
  std::string policy;
  std::string format = "jsonl";
  std::uint64_t count = 0;
  std::string write_file;
  bool write_all = false;
  bool summary = false;
  bool quiet = false;
  std::vector<std::string> switches;  // "FRAME:POLICY"
  std::size_t flow_capacity = 1u << 16;
  // Live capture (-i; strata/live/cli.hpp): interfaces, fan-out workers, bounds, ring, privileges.
  std::vector<std::string> interfaces;
  std::size_t workers = 1;
  double duration = 0;
  bool promiscuous = false;
  std::string user;
  std::uint32_t snaplen = 262144;
  std::uint32_t block_size = 1u << 20;
  /// 0: chosen by what is written (live::default_ring_blocks): 8 with -q, 32 when records are written.
  std::uint32_t block_count = 0;
  bool line_buffered = false;
  // Enforcing mode (-i … --enforce; strata/live/enforce.hpp): verdicts applied through NFQUEUE.
  bool enforce = false;
  bool fail_open = false;  // when the process dies: accept (else drop: fail-closed, the default)
  bool fail_closed = false;
  std::uint16_t queue = 0;
  // Policy analysis and rule coverage (strata/analysis.hpp; issue 7).
  bool analyze = false;  // print the selected policy's anomaly report and exit (no capture needed)
  std::string analyze_format = "text";
  bool coverage = false;  // after the capture: the filters that never decided a packet, on stdout
  std::string coverage_format = "text";
  // Run-time sets (strata/sets.hpp): "NAME=FILE", loaded before the capture; -i reloads them on SIGHUP.
  std::vector<std::string> sets;
};

/// One --set NAME=FILE, resolved against the engine's sets.
struct set_source {
  std::string name, file;
  set_kind kind = set_kind::address;
  std::shared_ptr<const set_data> data;  // filled by load_sets
};

/// Resolves every --set NAME=FILE against the sets `Engine`'s policies name. Returns 0, or 2 (usage)
/// after printing the error.
template <class Engine>
int parse_sets(const std::vector<std::string>& specs, std::vector<set_source>& out) {
  std::string known;
  for (const set_info& i : Engine::sets())
    known += (known.empty() ? "" : ", ") + std::string(i.name) + " (" + std::string(name(i.kind)) + ")";
  if (known.empty()) known = "none";
  for (const std::string& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      std::fprintf(stderr, "strata-classify: --set %s: expected NAME=FILE\n", spec.c_str());
      return 2;
    }
    set_source s;
    s.name = spec.substr(0, eq);
    s.file = spec.substr(eq + 1);
    const int i = Engine::sets_type::find(s.name);
    if (i < 0) {
      std::fprintf(stderr, "strata-classify: --set %s: no compiled-in policy names a set %s (sets: %s)\n",
                   spec.c_str(), s.name.c_str(), known.c_str());
      return 2;
    }
    s.kind = Engine::sets()[static_cast<std::size_t>(i)].kind;
    out.push_back(std::move(s));
  }
  return 0;
}

/// Reads every set file. Returns 0, 1 (a file could not be read) or 2 (a bad line: FILE:LINE), the
/// error printed after `context`.
inline int load_sets(std::vector<set_source>& sets, const char* context = "--set") {
  for (set_source& s : sets) {
    set_file_result r = load_set_file(s.file, s.kind);
    if (!r) {
      std::fprintf(stderr, "strata-classify: %s %s: %s\n", context, s.name.c_str(), r.error.c_str());
      return r.io ? 1 : 2;
    }
    s.data = std::move(r.data);
  }
  return 0;
}

namespace detail {

template <class Engine>
void print_summary(std::FILE* out, const Engine& e, std::span<const std::string_view> names,
                   std::size_t policy_index) {
  const engine_counters& c = e.counters();
  std::fprintf(
      out,
      "summary: %llu frames, %llu permitted, %llu blocked (%llu suppressed answers), %llu malformed, "
      "%llu not IP, %llu forwarded duplicates\n",
      static_cast<unsigned long long>(c.frames), static_cast<unsigned long long>(c.permitted),
      static_cast<unsigned long long>(c.blocked), static_cast<unsigned long long>(c.suppressed),
      static_cast<unsigned long long>(c.malformed), static_cast<unsigned long long>(c.not_ip),
      static_cast<unsigned long long>(c.duplicates));
  const auto& fs = e.flows().stats();
  std::fprintf(out,
               "flows: %llu created, %llu evicted (%llu embryonic, %llu idle, %llu other), %llu expired; "
               "reauthorized %llu, torn down %llu\n",
               static_cast<unsigned long long>(fs.inserted),
               static_cast<unsigned long long>(fs.evicted_embryonic + fs.evicted_idle + fs.evicted_other),
               static_cast<unsigned long long>(fs.evicted_embryonic),
               static_cast<unsigned long long>(fs.evicted_idle),
               static_cast<unsigned long long>(fs.evicted_other), static_cast<unsigned long long>(fs.expired),
               static_cast<unsigned long long>(c.reauthorized), static_cast<unsigned long long>(c.torn_down));
  const auto& rs = e.reassembly().stats();
  std::fprintf(out,
               "reassembly: %llu completed, %llu timed out, %llu dropped (overlap %llu, too large %llu, "
               "limits %llu)\n",
               static_cast<unsigned long long>(rs.completed), static_cast<unsigned long long>(rs.timed_out),
               static_cast<unsigned long long>(rs.dropped_overlap + rs.dropped_too_large + rs.dropped_limits),
               static_cast<unsigned long long>(rs.dropped_overlap),
               static_cast<unsigned long long>(rs.dropped_too_large),
               static_cast<unsigned long long>(rs.dropped_limits));
  std::fprintf(out, "layer visits:\n");
  for (std::size_t l = 0; l < layer_count; ++l) {
    if (c.layer_visits[l] == 0) continue;
    const std::string_view id = short_identifier(static_cast<layer_id>(l));
    std::fprintf(out, "  %-36.*s %llu\n", static_cast<int>(id.size()), id.data(),
                 static_cast<unsigned long long>(c.layer_visits[l]));
  }
  for (std::size_t p = 0; p < names.size(); ++p) {
    const auto hits = e.filter_hits(p);
    std::uint64_t total = 0;
    for (auto h : hits) total += h;
    if (hits.empty() || (p != policy_index && total == 0)) continue;  // a policy never in force
    std::fprintf(out, "filter decisions (policy %.*s%s):\n", static_cast<int>(names[p].size()),
                 names[p].data(), p == policy_index ? "" : ", earlier");
    for (std::size_t f = 0; f < hits.size(); ++f) {
      const std::string_view n = Engine::filter_name(p, static_cast<std::int16_t>(f));
      const std::string name_text(n);  // never a null pointer for %s, whatever the optimizer proves
      std::fprintf(out, "  %-36s %llu\n", name_text.c_str(), static_cast<unsigned long long>(hits[f]));
    }
  }
}

/// The coverage report: per policy in force during the run, the filters whose decision counter stayed 0.
template <class Engine>
void print_coverage(std::FILE* out, const Engine& e, std::span<const std::string_view> names,
                    const std::vector<bool>& in_force, bool json) {
  std::string s = json ? "{\"policies\":[" : "";
  bool first_policy = true;
  for (std::size_t p = 0; p < names.size(); ++p) {
    if (!in_force[p]) continue;
    const auto hits = e.filter_hits(p);
    std::size_t never = 0;
    for (auto h : hits) never += h == 0;
    if (json) {
      if (!first_policy) s += ',';
      s += "{\"policy\":";
      strata::detail::an::append_json_string(s, names[p]);
      s += ",\"filters\":" + std::to_string(hits.size()) + ",\"never_decided\":[";
    } else {
      s += "coverage (policy " + std::string(names[p]) + "): " + std::to_string(hits.size()) + " filters, " +
           std::to_string(never) + " never decided a packet" + (never ? ":" : "") + "\n";
    }
    first_policy = false;
    bool first = true;
    Engine::with_policy(p, [&](const auto& pol) {
      for (std::size_t f = 0; f < hits.size(); ++f) {
        if (hits[f] != 0) continue;
        const filter_value& fv = pol.filters[f];
        const std::string_view layer = short_identifier(fv.layer),
                               sub = pol.sublayers[fv.sublayer_index].name;
        if (json) {
          if (!first) s += ',';
          s += "{\"filter\":";
          strata::detail::an::append_json_string(s, fv.name);
          s += ",\"layer\":\"" + std::string(layer) + "\",\"sublayer\":";
          strata::detail::an::append_json_string(s, sub);
          s += ",\"action\":\"" + std::string(name(fv.act)) + "\"}";
        } else {
          s += "  " + std::string(layer);
          s.append(layer.size() < 36 ? 36 - layer.size() : 1, ' ');
          s += std::string(fv.name) + " (sublayer " + std::string(sub) + ", " + std::string(name(fv.act)) +
               ")\n";
        }
        first = false;
      }
    });
    if (json) {
      s += "],\"decisions\":{";
      for (std::size_t f = 0; f < hits.size(); ++f) {
        if (f) s += ',';
        strata::detail::an::append_json_string(s, Engine::filter_name(p, static_cast<std::int16_t>(f)));
        s += ":" + std::to_string(hits[f]);
      }
      s += "}}";
    }
  }
  if (json) s += "]}\n";
  std::fwrite(s.data(), 1, s.size(), out);
}

}  // namespace detail

#if defined(STRATA_HAVE_LIVE)
namespace detail {
template <class Engine>
int run_live(const options& o, const std::vector<port_hint>& hints, std::span<const std::string_view> names,
             std::size_t selected);  // strata/live/cli.hpp, included at the end of this file
}  // namespace detail
#endif

/// Runs strata-classify with the given compiled-in policies. `names` name them for --policy.
template <auto const&... Policies>
int main(int argc, char** argv, std::array<std::string_view, sizeof...(Policies)> names = {}) {
  using engine_type = engine<Policies...>;
  constexpr std::size_t n = sizeof...(Policies);
  std::array<std::string, n> name_storage;
  for (std::size_t i = 0; i < n; ++i) {
    name_storage[i] = names[i].empty() ? "policy" + std::to_string(i) : std::string(names[i]);
    names[i] = name_storage[i];
  }

  options o;
  CLI::App app{"strata-classify: the Windows Filtering Platform's filter engine, applied to a capture"};
  app.set_version_flag("--version", std::to_string(version_major) + "." + std::to_string(version_minor) +
                                        "." + std::to_string(version_patch));
  app.add_option("-r,--read", o.read_file, "capture file to read (pcap or pcapng)");
  app.add_option("--local", o.locals,
                 "an address or prefix of the observed host (repeatable; required with -r)");
  app.add_option("-i,--interface", o.interfaces,
                 "live: capture on this interface (repeatable; needs CAP_NET_RAW)");
  app.add_option("--workers", o.workers,
                 "live: worker threads (PACKET_FANOUT_HASH), each with its own flow table")
      ->check(CLI::Range(1, 64));
  app.add_option("--duration", o.duration, "live: stop after S seconds")->check(CLI::NonNegativeNumber);
  app.add_flag("--promisc", o.promiscuous, "live: put the interfaces in promiscuous mode");
  app.add_option("--user", o.user,
                 "live: after opening the sockets, become this user (default as root: nobody; "
                 "root keeps root)");
  app.add_option("-s,--snaplen", o.snaplen, "live: bytes kept per frame")->check(CLI::Range(64u, 262144u));
  app.add_option("--block-size", o.block_size, "live: ring block size in bytes (power of two)");
  app.add_option(
         "--blocks", o.block_count,
         "live: ring blocks per interface and worker (default: 8 with -q, 32 when records are written)")
      ->check(CLI::Range(2u, 65536u));
  app.add_flag("-l,--line-buffered", o.line_buffered, "live: flush stdout after every record");
  auto* enforce = app.add_flag("--enforce", o.enforce,
                               "live: apply the verdicts to the host's own traffic on the "
                               "-i interfaces (NFQUEUE; needs CAP_NET_ADMIN)");
  auto* fail_open =
      app.add_flag("--fail-open", o.fail_open, "with --enforce: if the process dies, let the traffic pass");
  auto* fail_closed = app.add_flag("--fail-closed", o.fail_closed,
                                   "with --enforce: if the process dies, drop the "
                                   "traffic until the next start (the default)");
  enforce->needs("--interface");
  fail_open->needs(enforce)->excludes(fail_closed);
  fail_closed->needs(enforce);
  app.add_option("--queue", o.queue, "with --enforce: the NFQUEUE number (default 0)")->needs(enforce);
  app.add_option("--listen", o.listen, "PROTO/PORT someone listens on (overrides inference)");
  app.add_option("--closed", o.closed, "PROTO/PORT nobody listens on (overrides inference)");
  std::string policy_help = "compiled-in policy:";
  for (auto nm : names) policy_help += " " + std::string(nm);
  app.add_option("--policy", o.policy, policy_help);
  app.add_option("--format", o.format, "record format")->check(CLI::IsMember({"jsonl", "text"}));
  app.add_option("-c,--count", o.count, "stop after COUNT frames");
  app.add_option("-w,--write", o.write_file,
                 "write the blocked packets (with --all: every packet) to a pcap");
  app.add_flag("--all", o.write_all, "with -w: write every packet");
  app.add_flag("--summary", o.summary,
               "print counts (layers, filters, verdicts, malformed, evicted) to stderr");
  app.add_flag("-q,--quiet", o.quiet, "print no records");
  app.add_option("--switch", o.switches,
                 "FRAME:POLICY: switch to POLICY before frame FRAME (reauthorizes flows)");
  app.add_option("--flows", o.flow_capacity, "flow table capacity")->check(CLI::Range(16u, 1u << 26));
  app.add_flag("--analyze", o.analyze,
               "print the selected policy's anomaly report (shadowed, redundant, overridden "
               "filters; overlaps) and exit; needs no capture");
  app.add_option("--analyze-format", o.analyze_format, "format of --analyze")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--coverage", o.coverage,
               "after the capture, print the filters that never decided a packet (stdout)");
  app.add_option("--coverage-format", o.coverage_format, "format of --coverage")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--set", o.sets,
                 "NAME=FILE: the contents of run-time set NAME (one address/prefix or port/range a "
                 "line, # comments; repeatable; a set not loaded is empty; -i: reloaded on SIGHUP)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (!o.analyze && o.read_file.empty() == o.interfaces.empty()) {
    std::fprintf(stderr,
                 "strata-classify: give either -r/--read FILE or -i/--interface INTERFACE (see --help)\n");
    return 2;
  }
  if (!o.analyze && !o.read_file.empty() && o.locals.empty()) {
    std::fprintf(stderr, "strata-classify: --local is required with -r (the observed host's addresses)\n");
    return 2;
  }
  std::vector<port_hint> hints;

  host h;
  for (const auto& l : o.locals) {
    if (!h.add_local(l)) {
      std::fprintf(stderr, "strata-classify: --local %s: not an address or prefix\n", l.c_str());
      return 2;
    }
  }
  for (const auto& [list, listening] : {std::pair{&o.listen, true}, std::pair{&o.closed, false}}) {
    for (const auto& s : *list) {
      auto hint = parse_port_hint(s, listening);
      if (!hint) {
        std::fprintf(stderr, "strata-classify: %s %s: expected PROTO/PORT such as tcp/22\n",
                     listening ? "--listen" : "--closed", s.c_str());
        return 2;
      }
      h.add_hint(*hint);
      hints.push_back(*hint);
    }
  }
  auto policy_index = [&](std::string_view nm) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < n; ++i)
      if (names[i] == nm) return i;
    return std::nullopt;
  };
  std::size_t selected = 0;
  if (!o.policy.empty()) {
    auto i = policy_index(o.policy);
    if (!i) {
      std::fprintf(stderr, "strata-classify: --policy %s: unknown (%s)\n", o.policy.c_str(),
                   policy_help.c_str());
      return 2;
    }
    selected = *i;
  }
  std::vector<std::pair<std::uint64_t, std::size_t>> switches;
  for (const auto& s : o.switches) {
    const auto colon = s.find(':');
    std::uint64_t frame = 0;
    std::optional<std::size_t> target;
    if (colon != std::string::npos) {
      auto [end, ec] = std::from_chars(s.data(), s.data() + colon, frame);
      if (ec == std::errc{} && end == s.data() + colon)
        target = policy_index(std::string_view(s).substr(colon + 1));
    }
    if (!target) {
      std::fprintf(stderr, "strata-classify: --switch %s: expected FRAME:POLICY\n", s.c_str());
      return 2;
    }
    switches.emplace_back(frame, *target);
  }
  std::vector<set_source> sets;
  if (const int rc = parse_sets<engine_type>(o.sets, sets)) return rc;
  if (o.analyze) {  // the selected policy's anomaly report (strata/analysis.hpp), then done
    std::string report;
    engine_type::with_policy(selected, [&](const auto& p) {
      const policy_report r = analyze(p);
      report = o.analyze_format == "json" ? analysis_json(r) + "\n" : analysis_text(r);
    });
    std::fwrite(report.data(), 1, report.size(), stdout);
    return 0;
  }
  std::vector<bool> in_force(n, false);  // the policies in force during the run (--coverage)
  in_force[selected] = true;
  for (const auto& sw : switches) in_force[sw.second] = true;

  if (!o.interfaces.empty()) {  // live capture (strata/live/cli.hpp)
#if defined(STRATA_HAVE_LIVE)
    return detail::run_live<engine_type>(o, hints, names, selected);
#else
    std::fprintf(
        stderr,
        "strata-classify: -i: built without live capture (strata::live needs libmnl and libcap-ng)\n");
    return 2;
#endif
  }

  // Pass 1: the host's own "nobody here" answers, for the listener inference (traversal.md §3).
  flow::answer_index answers;
  {
    auto reader = io::pcap_reader::open(o.read_file);
    if (!reader) {
      std::fprintf(stderr, "strata-classify: %s\n", reader.error().what().c_str());
      return 1;
    }
    scan_answers(*reader, h, answers, o.count ? o.count + answers.max_frames : 0);
  }

  auto reader = io::pcap_reader::open(o.read_file);
  if (!reader) {
    std::fprintf(stderr, "strata-classify: %s\n", reader.error().what().c_str());
    return 1;
  }
  engine_config config;
  config.flow_capacity = o.flow_capacity;
  config.link = reader->link_type();
  if (const int rc = load_sets(sets)) return rc;
  auto e = std::make_unique<engine_type>(h, config);
  e->select(selected);
  e->use_answers(&answers);
  for (const set_source& s : sets) e->replace_set(s.name, s.data);

  std::optional<io::pcap_writer> writer;
  if (!o.write_file.empty()) {
    auto w = io::pcap_writer::open(o.write_file, reader->datalink(), reader->snaplen());
    if (!w) {
      std::fprintf(stderr, "strata-classify: %s\n", w.error().what().c_str());
      return 1;
    }
    writer.emplace(std::move(*w));
  }

  const bool text = o.format == "text";
  const bool progress = isatty(STDERR_FILENO) && !o.quiet;
  std::string line;
  line.reserve(4096);
  std::uint64_t seen = 0;
  for (const io::frame& f : *reader) {
    for (const auto& [frame, target] : switches)
      if (frame == f.index) e->select(target);
    const record r = e->classify(f);
    if (!o.quiet) {
      line.clear();
      if (text)
        io::append_text<engine_type>(line, r);
      else
        io::append_json<engine_type>(line, r);
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
    if (writer && (o.write_all || r.blocked())) writer->write(f);
    ++seen;
    if (progress && seen % 65536 == 0)
      std::fprintf(stderr, "\r%llu frames", static_cast<unsigned long long>(seen));
    if (o.count && seen >= o.count) break;
  }
  if (progress && seen >= 65536)
    std::fprintf(stderr, "\r%llu frames\n", static_cast<unsigned long long>(seen));
  std::fflush(stdout);
  if (o.summary) detail::print_summary(stderr, *e, names, e->selected());
  if (o.coverage) detail::print_coverage(stdout, *e, names, in_force, o.coverage_format == "json");
  if (reader->failed()) {  // a truncated capture: classified up to the cut, and the cut is reported
    std::fprintf(stderr, "strata-classify: %s: %s\n", o.read_file.c_str(),
                 reader->error() ? reader->error()->what().c_str() : "read error");
    return 1;
  }
  return 0;
}

}  // namespace strata::cli

#if defined(STRATA_HAVE_LIVE)
#include <strata/live/cli.hpp>  // NOLINT(misc-header-include-cycle): the -i path
#endif
