// strata's demo (scripts/demo): the README's 15-line policy, compiled against the paths a TCP SYN can
// take, printed as the compiler built it, proven in a static_assert, and run on a few packets with a
// trace; then the bundled capture of real traffic (tests/data/strata-demo.pcap) classified with the
// `server` and `stealth` policies of strata-classify, a few flows' traces and the summary. Writes
// demo-pipeline.dot, demo-flow.dot and demo-capture-flow.dot (and .svg when Graphviz's `dot` is
// installed) into $STRATA_DEMO_OUT, or the current directory.
// strata-needs: pcap
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include <strata/cli.hpp>
#include <strata/render.hpp>
#include <strata/strata.hpp>

#include "policies.hpp"

using namespace strata;

// ---- the policy (README: "A policy in 15 lines") -------------------------------------------------------
constexpr sublayer admin{"admin", 0x8000}, base{"base", 0x1000};

// clang-format off
constexpr auto host_policy = policy(
    filter<"ssh-from-lan", layer::ale_auth_recv_accept_v4>(admin, weight(15), action::permit, hard,
                                                          local_port == 22, remote_address == "10.0.0.0/8"_v4),
    filter<"web", layer::ale_auth_recv_accept_v4>(base, action::permit, local_port == 80 || local_port == 443),
    filter<"no-inbound", layer::ale_auth_recv_accept_v4>(base, weight(0), action::block),
    filter<"stealth-tcp", layer::inbound_transport_v4_discard>(base, action::block, ip_protocol == proto::tcp));
// clang-format on

using host_pipeline = compiled<host_policy>;  // the policy compiled: one straight-line pipeline per path

// ---- constant packets (what the host 10.0.0.2 sees at its layers) ------------------------------------
constexpr incoming_values tcp_syn(prefix from, std::uint16_t to_port) {
  return {.local_address = "10.0.0.2"_v4,
          .remote_address = from,
          .local_port = to_port,
          .remote_port = 40980,
          .ip_protocol = proto::tcp};
}
constexpr incoming_values ssh_from_lan = tcp_syn("10.1.2.3"_v4, 22);

// Proven by the compiler, not by a test run: the compiled pipeline permits SSH from the LAN...
static_assert(host_pipeline::run<path::tcp::inbound_syn<v4>>(ssh_from_lan).verdict == action::permit);
// ...blocks it from elsewhere, and the interpreted reference agrees.
static_assert(host_pipeline::run<path::tcp::inbound_syn<v4>>(tcp_syn("192.0.2.7"_v4, 22)).verdict ==
              action::block);
static_assert(verdict(host_policy, path::tcp::inbound_syn<v4>{}, ssh_from_lan) == action::permit);

namespace {

std::string out_dir() {
  const char* dir = std::getenv("STRATA_DEMO_OUT");
  return dir != nullptr && *dir != '\0' ? std::string(dir) + "/" : std::string();
}

// Writes <stem>.dot, and <stem>.svg when `dot` is on PATH.
void write_graph(const std::string& stem, const std::string& dot) {
  const std::string dot_file = out_dir() + stem + ".dot";
  {
    std::ofstream out(dot_file, std::ios::binary | std::ios::trunc);
    out << dot;
    if (!out) {
      std::printf("  could not write %s\n", dot_file.c_str());
      return;
    }
  }
  std::printf("  wrote %s\n", dot_file.c_str());
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    std::printf("  (Graphviz's dot is not installed: no SVG)\n");
    return;
  }
  const std::string svg_file = out_dir() + stem + ".svg";
  const std::string cmd = "dot -Tsvg '" + dot_file + "' -o '" + svg_file + "'";
  if (std::system(cmd.c_str()) == 0)
    std::printf("  wrote %s\n", svg_file.c_str());
  else
    std::printf("  dot failed on %s\n", dot_file.c_str());
}

template <class Path>
path_result classify(std::string_view what, const incoming_values& v, trace& t) {
  const path_result r = host_pipeline::run<Path>(v, t);
  std::string flow = "tcp " + to_string(v.remote_address, family::v4) + ":" + std::to_string(v.remote_port) +
                     " > " + to_string(v.local_address, family::v4) + ":" + std::to_string(v.local_port);
  flow.resize(std::max<std::size_t>(flow.size(), 36), ' ');
  std::string situation(what);
  situation.resize(std::max<std::size_t>(situation.size(), 26), ' ');
  std::printf("  in  %s %s %s  => %s\n", flow.c_str(), situation.c_str(), to_text(t, host_policy).c_str(),
              std::string(name(r.verdict)).c_str());
  return r;
}

