// Traffic statistics kept by one worker for one route or one host: running totals (for the
// Prometheus scrape) and a ring of one-second buckets over the last 5 minutes (for the
// admin API's sliding windows and the rollout analysis). Plain counters, no atomics: the
// owner worker writes, and reads happen on that worker when the main thread asks for a
// report (Worker::collectStats). Merged across workers on the main thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "proxy/http/error.h"

namespace lb::stats {

constexpr uint32_t kWindowSeconds = 300;

// 1xx..5xx.
constexpr size_t kStatusClasses = 5;
int statusClassIndex(int status);  // -1 when out of range
const char* statusClassName(size_t index);

// Upstream error reasons, a subset of http::ErrorCode.
constexpr size_t kUpstreamReasons = 7;
int upstreamReasonIndex(http::ErrorCode code);  // -1 when not an upstream error
const char* upstreamReasonName(size_t index);

// Prometheus histogram bucket bounds in seconds: they resolve every figure in the spec's SLO
// table (50 ms ... 3 s) plus 5 ms at the low end and 10 s at the top.
constexpr std::array<double, 13> kPromBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3,
                                              0.5,   1.0,  2.0,   3.0,  5.0, 10.0};

// Log-linear latency histogram in microseconds, four buckets per power of two (worst-case
// error of a quantile: 12.5%), up to about 18 minutes.
struct LatencyHistogram {
  static constexpr size_t kBuckets = 116;
  std::array<uint32_t, kBuckets> counts{};

  static size_t bucketOf(uint64_t micros);
  static uint64_t lowerBound(size_t bucket);
  static uint64_t upperBound(size_t bucket);
  void add(uint64_t micros) { ++counts[bucketOf(micros)]; }
  void merge(const LatencyHistogram& other);
  uint64_t total() const;
  // Microseconds at quantile q (0..1), interpolated inside the bucket; 0 when empty.
  double quantile(double q) const;
};

struct Counters {
  uint64_t requests = 0;
  std::array<uint64_t, kStatusClasses> responses{};
  std::array<uint64_t, kUpstreamReasons> upstream_errors{};
  uint64_t retries = 0;
  uint64_t retries_refused = 0;       // retries the policy wanted and the cluster's budget refused
  uint64_t rate_limited = 0;          // answered 429 by the route's rate limit
  uint64_t rate_limited_dry_run = 0;  // over the limit, forwarded (the limit in dry run)
  double latency_sum_seconds = 0;

  void merge(const Counters& other);
};

// Upgraded connections (WebSocket and other Upgrade tunnels). Bytes are counted when a
// tunnel closes: `up` from the client to the backend, `down` back.
struct TunnelCounters {
  uint64_t opened = 0;
  uint64_t active = 0;  // a gauge: opened and not closed yet
  uint64_t bytes_up = 0;
  uint64_t bytes_down = 0;

  void merge(const TunnelCounters& other);
};

// Sticky sessions of a route (docs/routing.md): responses to requests whose cookie was
// honoured (kept), that were placed elsewhere than their cookie said (moved: its host or
// destination no longer takes them) or that came without one (placed).
struct StickyCounters {
  uint64_t kept = 0;
  uint64_t moved = 0;
  uint64_t placed = 0;

  void merge(const StickyCounters& other);
};
enum class StickyOutcome : uint8_t { kKept, kMoved, kPlaced };

// Compressed responses of a route (docs/compression.md), counted when the body ends: how many
// in each coding, and the body bytes before (`in`) and after (`out`) coding.
struct CompressionCounters {
  uint64_t gzip = 0;
  uint64_t brotli = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;

  void merge(const CompressionCounters& other);
};

struct Totals {
  Counters counters;
  // Per-bucket (not cumulative) counts for kPromBuckets, plus one for +Inf.
  std::array<uint64_t, kPromBuckets.size() + 1> duration_buckets{};
  TunnelCounters tunnels;
  StickyCounters sticky;
  CompressionCounters compression;

  void merge(const Totals& other);
};

// What a worker reports for one route or host.
struct Report {
  Totals totals;
  Counters window;
  LatencyHistogram window_latency;

  void merge(const Report& other);
};

class TrafficStats {
 public:
  // One finished request: its status (0 when none was sent), its latency, the upstream error
  // that ended it (-1: none) and how many retries it took.
  void recordRequest(int64_t now_s, int status, uint64_t latency_us, int upstream_reason,
                     uint32_t retries);
  // An upstream error that did not end the request (it was retried elsewhere).
  void recordUpstreamError(int64_t now_s, int reason);
  // A retry the route's policy wanted that the cluster's retry budget did not allow.
  void recordRetryRefused(int64_t now_s);
  // A request over the route's rate limit: refused with 429, or (dry run) only counted.
  void recordRateLimited(int64_t now_s, bool dry_run);
  // A response on a route with sticky sessions (since start, like tunnels).
  void recordSticky(StickyOutcome outcome);
  // A compressed body ended (since start); `brotli` or gzip, its bytes before and after.
  void recordCompressed(bool brotli, uint64_t bytes_in, uint64_t bytes_out);
  // A backend switched protocols (101); later the tunnel closed after moving these bytes.
  void tunnelOpened();
  void tunnelClosed(uint64_t bytes_up, uint64_t bytes_down);

  const Totals& totals() const { return totals_; }
  // Adds the seconds (now_s - seconds, now_s] into *report's window fields, and the totals.
  void report(int64_t now_s, uint32_t seconds, Report* out) const;

 private:
  struct Second {
    int64_t second = -1;
    Counters counters;
    LatencyHistogram latency;
  };
  Second& bucket(int64_t now_s);

  Totals totals_;
  std::vector<Second> ring_;  // kWindowSeconds entries, allocated on first use
};

}  // namespace lb::stats
