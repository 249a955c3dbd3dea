// A live classification session: N workers, each with its own AF_PACKET sockets (one per interface,
// joined to a PACKET_FANOUT_HASH group per interface), its own engine and flow table, and its own
// sock_diag listener cache, so nothing is shared or locked on the per-packet path. Each worker pushes
// its records into its own single-producer queue; one writer (the thread calling `run`) merges them,
// numbers them, and hands them to a sink. The kernel's flow hash is symmetric, so both directions of a
// flow reach the same worker and a flow's records keep their order; across flows the writer takes the
// oldest head first (approximately time order).
//
//   strata::live::session<strata::engine<observe>> s(opts);   // opens everything (throws live::error)
//   strata::live::drop_privileges("nobody");                  // optional, before run()
//   s.run([](const strata::live::output& o) { ... });          // until a bound, stop, or interface removal
//
// Also reported to the sink: new listening TCP sockets as the passive-open socket event (`output::event`).
// CMake target strata::live.
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <strata/engine.hpp>
#include <strata/live/af_packet.hpp>
#include <strata/live/host_monitor.hpp>

namespace strata::live {

/// How to run a session.
struct session_options {
  capture_options
      capture{};            ///< interfaces, ring, promiscuous, snaplen, poll timeout (its bounds are ignored)
  std::size_t workers = 1;  ///< fan-out members (threads); 1: no fan-out
  std::uint64_t count = 0;  ///< end after this many frames (0: no bound)
  std::chrono::nanoseconds duration{0};   ///< end after this long (0: no bound)
  engine_config engine{};                 ///< per worker (its link type is set from the interfaces)
  std::size_t policy = 0;                 ///< the policy in force
  std::vector<std::string> extra_locals;  ///< added to the kernel's addresses (--local)
  std::vector<port_hint> hints;           ///< --listen / --closed: override the socket table
  bool keep_frames =
      false;  ///< copy each frame's bytes to the sink (-w); otherwise `output::frame.data` is empty
  /// Hand each frame's record to the sink. false (strata-classify -q without -w): the workers only
  /// classify (the engines' counters still count every frame) and the sink gets socket events only, so
  /// no record is copied, queued or handed to another thread: that cost more than classifying it.
  bool frame_records = true;
  /// Records per worker queue (a full queue holds the worker: the ring fills). The queue is what lets a
  /// worker go on draining its ring while the writer is behind (formatting a record costs more than
  /// classifying it): 16,384 records are ~40 ms at 400k packets a second, ~10 MB per worker.
  std::size_t queue_capacity = 16384;
  std::chrono::milliseconds listen_poll{100};  ///< how often the socket table is read for new listeners
  bool socket_events = true;                   ///< report new listening sockets (passive open)
  std::chrono::nanoseconds listener_min_interval =
      std::chrono::milliseconds(1);  ///< sock_diag rate limit per worker
  /// Status lines (interface down / up again / removed); default: none.
  std::function<void(const std::string&)> on_status{};
};

/// One record for the sink.
struct output {
  const record& rec;       ///< `rec.frame` is the session's frame number (events: 0)
  const io::frame& frame;  ///< time, interface, direction; bytes only with keep_frames
  bool event = false;      ///< a socket event (passive open of a new listener), not a frame
  std::uint32_t worker = 0;
};

namespace detail {

/// A single-producer single-consumer ring of reusable slots.
template <class T>
class spsc {
 public:
  explicit spsc(std::size_t capacity) : slots_(capacity < 2 ? 2 : capacity) {}
  T* producer_slot() noexcept {
    const std::size_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_.load(std::memory_order_acquire) == slots_.size()) return nullptr;
    return &slots_[t % slots_.size()];
  }
  void publish() noexcept {
    tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  T* consumer_slot() noexcept {
    const std::size_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[h % slots_.size()];
  }
  void pop() noexcept { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

 private:
  std::vector<T> slots_;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

struct slot {
  record rec;
  io::frame frame;
  std::vector<std::byte> bytes;
};

/// Adds trivially copyable structs of std::uint64_t counters field by field.
template <class T>
void add_counters(T& into, const T& from) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % sizeof(std::uint64_t) == 0,
                "counters must be made of std::uint64_t");
  std::uint64_t a[sizeof(T) / 8], b[sizeof(T) / 8];
  std::memcpy(a, &into, sizeof(T));
  std::memcpy(b, &from, sizeof(T));
  for (std::size_t i = 0; i < sizeof(T) / 8; ++i) a[i] += b[i];
  std::memcpy(&into, a, sizeof(T));
}

}  // namespace detail

/// The workers' engines added up: what `cli::detail::print_summary` reads from an engine.
template <class Engine>
class engine_totals {
 public:
  template <class Range>
  explicit engine_totals(const Range& engines) {
    for (std::size_t p = 0; p < Engine::policy_count; ++p) hits_[p].clear();
    for (const Engine* e : engines) {
      detail::add_counters(counters_, e->counters());
      detail::add_counters(flows_.s, e->flows().stats());
      detail::add_counters(reassembly_.s, e->reassembly().stats());
      for (std::size_t p = 0; p < Engine::policy_count; ++p) {
        const auto h = e->filter_hits(p);
        if (hits_[p].size() < h.size()) hits_[p].resize(h.size(), 0);
        for (std::size_t i = 0; i < h.size(); ++i) hits_[p][i] += h[i];
      }
      selected_ = e->selected();
    }
  }
  const engine_counters& counters() const { return counters_; }
  auto& flows() const { return flows_; }
  auto& reassembly() const { return reassembly_; }
  std::span<const std::uint64_t> filter_hits(std::size_t p) const { return hits_[p]; }
  std::size_t selected() const { return selected_; }
  static constexpr std::string_view filter_name(std::size_t p, std::int16_t f) {
    return Engine::filter_name(p, f);
  }

