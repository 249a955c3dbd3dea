// Capture files through libpcap: `pcap_reader` reads pcap and pcapng as an input range of `frame`s,
// `pcap_writer` writes frames to a pcap file. This header needs libpcap (CMake target strata::pcap);
// it is not part of the core library.
//
//   auto file = strata::io::pcap_reader::open("trace.pcapng");
//   if (!file) { std::cerr << file.error().what() << '\n'; return 1; }
//   for (const strata::io::frame& f : *file)
//     auto r = strata::packet::parse(f.data, file->link_type(), f.wire_length);
//   if (file->truncated()) std::cerr << file->error()->what() << '\n';
//
// Errors: opening reports the file name and libpcap's message (an `open_result`, or `open_failure` thrown
// by the constructor — the only exception this header throws). Reading never throws: a truncated or
// corrupt capture ends the range, and `truncated()` / `error()` say where it was cut.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <pcap/pcap.h>

#include <strata/io/frame.hpp>
#include <strata/packet/link.hpp>

namespace strata::io {

/// Why a capture file (or a writer's output) could not be opened.
struct open_error {
  std::string file;     ///< the path given
  std::string message;  ///< libpcap's (or the system's) message

  /// "cannot open FILE: MESSAGE" (libpcap's leading "FILE: " is not repeated).
  std::string what() const {
    std::string_view m = message;
    if (m.size() > file.size() + 2 && m.substr(0, file.size()) == file && m.substr(file.size(), 2) == ": ")
      m.remove_prefix(file.size() + 2);
    return "cannot open " + file + ": " + std::string(m);
  }
};

/// Thrown by the throwing constructors (`pcap_reader(path)`, `pcap_writer(path, ...)`) and by
/// `open_result::value()` when opening failed.
class open_failure : public std::runtime_error {
 public:
  explicit open_failure(open_error e) : std::runtime_error(e.what()), error_(std::move(e)) {}
  const open_error& error() const noexcept { return error_; }

 private:
  open_error error_;
};

/// The outcome of opening: the opened object, or the error (a small std::expected).
template <class T>
class open_result {
 public:
  open_result(T value) : v_(std::move(value)) {}
  open_result(open_error error) : v_(std::move(error)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  /// The opened object; throws `open_failure` if opening failed.
  T& value() & {
    if (!has_value()) throw open_failure(std::get<1>(v_));
    return std::get<0>(v_);
  }
  T&& value() && { return std::move(value()); }
  T& operator*() & noexcept { return *std::get_if<0>(&v_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<0>(&v_)); }
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }
  /// The error; only meaningful when `!has_value()`.
  const open_error& error() const noexcept { return *std::get_if<1>(&v_); }

 private:
  std::variant<T, open_error> v_;
};

/// Why reading stopped before the end of the file.
struct read_error {
  std::string message;  ///< libpcap's message ("truncated dump file; tried to read 1514 captured bytes, only
                        ///< got 211")
  bool truncated = false;         ///< the file ends in the middle of a record (a cut capture)
  std::uint64_t frames_read = 0;  ///< frames delivered before the error (the last good one has this index)
  std::int64_t offset = -1;  ///< byte offset in the file where the unreadable record starts (-1 if unknown)

  /// "truncated capture after frame N (byte offset X): MESSAGE" or "read error after frame N ...".
  std::string what() const {
    return std::string(truncated ? "truncated capture" : "read error") + " after frame " +
           std::to_string(frames_read) + " (byte offset " + std::to_string(offset) + "): " + message;
  }
};

/// The pcap/DLT number to write for a link type (raw IP is DLT_RAW).
constexpr int to_dlt(packet::link_type lt) noexcept {
  switch (lt) {
    case packet::link_type::raw:
    case packet::link_type::raw_dlt:
      return DLT_RAW;
    case packet::link_type::loop:
      return DLT_LOOP;
    default:
      return static_cast<int>(lt);
  }
}

/// A pcap or pcapng file opened for reading; an input range of `frame`s in file order.
/// Single pass: `begin()` continues where the last iteration stopped. A frame's bytes stay valid until
/// the next increment. Move-only; moving invalidates iterators.
class pcap_reader {
 public:
  class iterator;