void section(const char* title) { std::printf("\n=== %s\n\n", title); }

// The bundled capture: real kernel traffic between three network namespaces (tests/data/strata-demo.md).
using capture_engine = engine<policies::server, policies::stealth>;
constexpr std::string_view capture_policy_names[] = {"server", "stealth"};

int classify_capture(const char* file) {
  host observed;
  for (const char* a : {"10.99.1.2", "10.99.2.1", "fd99:1::2", "fd99:2::1"}) observed.add_local(a);
  flow::answer_index answers;  // who listens: inferred from the host's own RSTs and ICMP unreachables
  {
    auto pre = io::pcap_reader::open(file);
    if (!pre) {
      std::printf("  %s\n", pre.error().what().c_str());
      return 1;
    }
    cli::scan_answers(*pre, observed, answers);
  }
  // A TCP connection to the host, the SYN to a closed port and its RST, the UDP datagram to a closed
  // port and its ICMP error, a fragmented datagram, and a forwarded TCP handshake.
  constexpr std::uint64_t shown[] = {7, 8, 9, 10, 29, 30, 35, 36, 39, 40, 41, 57, 58};
  for (std::size_t p = 0; p < 2; ++p) {
    auto capture = io::pcap_reader::open(file);
    if (!capture) return 1;
    capture_engine e{observed, {.link = capture->link_type()}};
    e.select(p);
    e.use_answers(&answers);
    std::printf("--- policy %.*s\n", static_cast<int>(capture_policy_names[p].size()),
                capture_policy_names[p].data());
    std::string line;
    for (const record& r : *capture | views::classify(e)) {
      if (std::find(std::begin(shown), std::end(shown), r.frame) == std::end(shown)) continue;
      line.clear();
      io::append_text<capture_engine>(line, r);
      std::printf("%s\n", line.c_str());
      if (p == 0 && r.frame == 7)
        capture_engine::with_policy(0, [&](const auto& pol) {
          write_graph("demo-capture-flow",
                      to_dot(r.steps, pol, {}, "frame 7: tcp 10.99.1.1:40080 > 10.99.1.2:8080 (SYN)"));
        });
    }
    std::printf("\n");
    cli::detail::print_summary(stdout, e, capture_policy_names, p);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  section("the policy");
  std::fputs(to_text(host_policy).c_str(), stdout);

  section("compiled against two paths of an inbound TCP SYN");
  std::fputs(pipeline_text<host_pipeline>(path::tcp::inbound_syn<v4>{}).c_str(), stdout);
  std::fputs("\n", stdout);
  std::fputs(pipeline_text<host_pipeline>(path::tcp::inbound_syn_no_listener<v4>{}).c_str(), stdout);

  section("packets, classified by the compiled pipelines, with a trace");
  trace ssh;
  const path_result ssh_result = classify<path::tcp::inbound_syn<v4>>("(SYN, listener)", ssh_from_lan, ssh);
  trace t2, t3, t4, t5;
  classify<path::tcp::inbound_syn<v4>>("(SYN, listener)", tcp_syn("192.0.2.7"_v4, 22), t2);
  classify<path::tcp::inbound_syn<v4>>("(SYN, listener)", tcp_syn("192.0.2.7"_v4, 443), t3);
  classify<path::tcp::inbound_syn_no_listener<v4>>("(SYN, nobody listening)", tcp_syn("10.9.9.9"_v4, 9), t4);
  classify<path::tcp::inbound_data<v4>>("(data, established flow)", tcp_syn("192.0.2.7"_v4, 443), t5);

  section("pictures");
  constexpr path_key syn_paths[] = {path::tcp::inbound_syn<v4>::key,
                                    path::tcp::inbound_syn_no_listener<v4>::key};
  write_graph("demo-pipeline", pipeline_dot<host_pipeline>(std::span<const path_key>(syn_paths)));
  write_graph("demo-flow", to_dot(ssh, host_policy, ssh_result, "tcp 10.1.2.3:40980 > 10.0.0.2:22 (SYN)"));

  section("a capture of real traffic (tests/data/strata-demo.pcap), classified with `server` and `stealth`");
  return classify_capture(argc > 1 ? argv[1] : "tests/data/strata-demo.pcap");
}