 private:
  template <class S>
  struct holder {
    S s{};
    const S& stats() const { return s; }
  };
  engine_counters counters_{};
  holder<std::remove_cvref_t<decltype(std::declval<const Engine&>().flows().stats())>> flows_;
  holder<std::remove_cvref_t<decltype(std::declval<const Engine&>().reassembly().stats())>> reassembly_;
  std::array<std::vector<std::uint64_t>, Engine::policy_count> hits_;
  std::size_t selected_ = 0;
};

/// A live session (see the top of this file). `Engine` is a strata::engine<...> or verdict_engine<...>.
template <class Engine>
class session {
 public:
  explicit session(session_options o) : o_(std::move(o)) {
    if (o_.workers == 0) o_.workers = 1;
    if (o_.capture.interfaces.size() > 16)
      throw error(errc::invalid_argument, "", EINVAL, "at most 16 interfaces per session");
    wake_ = detail::unique_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) throw detail::system_error("", "eventfd", errno);
    // Fan-out group ids are per network namespace; derive them from the process id.
    const auto base =
        static_cast<std::uint16_t>(0x8000u | ((static_cast<unsigned>(::getpid()) * 16u) & 0x7ff0u));
    for (std::size_t w = 0; w < o_.workers; ++w) {
      auto wk = std::make_unique<worker>(o_.queue_capacity);
      capture_options c = o_.capture;
      c.count = 0;
      c.duration = o_.duration;
      c.stop = stop_.get_token();
      c.fanout_group = o_.workers > 1 ? base : 0;
      c.fanout_mode = PACKET_FANOUT_HASH;
      wk->src = std::make_unique<source>(c);  // in worker order: fan-out member w of each group
      workers_.push_back(std::move(wk));
    }
    std::vector<std::uint32_t> watched;
    for (const auto& s : workers_.front()->src->sockets()) watched.push_back(s.ifindex());
    monitor_ = std::make_unique<host_monitor>(o_.extra_locals, o_.hints, watched);
    if (o_.socket_events) listen_ = std::make_unique<listen_watch>();
    engine_config ec = o_.engine;
    ec.link = workers_.front()->src->link_type();
    const host h = monitor_->snapshot();
    watched_ = watched;
    for (auto& wk : workers_) {
      if (watched_.size() > 1) wk->routes = std::make_unique<route_cache>();
      wk->listeners = std::make_unique<listener_cache>(o_.listener_min_interval);
      wk->engine = std::make_unique<Engine>(h, ec);
      wk->engine->select(o_.policy);
      wk->engine->use_listener_hook(&listener_cache::hook, wk->listeners.get());
    }
    engine_config small = ec;
    small.flow_capacity = 64;
    small.endpoint_capacity = 64;
    events_engine_ = std::make_unique<Engine>(h, small);
    events_engine_->select(o_.policy);
    for (const auto& s : workers_.front()->src->sockets())
      if (!s.interface_up() && o_.on_status)
        o_.on_status(s.name() + ": interface is down; capture starts when it comes up");
  }

  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session() {
    request_stop();
    join();
  }

