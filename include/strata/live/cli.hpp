// strata-classify -i IFACE: the live path of strata::cli::main (strata/cli.hpp includes this header
// when strata::live is linked, i.e. STRATA_HAVE_LIVE is defined).
//
//   strata-classify -i eth0 [-i eth1 ...] [--workers N] [--duration S] [-c COUNT] [--promisc]
//                   [--user NAME] [-w FILE [--all]] [--summary] [--format jsonl|text] [--policy P]
//
// Order of things: open every socket (packet rings, rtnetlink, sock_diag) and the -w file, then drop
// to an unprivileged user (default `nobody` when run as root; `--user root` keeps root), then start
// the threads. SIGINT/SIGTERM end the capture cleanly: records already captured are printed, then
// the summary (a second signal exits at once). With --set NAME=FILE, SIGHUP reloads the set files
// (strata/sets.hpp: each worker picks the new sets up before its next frame). Exit status: 0 (ended by a
// bound or a signal), 1 (cannot open, or a watched interface was removed), 2 (usage).
#pragma once

#include <strata/cli.hpp>
#include <strata/live/privileges.hpp>
#include <strata/live/session.hpp>
#if defined(STRATA_HAVE_ENFORCE)
#include <linux/capability.h>

#include <strata/live/enforce.hpp>
#endif

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace strata::cli {

namespace detail {

/// The signal thread of a live run (the signals are blocked in every thread and taken here): SIGHUP calls
/// on_hup(), which returns false to treat it as a stop request; a first SIGINT/SIGTERM calls stop(); a
/// second one calls give_up() and exits at once. The same signal delivered twice at once (timeout(1)
/// sends it to the command and to its process group) is one request. End it with end_signal_thread.
template <class OnHup, class Stop, class GiveUp>
std::thread signal_thread(const sigset_t& set, const std::atomic<bool>& finished, OnHup on_hup, Stop stop,
                          GiveUp give_up) {
  return std::thread([&set, &finished, on_hup, stop, give_up] {
    std::chrono::steady_clock::time_point first{};
    bool seen = false;
    while (!finished.load()) {
      // A long wait: end_signal_thread wakes it. Each wake-up of an idle thread costs tens of microseconds
      // on a virtual machine, counted against every packet (10 a second were 1.3 ms of CPU a second).
      timespec t{1, 0};
      const int sig = sigtimedwait(&set, nullptr, &t);
      if (sig <= 0) continue;
      if (finished.load()) break;  // the wake-up of end_signal_thread
      if (sig == SIGHUP && on_hup()) continue;
      const auto now = std::chrono::steady_clock::now();
      if (seen && now - first > std::chrono::seconds(1)) {
        give_up();
        _exit(128 + sig);
      }
      if (!seen) first = now;
      seen = true;
      stop();
    }
  });
}

/// Ends a signal_thread: marks the run finished, wakes the thread (a signal of its set sent to it alone),
/// joins it.
inline void end_signal_thread(std::atomic<bool>& finished, std::thread& t) {
  finished.store(true);
  ::pthread_kill(t.native_handle(), SIGTERM);
  t.join();
}

/// A socket event as one JSON object: {"event":"listen","frame":null,"time":"…","socket":"tcp 0.0.0.0:8080",
/// "steps":[…],"verdict":"permit","filter":null}.
template <class Names>
void append_event_json(std::string& out, const record& r) {
  // The frame record's own formatter does the steps; the head is rewritten for a socket.
  std::string body;
  io::append_json<Names>(body, r);
  const auto steps = body.find(",\"steps\":");
  out += "{\"event\":\"listen\",\"frame\":null,\"dir\":null,\"socket\":\"";
  out += io::detail::protocol_name(r.flow.protocol, r.flow.fam);
  out += ' ';
  io::detail::append_address(out, r.flow.src, r.flow.fam, true);
  out += ':';
  io::detail::append_uint(out, r.flow.src_port);
  out += '"';
  out.append(body, steps, std::string::npos);
}

template <class Names>
void append_event_text(std::string& out, const record& r) {
  out += "    - event listen ";
  out += io::detail::protocol_name(r.flow.protocol, r.flow.fam);
  out += ' ';
  io::detail::append_address(out, r.flow.src, r.flow.fam, true);
  out += ':';
  io::detail::append_uint(out, r.flow.src_port);
  out += "  ";
  Names::with_policy(r.policy, [&](const auto& p) { out += to_text(r.steps, p); });
}

#if defined(STRATA_HAVE_ENFORCE)
/// The enforcing path of `main` (-i … --enforce; strata/live/enforce.hpp). Order: remove a table left
/// by a crash, bind the queue, install the rules, then drop to the unprivileged user keeping only
/// CAP_NET_ADMIN: the kernel checks it on every verdict (an nfnetlink message) and on the table's
/// removal, which this process does itself at exit. Every exit path removes the rules: the normal
/// end, SIGINT/SIGTERM/SIGHUP, a second signal (removed before _exit), an error (the enforcer's
/// destructor). A crash leaves them to the kernel (fail-open: owned tables go with the process) or to
/// the next start (fail-closed).
template <class Engine>
int run_enforce(const options& o, const std::vector<port_hint>& hints,
                std::span<const std::string_view> names, std::size_t selected) {
  if (o.workers > 1) {
    std::fprintf(stderr, "strata-classify: --enforce uses one queue and one worker (leave --workers out)\n");
    return 2;
  }
  live::enforce_options eo;
  eo.interfaces = o.interfaces;
  eo.queue = o.queue;
  eo.fail_open = o.fail_open;
  eo.count = o.count;
  eo.duration = std::chrono::nanoseconds(static_cast<std::int64_t>(o.duration * 1e9));
  eo.engine.flow_capacity = o.flow_capacity;
  eo.policy = selected;
  eo.extra_locals = o.locals;
  eo.hints = hints;
  eo.on_status = [](const std::string& s) { std::fprintf(stderr, "strata-classify: %s\n", s.c_str()); };

  std::vector<set_source> sets;  // --set: loaded before the rules go in, reloaded on SIGHUP
  if (const int rc = parse_sets<Engine>(o.sets, sets)) return rc;
  if (const int rc = load_sets(sets)) return rc;

  // Signals first: a SIGINT while the rules go in must not kill the process before it can remove them.
  // SIGHUP reloads the --set files, or without them ends the run like SIGTERM.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout ends the run through the write error, rules removed

  std::optional<live::enforcer<Engine>> en;
  try {
    en.emplace(eo);
  } catch (const live::error& e) {
    std::fprintf(stderr, "strata-classify: %s\n", e.what());
    return e.code() == live::errc::invalid_argument ? 2 : 1;
  }
  for (const set_source& st : sets) en->replace_set(st.name, st.data);
  std::optional<io::pcap_writer> writer;
  if (!o.write_file.empty()) {
    auto w = io::pcap_writer::open(o.write_file, packet::link_type::raw, o.snaplen);
    if (!w) {
      std::fprintf(stderr, "strata-classify: %s\n", w.error().what().c_str());
      return 1;  // the enforcer's destructor removes the rules
    }
    writer.emplace(std::move(*w));
  }
  std::string user = !o.user.empty() ? o.user : (::geteuid() == 0 ? std::string("nobody") : std::string());
  if (o.user.empty() && !user.empty() && ::getpwnam(user.c_str()) == nullptr) {
    std::fprintf(stderr,
                 "strata-classify: warning: no user %s to drop privileges to; staying root (use --user)\n",
                 user.c_str());
    user.clear();
  }
  if (!user.empty() && !(user == "root" && ::geteuid() == 0)) {
    try {
      live::drop_privileges(user, {CAP_NET_ADMIN});
    } catch (const live::error& e) {
      std::fprintf(stderr, "strata-classify: %s\n", e.what());
      return e.code() == live::errc::invalid_argument ? 2 : 1;
    }
  }
  std::fprintf(stderr, "strata-classify: enforcing policy %.*s on %zu interface%s (NFQUEUE %u, %s)\n",
               static_cast<int>(names[selected].size()), names[selected].data(), o.interfaces.size(),
               o.interfaces.size() == 1 ? "" : "s", static_cast<unsigned>(o.queue),
               o.fail_open ? "fail-open" : "fail-closed");

  std::atomic<bool> finished{false};
  std::thread signals = signal_thread(
      set, finished,
      [&] {  // without --set, SIGHUP ends the run like SIGTERM
        if (sets.empty()) return false;
        std::vector<set_source> fresh = sets;
        if (load_sets(fresh, "SIGHUP: --set") != 0) {
          std::fprintf(stderr, "strata-classify: SIGHUP: the sets in force are kept\n");
          return true;
        }
        for (const set_source& st : fresh) en->replace_set(st.name, st.data);
        std::fprintf(stderr, "strata-classify: SIGHUP: sets reloaded\n");
        return true;
      },
      [&] { en->request_stop(); },
      [&] { en->remove_rules(); });  // a second signal gives up at once, but never leaves the rules behind

  const bool text = o.format == "text";
  const bool flush_each = o.line_buffered || isatty(STDOUT_FILENO);
  std::string line;
  line.reserve(4096);
  bool write_failed = false;
  try {
    en->run([&](const live::output& out) {
      if (!o.quiet) {
        line.clear();
        if (text)
          io::append_text<Engine>(line, out.rec);
        else
          io::append_json<Engine>(line, out.rec);
        line += '\n';
        if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
            (flush_each && std::fflush(stdout) != 0))
          en->request_stop();  // stdout is gone (a closed pipe): end cleanly
      }
      if (writer && (o.write_all || out.rec.blocked()))
        if (!writer->write(out.frame)) write_failed = true;
    });
  } catch (const std::exception& e) {
    en->remove_rules();
    end_signal_thread(finished, signals);
    std::fprintf(stderr, "strata-classify: %s\n", e.what());
    return 1;
  }
  en->remove_rules();
  end_signal_thread(finished, signals);
  std::fflush(stdout);
  if (writer && !writer->close()) write_failed = true;

  if (o.summary) {
    print_summary(stderr, en->engine(), names, selected);
    const auto& st = en->stats();
    std::fprintf(
        stderr,
        "enforce: %llu packets queued, %llu accepted, %llu dropped; kernel: %llu dropped (queue full), "
        "%llu dropped (socket full); %llu verdicts not sent\n",
        static_cast<unsigned long long>(st.packets), static_cast<unsigned long long>(st.accepted),
        static_cast<unsigned long long>(st.dropped), static_cast<unsigned long long>(st.queue_dropped),
        static_cast<unsigned long long>(st.user_dropped), static_cast<unsigned long long>(st.verdict_errors));
  }
  if (write_failed) {
    std::fprintf(stderr, "strata-classify: %s: write error\n", o.write_file.c_str());
    return 1;
  }
  if (!en->end_reason().empty()) return 1;
  return 0;
}
#endif

/// "32 MiB", "8 KiB", "1536 bytes": a ring's size as the summary prints it.
inline std::string byte_size(std::uint64_t n) {
  if (n != 0 && n % (std::uint64_t{1} << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n != 0 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

/// The live path of `main` (see the top of this file).
template <class Engine>
int run_live(const options& o, const std::vector<port_hint>& hints, std::span<const std::string_view> names,
             std::size_t selected) {
  if (o.enforce) {  // --set included: run_enforce loads the sets into the enforcer's engine
#if defined(STRATA_HAVE_ENFORCE)
    return run_enforce<Engine>(o, hints, names, selected);
#else
    std::fprintf(stderr,
                 "strata-classify: --enforce: built without enforcing mode (needs libnetfilter_queue)\n");
    return 2;
#endif
  }
  live::session_options so;
  so.capture.interfaces = o.interfaces;
  so.capture.promiscuous = o.promiscuous;
  so.capture.snaplen = o.snaplen;
  so.capture.ring.block_size = o.block_size;
  so.frame_records = !o.quiet || !o.write_file.empty();  // -q without -w: nobody reads the records
  so.capture.ring.block_count =
      o.block_count != 0 ? o.block_count : live::default_ring_blocks(so.frame_records);
  so.workers = o.workers;
  so.count = o.count;
  so.duration = std::chrono::nanoseconds(static_cast<std::int64_t>(o.duration * 1e9));
  so.engine.flow_capacity = o.flow_capacity;
  so.policy = selected;
  so.extra_locals = o.locals;
  so.hints = hints;
  so.keep_frames = !o.write_file.empty();
  so.on_status = [](const std::string& s) { std::fprintf(stderr, "strata-classify: %s\n", s.c_str()); };

  std::vector<set_source> sets;  // --set: loaded now, reloaded on SIGHUP
  if (const int rc = parse_sets<Engine>(o.sets, sets)) return rc;
  if (const int rc = load_sets(sets)) return rc;

  std::optional<live::session<Engine>> s;
  try {
    s.emplace(so);
  } catch (const live::error& e) {
    std::fprintf(stderr, "strata-classify: %s\n", e.what());
    return 1;
  }
  for (const set_source& st : sets) s->replace_set(st.name, st.data);
  std::optional<io::pcap_writer> writer;
  if (!o.write_file.empty()) {
    auto w = io::pcap_writer::open(o.write_file, s->link_type(), o.snaplen);
    if (!w) {
      std::fprintf(stderr, "strata-classify: %s\n", w.error().what().c_str());
      return 1;
    }
    writer.emplace(std::move(*w));
  }
  // Least privilege: every socket is open; nothing later needs root.
  std::string user = !o.user.empty() ? o.user : (::geteuid() == 0 ? std::string("nobody") : std::string());
  if (o.user.empty() && !user.empty() &&
      ::getpwnam(user.c_str()) == nullptr) {  // the default, on a system without it
    std::fprintf(stderr,
                 "strata-classify: warning: no user %s to drop privileges to; staying root (use --user)\n",
                 user.c_str());
    user.clear();
  }
  if (!user.empty() && !(user == "root" && ::geteuid() == 0)) {
    try {
      live::drop_privileges(user);
    } catch (const live::error& e) {
      std::fprintf(stderr, "strata-classify: %s\n", e.what());
      return e.code() == live::errc::invalid_argument ? 2 : 1;
    }
  }

  // Signals: blocked in every thread, taken by one thread that asks the session to stop. With --set,
  // SIGHUP reloads the set files instead (a file that fails keeps every set as it was).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (!sets.empty()) sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto reload_sets = [&] {
    std::vector<set_source> fresh = sets;
    if (load_sets(fresh, "SIGHUP: --set") != 0) {
      std::fprintf(stderr, "strata-classify: SIGHUP: the sets in force are kept\n");
      return;
    }
    std::string done;
    for (const set_source& st : fresh) {
      s->replace_set(st.name, st.data);
      done += (done.empty() ? "" : ", ") + st.name + " (" + std::to_string(st.data->size()) + " entries)";
    }
    std::fprintf(stderr, "strata-classify: SIGHUP: sets reloaded: %s\n", done.c_str());
  };
  std::atomic<bool> finished{false};
  std::thread signals = signal_thread(
      set, finished,
      [&] {  // SIGHUP is in the set only with --set
        reload_sets();
        return true;
      },
      [&] { s->request_stop(); }, [] {});

  const bool text = o.format == "text";
  const bool flush_each = o.line_buffered || isatty(STDOUT_FILENO);
  // Records are formatted straight into one buffer, written when it holds 64 KiB and whenever the writer
  // is about to wait (the workers' queues are empty): few, large writes under load, and no record held
  // back once traffic pauses.
  constexpr std::size_t out_batch = std::size_t{1} << 16;
  std::string out_buf;
  out_buf.reserve(out_batch + 4096);
  auto write_out = [&] {
    std::size_t done = 0;
    for (int tries = 0; done < out_buf.size() && tries < 1000; ++tries) {  // bounded: partial writes
      const ssize_t n = ::write(STDOUT_FILENO, out_buf.data() + done, out_buf.size() - done);
      if (n > 0)
        done += static_cast<std::size_t>(n);
      else if (n < 0 && errno != EINTR)
        break;  // stdout is gone: the records are lost, as with fwrite
    }
    out_buf.clear();
  };
  bool write_failed = false;
  s->run(
      [&](const live::output& out) {
        if (!o.quiet) {
          if (out.event)
            text ? append_event_text<Engine>(out_buf, out.rec) : append_event_json<Engine>(out_buf, out.rec);
          else if (text)
            io::append_text<Engine>(out_buf, out.rec);
          else
            io::append_json<Engine>(out_buf, out.rec);
          out_buf += '\n';
          if (flush_each || out_buf.size() >= out_batch) write_out();
        }
        if (writer && !out.event && (o.write_all || out.rec.blocked()))
          if (!writer->write(out.frame)) write_failed = true;
      },
      [&] {
        if (!out_buf.empty()) write_out();
      });
  if (!out_buf.empty()) write_out();
  end_signal_thread(finished, signals);
  std::fflush(stdout);
  if (writer && !writer->close()) write_failed = true;

  if (o.summary) {
    const auto totals = s->totals();
    print_summary(stderr, totals, names, selected);
    for (const auto& [name, k] : s->kernel())
      std::fprintf(stderr, "kernel %s: %llu packets, %llu dropped (ring full), %llu queue freezes\n",
                   name.c_str(), static_cast<unsigned long long>(k.packets),
                   static_cast<unsigned long long>(k.drops), static_cast<unsigned long long>(k.freeze_q));
    const auto [answers, stale] = s->listener_answers();
    std::fprintf(stderr,
                 "live: %zu workers, ring %s per interface and worker, %llu socket events (passive opens), "
                 "%llu listener questions answered from the socket table (%llu from a snapshot older than "
                 "the packet)\n",
                 s->worker_count(),
                 byte_size(std::uint64_t{so.capture.ring.block_size} * so.capture.ring.block_count).c_str(),
                 static_cast<unsigned long long>(s->socket_events()),
                 static_cast<unsigned long long>(answers), static_cast<unsigned long long>(stale));
  }
  if (write_failed) {
    std::fprintf(stderr, "strata-classify: %s: write error\n", o.write_file.c_str());
    return 1;
  }
  if (!s->end_reason().empty()) {
    std::fprintf(stderr, "strata-classify: %s\n", s->end_reason().c_str());
    return 1;
  }
  return 0;
}

}  // namespace detail

}  // namespace strata::cli