  /// Opens `path` ("-" is standard input). Never throws for file problems; they are in the result.
  static open_result<pcap_reader> open(const std::filesystem::path& path) {
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == nullptr) return open_error{path.string(), err};
    return pcap_reader(p, path.string());
  }

  /// Opens `path`, throwing `open_failure` (file name and libpcap's message) when it cannot.
  explicit pcap_reader(const std::filesystem::path& path) : pcap_reader(open(path).value()) {}

  pcap_reader(pcap_reader&& o) noexcept { swap(o); }
  pcap_reader& operator=(pcap_reader&& o) noexcept {
    pcap_reader tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  pcap_reader(const pcap_reader&) = delete;
  pcap_reader& operator=(const pcap_reader&) = delete;
  ~pcap_reader() {
    if (p_ != nullptr) pcap_close(p_);
  }

  /// The file's link type, normalized (LINKTYPE_RAW and DLT_RAW are both `link_type::raw`).
  packet::link_type link_type() const noexcept { return packet::link_type_from_dlt(datalink()); }
  /// The DLT number libpcap reports (what `pcap_writer` needs to write the same link type).
  int datalink() const noexcept { return p_ != nullptr ? pcap_datalink(p_) : -1; }
  /// The file's snapshot length.
  std::uint32_t snaplen() const noexcept {
    return p_ != nullptr ? static_cast<std::uint32_t>(pcap_snapshot(p_)) : 0;
  }
  /// The path the file was opened with.
  const std::string& path() const noexcept { return path_; }

  inline iterator begin() noexcept;
  std::default_sentinel_t end() const noexcept { return {}; }

  /// Reads the next frame; false at the end of the file or on an error (then see `error()`).
  bool next() noexcept {
    if (done_ || p_ == nullptr) {
      done_ = true;
      return false;
    }
    started_ = true;
    pcap_pkthdr* h = nullptr;
    const u_char* d = nullptr;
    int rc = pcap_next_ex(p_, &h, &d);
    if (rc == 1) {
      ++count_;
      current_.data = std::span<const std::byte>(reinterpret_cast<const std::byte*>(d), h->caplen);
      current_.wire_length = h->len;
      current_.time = to_timestamp(h->ts.tv_sec, h->ts.tv_usec);
      current_.index = count_;
      record_end_ = tell();
      return true;
    }
    done_ = true;
    current_ = frame{};
    if (rc != PCAP_ERROR_BREAK) {  // PCAP_ERROR_BREAK is the clean end of the file
      try {
        read_error e;
        e.message = pcap_geterr(p_);
        e.truncated = e.message.find("truncated") != std::string::npos;
        e.frames_read = count_;
        e.offset = record_end_;
        error_ = std::move(e);
      } catch (...) {  // out of memory while recording the error: keep the flag at least
        error_.reset();
        failed_without_message_ = true;
      }
    }
    return false;
  }

  /// The frame read by the last successful `next()`.
  const frame& current() const noexcept { return current_; }
  /// Whether the end of the range has been reached (end of file or error).
  bool done() const noexcept { return done_; }
  /// Frames delivered so far.
  std::uint64_t frames_read() const noexcept { return count_; }
  /// Whether reading stopped because the file ends inside a record (a cut capture).
  bool truncated() const noexcept { return error_.has_value() && error_->truncated; }
  /// Why reading stopped early, if it did (truncation or another read error).
  const std::optional<read_error>& error() const noexcept { return error_; }
  /// Whether reading stopped on any error.
  bool failed() const noexcept { return error_.has_value() || failed_without_message_; }

  /// The underlying libpcap handle (for BPF filters and the like).
  pcap_t* handle() const noexcept { return p_; }

  /// `sec` seconds and `nsec` nanoseconds (what libpcap's nanosecond precision puts in tv_usec) as a
  /// timestamp, saturated to its range: a pcapng file can state any 64-bit time in any resolution, and
  /// seconds beyond +-292 years from the epoch do not fit in 64-bit nanoseconds.
  static timestamp to_timestamp(std::int64_t sec, std::int64_t nsec) noexcept {
    std::int64_t ns = 0;
    if (__builtin_mul_overflow(sec, std::int64_t{1'000'000'000}, &ns) ||
        __builtin_add_overflow(ns, nsec, &ns))
      ns = sec < 0 ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
    return timestamp(std::chrono::nanoseconds(ns));
  }

 private:
  pcap_reader(pcap_t* p, std::string path) : p_(p), path_(std::move(path)) { record_end_ = tell(); }

  std::int64_t tell() const noexcept {
    std::FILE* f = ::pcap_file(p_);
    return f != nullptr ? static_cast<std::int64_t>(std::ftell(f)) : -1;
  }

  void swap(pcap_reader& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(path_, o.path_);
    std::swap(current_, o.current_);
    std::swap(count_, o.count_);
    std::swap(record_end_, o.record_end_);
    std::swap(started_, o.started_);
    std::swap(done_, o.done_);
    std::swap(failed_without_message_, o.failed_without_message_);
    std::swap(error_, o.error_);
  }

  pcap_t* p_ = nullptr;
  std::string path_;
  frame current_{};
  std::uint64_t count_ = 0;
  std::int64_t record_end_ = -1;
  bool started_ = false;
  bool done_ = false;
  bool failed_without_message_ = false;
  std::optional<read_error> error_;
};

/// The input iterator of `pcap_reader` (compared with std::default_sentinel_t). Default-constructible
/// and copyable as C++20 and range-v3 input iterators must be; all copies share the file's position.
class pcap_reader::iterator {
 public:
  using iterator_concept = std::input_iterator_tag;
  using iterator_category = std::input_iterator_tag;
  using value_type = frame;
  using difference_type = std::ptrdiff_t;
  using reference = const frame&;
  using pointer = const frame*;

  iterator() = default;
  explicit iterator(pcap_reader* f) noexcept : f_(f) {}

  reference operator*() const noexcept { return f_->current(); }
  pointer operator->() const noexcept { return &f_->current(); }
  iterator& operator++() noexcept {
    f_->next();
    return *this;
  }
  void operator++(int) noexcept { f_->next(); }

  friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
    return it.f_ == nullptr || it.f_->done();
  }

 private:
  pcap_reader* f_ = nullptr;
};

inline pcap_reader::iterator pcap_reader::begin() noexcept {
  if (!started_) next();
  return iterator(this);
}

/// Timestamp precision of a written file.
enum class tstamp_precision : std::uint8_t {
  micro,  ///< classic pcap (magic a1b2c3d4): timestamps rounded down to microseconds
  nano,   ///< nanosecond pcap (magic a1b23c4d), read by libpcap >= 1.5, tcpdump, Wireshark
};

/// Writes frames to a pcap file (libpcap's pcap_dump). Move-only; closed by the destructor.
class pcap_writer {
 public:
  /// Creates `path` ("-" is standard output) for frames of DLT `dlt` (use `pcap_reader::datalink()` to
  /// write the same link type as a file being read). Frames longer than `snaplen` are cut to it.
  static open_result<pcap_writer> open(const std::filesystem::path& path, int dlt,
                                       std::uint32_t snaplen = 262144,
                                       tstamp_precision precision = tstamp_precision::nano) {
    pcap_t* dead = pcap_open_dead_with_tstamp_precision(
        dlt, static_cast<int>(snaplen),
        precision == tstamp_precision::nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
    if (dead == nullptr) return open_error{path.string(), "cannot create a libpcap handle"};
    pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
    if (d == nullptr) {
      open_error e{path.string(), pcap_geterr(dead)};
      pcap_close(dead);
      return e;
    }
    return pcap_writer(dead, d, snaplen, precision);
  }
  /// The same for a `link_type`.
  static open_result<pcap_writer> open(const std::filesystem::path& path, packet::link_type lt,
                                       std::uint32_t snaplen = 262144,
                                       tstamp_precision precision = tstamp_precision::nano) {
    return open(path, to_dlt(lt), snaplen, precision);
  }
  /// Creates `path`, throwing `open_failure` when it cannot.
  pcap_writer(const std::filesystem::path& path, int dlt, std::uint32_t snaplen = 262144,
              tstamp_precision precision = tstamp_precision::nano)
      : pcap_writer(open(path, dlt, snaplen, precision).value()) {}

  pcap_writer(pcap_writer&& o) noexcept { swap(o); }
  pcap_writer& operator=(pcap_writer&& o) noexcept {
    pcap_writer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  pcap_writer(const pcap_writer&) = delete;
  pcap_writer& operator=(const pcap_writer&) = delete;
  ~pcap_writer() { close(); }

  /// Appends a frame. Returns false if the writer is closed or the output reported an error.
  bool write(std::span<const std::byte> data, std::uint32_t wire_length, timestamp time) noexcept {
    if (d_ == nullptr) return false;
    std::size_t caplen = data.size() < snaplen_ ? data.size() : snaplen_;
    pcap_pkthdr h{};
    auto since = time.time_since_epoch().count();
    auto secs = since / 1'000'000'000;
    auto frac = since % 1'000'000'000;
    if (frac < 0) {
      frac += 1'000'000'000;
      --secs;
    }
    h.ts.tv_sec = static_cast<decltype(h.ts.tv_sec)>(secs);
    h.ts.tv_usec =
        static_cast<decltype(h.ts.tv_usec)>(precision_ == tstamp_precision::nano ? frac : frac / 1000);
    h.caplen = static_cast<bpf_u_int32>(caplen);
    h.len = wire_length > caplen ? wire_length : static_cast<bpf_u_int32>(data.size());
    pcap_dump(reinterpret_cast<u_char*>(d_), &h, reinterpret_cast<const u_char*>(data.data()));
    ++count_;
    return std::ferror(pcap_dump_file(d_)) == 0;
  }
  /// Appends a frame read from any source (its wire length and timestamp are kept).
  bool write(const frame& f) noexcept { return write(f.data, f.wire_length, f.time); }

  /// Flushes buffered frames to the file; false on an output error.
  bool flush() noexcept { return d_ != nullptr && pcap_dump_flush(d_) == 0; }
  /// Flushes and closes the file (also done by the destructor). Returns false on an output error.
  bool close() noexcept {
    bool ok = true;
    if (d_ != nullptr) {
      ok = pcap_dump_flush(d_) == 0 && std::ferror(pcap_dump_file(d_)) == 0;
      pcap_dump_close(d_);
      d_ = nullptr;
    }
    if (dead_ != nullptr) {
      pcap_close(dead_);
      dead_ = nullptr;
    }
    return ok;
  }
  /// Frames written so far.
  std::uint64_t frames_written() const noexcept { return count_; }
  bool is_open() const noexcept { return d_ != nullptr; }

 private:
  pcap_writer(pcap_t* dead, pcap_dumper_t* d, std::uint32_t snaplen, tstamp_precision precision) noexcept
      : dead_(dead), d_(d), snaplen_(snaplen), precision_(precision) {}

  void swap(pcap_writer& o) noexcept {
    std::swap(dead_, o.dead_);
    std::swap(d_, o.d_);
    std::swap(snaplen_, o.snaplen_);
    std::swap(precision_, o.precision_);
    std::swap(count_, o.count_);
  }

  pcap_t* dead_ = nullptr;
  pcap_dumper_t* d_ = nullptr;
  std::uint32_t snaplen_ = 262144;
  tstamp_precision precision_ = tstamp_precision::nano;
  std::uint64_t count_ = 0;
};

}  // namespace strata::io