  /// Ends the session soon (any thread). Records already captured are still delivered.
  void request_stop() noexcept {
    stop_.request_stop();
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  }
  std::stop_token stop_token() const noexcept { return stop_.get_token(); }

  /// Runs the workers and the monitor, and hands every record to `sink(const output&)` on the calling
  /// thread, until a bound is reached, a stop is requested, or a watched interface is removed.
  /// `idle()` is called on that thread each time the queues are empty, before it waits for more: a sink
  /// that buffers its output flushes it there (large writes under load, no delay when traffic stops).
  template <class Sink, class Idle = void (*)()>
  void run(
      Sink&& sink, Idle&& idle = [] {}) {
    for (std::size_t w = 0; w < workers_.size(); ++w)
      workers_[w]->thread = std::thread([this, w] { work(*workers_[w]); });
    monitor_thread_ = std::thread([this] { watch(); });
    for (;;) {
      const std::uint64_t seen = ticks_.load(std::memory_order_acquire);
      flush_events(sink);
      bool any = false;
      for (;;) {  // the oldest head first
        detail::slot* best = nullptr;
        std::size_t bw = 0;
        for (std::size_t w = 0; w < workers_.size(); ++w) {
          detail::slot* s = workers_[w]->queue.consumer_slot();
          if (s && (!best || s->frame.time < best->frame.time)) best = s, bw = w;
        }
        if (!best) break;
        any = true;
        best->rec.frame = best->frame.index = ++emitted_;
        sink(output{best->rec, best->frame, false, static_cast<std::uint32_t>(bw)});
        workers_[bw]->queue.pop();
      }
      if (any) continue;
      bool all_done = true;
      for (auto& wk : workers_) all_done = all_done && wk->finished.load(std::memory_order_acquire);
      if (all_done) {
        bool empty = true;
        for (auto& wk : workers_) empty = empty && wk->queue.consumer_slot() == nullptr;
        if (empty) break;
        continue;
      }
      idle();
      ticks_.wait(seen, std::memory_order_acquire);
    }
    request_stop();
    join();
    flush_events(sink);
  }

  /// Publishes run-time set `name` to every worker's engine (and the socket events' engine). Any thread,
  /// also while run() runs: each engine picks it up before its next frame (strata/sets.hpp). False when
  /// no policy names the set or `d` holds the other kind.
  bool replace_set(std::string_view name, std::shared_ptr<const set_data> d) {
    bool ok = events_engine_->replace_set(name, d);
    for (auto& wk : workers_) ok = wk->engine->replace_set(name, d) && ok;
    return ok;
  }

  /// The workers' engines (for counters; read them after run()).
  std::vector<const Engine*> engines() const {
    std::vector<const Engine*> v;
    for (auto& wk : workers_) v.push_back(wk->engine.get());
    return v;
  }
  engine_totals<Engine> totals() const { return engine_totals<Engine>(engines()); }
  /// Kernel counters per interface, over every worker's socket.
  std::vector<std::pair<std::string, kernel_stats>> kernel() {
    std::vector<std::pair<std::string, kernel_stats>> v;
    for (const auto& s : workers_.front()->src->sockets()) v.push_back({s.name(), {}});
    for (auto& wk : workers_) {
      const auto st = wk->src->stats();
      for (std::size_t i = 0; i < st.size() && i < v.size(); ++i) v[i].second += st[i];
    }
    return v;
  }
  std::uint64_t frames_emitted() const noexcept { return emitted_; }
  std::uint64_t socket_events() const noexcept { return events_emitted_; }
  /// Why the session ended early ("eth1: interface removed"), or "".
  const std::string& end_reason() const noexcept { return end_reason_; }
  /// Listener questions answered from the socket table, and those answered from a snapshot older
  /// than the packet (rate limit).
  std::pair<std::uint64_t, std::uint64_t> listener_answers() const {
    std::uint64_t a = 0, s = 0;
    for (auto& wk : workers_) a += wk->listeners->answers(), s += wk->listeners->stale_answers();
    return {a, s};
  }
  std::uint64_t listener_refreshes() const {
    std::uint64_t a = 0;
    for (auto& wk : workers_) a += wk->listeners->refreshes();
    return a;
  }
  const host_monitor& monitor() const { return *monitor_; }
  std::size_t worker_count() const noexcept { return workers_.size(); }
  packet::link_type link_type() const { return workers_.front()->src->link_type(); }

 private:
  struct worker {
    explicit worker(std::size_t cap) : queue(cap) {}
    std::unique_ptr<source> src;
    std::unique_ptr<listener_cache> listeners;
    std::unique_ptr<route_cache> routes;  // several interfaces: where forwarded packets arrived (§6)
    std::unique_ptr<Engine> engine;
    detail::spsc<detail::slot> queue;
    std::thread thread;
    std::atomic<bool> finished{false};
  };

  struct event {
    record rec;
    io::timestamp time;
  };

  void work(worker& w) {
    std::uint64_t gen = monitor_->generation();
    // The writer is woken once per burst (when the rings are drained) or every eighth of a queue, not per
    // frame: a wake is a futex call and a sleeping writer's wake-up, and one per frame cost more than
    // classifying the frame (one per 64 frames still ~25% of JSONL's CPU per packet).
    const unsigned wake_batch = static_cast<unsigned>(o_.queue_capacity / 8 < 1 ? 1 : o_.queue_capacity / 8);
    struct pending_wake {
      session* self;
      unsigned frames = 0;
      static void flush(void* p) {
        auto* w = static_cast<pending_wake*>(p);
        if (w->frames == 0) return;
        w->frames = 0;
        w->self->tick();
      }
    } wake{this};
    w.src->on_idle(&pending_wake::flush, &wake);
    for (const io::frame& f : *w.src) {
      if (o_.count &&
          admitted_.fetch_add(1, std::memory_order_relaxed) >= o_.count) {  // -c: only with a bound
        request_stop();
        break;
      }
      if (const std::uint64_t g = monitor_->generation(); g != gen) {  // addresses changed (rare): new host
        gen = g;
        w.engine->set_host(monitor_->snapshot());
      }
      if (!o_.frame_records) {
        (void)classify(w, f);
        continue;
      }
      detail::slot* s = nullptr;
      for (unsigned spins = 0; (s = w.queue.producer_slot()) == nullptr; ++spins) {
        if (spins == 0) pending_wake::flush(&wake);  // full: the writer must be awake
        if (spins > 64) std::this_thread::sleep_for(std::chrono::microseconds(50));  // the writer is behind
      }
      // Classified straight into the queue's slot (the prvalue initializes it): a record is 528 bytes,
      // copied there from a local before. record is trivially destructible: the slot's previous record
      // needs no destructor call.
      static_assert(std::is_trivially_destructible_v<record>);
      ::new (static_cast<void*>(&s->rec)) record(classify(w, f));
      s->frame = f;
      if (o_.keep_frames) {
        s->bytes.assign(f.data.begin(), f.data.end());
        s->frame.data = s->bytes;
      } else {
        s->frame.data = {};
      }
      w.queue.publish();
      if (++wake.frames >= wake_batch) pending_wake::flush(&wake);
    }
    w.src->on_idle(nullptr, nullptr);
    if (!w.src->end_reason().empty()) set_end_reason(w.src->end_reason());
    w.finished.store(true, std::memory_order_release);
    tick();
  }

  record classify(worker& w, const io::frame& f) {
    return w.routes && f.outgoing ? w.engine->classify(departing(w, f)) : w.engine->classify(f);
  }

  // traversal.md §6 with several watched interfaces: a forwarded packet leaving by one of them is
  // the departing copy of one already classified where it arrived when it arrived by another watched
  // interface, i.e. when the route back to its source leaves by one (the reverse path).
  io::frame departing(worker& w, const io::frame& f) {
    io::frame g = f;
    const packet::parsed p = packet::parse(f.data, link_type(), f.wire_length);
    if (!p.ok() || w.engine->observed_host().direction(p.src, p.dst, p.fam) != traffic_direction::forwarded)
      return g;
    const std::uint32_t in = w.routes->interface_to(p.fam, p.src, f.time.time_since_epoch().count());
    for (std::uint32_t i : watched_)
      if (i == in && in != f.ifindex) g.departing_copy = true;
    return g;
  }

  // The monitor thread: address and link changes (rtnetlink), new listeners (sock_diag).
  void watch() {
    auto next_listen = std::chrono::steady_clock::now() + o_.listen_poll;
    while (!stop_.stop_requested()) {
      pollfd fds[2] = {{monitor_->fd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      // Rounded up: rounded down, the last millisecond before each look was a busy loop of poll(0).
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(next_listen - std::chrono::steady_clock::now());
      const int rc = ::poll(fds, 2, static_cast<int>(left.count() < 0 ? 0 : left.count()));
      if (rc < 0 && errno != EINTR) break;
      if (fds[0].revents & POLLIN) {
        for (const link_event& ev : monitor_->process()) {
          const std::string name = ev.name.empty() ? "interface " + std::to_string(ev.ifindex) : ev.name;
          if (ev.kind == link_event::removed) {
            set_end_reason(name + ": interface removed; capture ends");
            if (o_.on_status) o_.on_status(name + ": interface removed; capture ends");
            request_stop();
          } else if (o_.on_status) {
            o_.on_status(ev.kind == link_event::down
                             ? name + ": interface went down; capture resumes when it comes back up"
                             : name + ": interface is up again; capture resumed");
          }
        }
      }
      if (listen_ && std::chrono::steady_clock::now() >= next_listen) {
        next_listen = std::chrono::steady_clock::now() + o_.listen_poll;
        auto fresh = listen_->poll();
        if (!fresh.empty()) {
          std::lock_guard lock(events_mutex_);
          for (const socket_entry& e : fresh)
            pending_.push_back({e.fam, e.local, e.local_port,
                                io::timestamp(std::chrono::nanoseconds(detail::realtime_ns()))});
          tick();
        }
      }
    }
  }

  struct pending_listen {
    family fam;
    address local;
    std::uint16_t port;
    io::timestamp time;
  };

  template <class Sink>
  void flush_events(Sink& sink) {
    std::deque<pending_listen> batch;
    {
      std::lock_guard lock(events_mutex_);
      batch.swap(pending_);
    }
    for (const pending_listen& p : batch) {
      const record r =
          events_engine_->socket_event(path_kind::tcp_passive_open, p.fam, proto::tcp, p.local, p.port);
      io::frame f;
      f.time = p.time;
      ++events_emitted_;
      sink(output{r, f, true, 0});
    }
  }

  void tick() noexcept {
    ticks_.fetch_add(1, std::memory_order_release);
    ticks_.notify_all();
  }
  void set_end_reason(const std::string& r) {
    std::lock_guard lock(events_mutex_);
    if (end_reason_.empty()) end_reason_ = r;
  }
  void join() {
    for (auto& wk : workers_)
      if (wk->thread.joinable()) wk->thread.join();
    if (monitor_thread_.joinable()) monitor_thread_.join();
  }

  session_options o_;
  std::stop_source stop_;
  detail::unique_fd wake_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::uint32_t> watched_;
  std::unique_ptr<host_monitor> monitor_;
  std::unique_ptr<listen_watch> listen_;
  std::unique_ptr<Engine> events_engine_;
  std::thread monitor_thread_;
  std::atomic<std::uint64_t> ticks_{0};
  std::atomic<std::uint64_t> admitted_{0};
  std::mutex events_mutex_;
  std::deque<pending_listen> pending_;
  std::uint64_t emitted_ = 0;
  std::uint64_t events_emitted_ = 0;
  std::string end_reason_;
};

}  // namespace strata::live
