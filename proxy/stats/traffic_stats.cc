#include "proxy/stats/traffic_stats.h"

#include <bit>

namespace lb::stats {

int statusClassIndex(int status) {
  if (status < 100 || status > 599) return -1;
  return status / 100 - 1;
}

const char* statusClassName(size_t index) {
  static constexpr const char* kNames[kStatusClasses] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  return index < kStatusClasses ? kNames[index] : "unknown";
}

int upstreamReasonIndex(http::ErrorCode code) {
  switch (code) {
    case http::ErrorCode::kConnectFailed:
      return 0;
    case http::ErrorCode::kUpstreamReset:
      return 1;
    case http::ErrorCode::kBadResponse:
      return 2;
    case http::ErrorCode::kUpstreamTimeout:
      return 3;
    case http::ErrorCode::kNoHealthyHost:
      return 4;
    case http::ErrorCode::kOverloaded:
      return 6;
    case http::ErrorCode::kUpstreamTls:
      return 5;
    default:
      return -1;
  }
}

const char* upstreamReasonName(size_t index) {
  static constexpr http::ErrorCode kCodes[kUpstreamReasons] = {
      http::ErrorCode::kConnectFailed, http::ErrorCode::kUpstreamReset,
      http::ErrorCode::kBadResponse,   http::ErrorCode::kUpstreamTimeout,
      http::ErrorCode::kNoHealthyHost, http::ErrorCode::kUpstreamTls,
      http::ErrorCode::kOverloaded};
  return index < kUpstreamReasons ? http::labelFor(kCodes[index]) : "unknown";
}

size_t LatencyHistogram::bucketOf(uint64_t micros) {
  if (micros < 8) return micros;
  int e = std::bit_width(micros) - 1;  // >= 3
  size_t index = 8 + static_cast<size_t>(e - 3) * 4 + ((micros >> (e - 2)) & 3);
  return index < kBuckets ? index : kBuckets - 1;
}

uint64_t LatencyHistogram::lowerBound(size_t bucket) {
  if (bucket < 8) return bucket;
  size_t e = (bucket - 8) / 4 + 3;
  uint64_t sub = (bucket - 8) % 4;
  return (4 + sub) << (e - 2);
}

uint64_t LatencyHistogram::upperBound(size_t bucket) {
  return bucket + 1 < kBuckets ? lowerBound(bucket + 1) : lowerBound(bucket) * 2;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts[i] += other.counts[i];
}

uint64_t LatencyHistogram::total() const {
  uint64_t n = 0;
  for (uint32_t c : counts) n += c;
  return n;
}

double LatencyHistogram::quantile(double q) const {
  uint64_t n = total();
  if (n == 0) return 0;
  double rank = q * static_cast<double>(n);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    if (counts[i] == 0) continue;
    if (static_cast<double>(seen + counts[i]) >= rank) {
      double inside = (rank - static_cast<double>(seen)) / counts[i];
      double lo = static_cast<double>(lowerBound(i));
      double hi = static_cast<double>(upperBound(i));
      return lo + (hi - lo) * inside;
    }
    seen += counts[i];
  }
  return static_cast<double>(upperBound(kBuckets - 1));
}

void Counters::merge(const Counters& other) {
  requests += other.requests;
  for (size_t i = 0; i < kStatusClasses; ++i) responses[i] += other.responses[i];
  for (size_t i = 0; i < kUpstreamReasons; ++i) upstream_errors[i] += other.upstream_errors[i];
  retries += other.retries;
  retries_refused += other.retries_refused;
  rate_limited += other.rate_limited;
  rate_limited_dry_run += other.rate_limited_dry_run;
  latency_sum_seconds += other.latency_sum_seconds;
}

void TunnelCounters::merge(const TunnelCounters& other) {
  opened += other.opened;
  active += other.active;
  bytes_up += other.bytes_up;
  bytes_down += other.bytes_down;
}

void Totals::merge(const Totals& other) {
  counters.merge(other.counters);
  tunnels.merge(other.tunnels);
  sticky.merge(other.sticky);
  compression.merge(other.compression);
  for (size_t i = 0; i < duration_buckets.size(); ++i)
    duration_buckets[i] += other.duration_buckets[i];
}

void Report::merge(const Report& other) {
  totals.merge(other.totals);
  window.merge(other.window);
  window_latency.merge(other.window_latency);
}

TrafficStats::Second& TrafficStats::bucket(int64_t now_s) {
  if (ring_.empty()) ring_.resize(kWindowSeconds);
  Second& b = ring_[static_cast<size_t>(now_s) % kWindowSeconds];
  if (b.second != now_s) {
    b = Second{};
    b.second = now_s;
  }
  return b;
}

void TrafficStats::recordRequest(int64_t now_s, int status, uint64_t latency_us,
                                 int upstream_reason, uint32_t retries) {
  const double seconds = static_cast<double>(latency_us) / 1e6;
  auto apply = [&](Counters& c) {
    ++c.requests;
    int cls = statusClassIndex(status);
    if (cls >= 0) ++c.responses[static_cast<size_t>(cls)];
    if (upstream_reason >= 0) ++c.upstream_errors[static_cast<size_t>(upstream_reason)];
    c.retries += retries;
    c.latency_sum_seconds += seconds;
  };
  apply(totals_.counters);
  size_t b = 0;
  while (b < kPromBuckets.size() && seconds > kPromBuckets[b]) ++b;
  ++totals_.duration_buckets[b];
  Second& s = bucket(now_s);
  apply(s.counters);
  s.latency.add(latency_us);
}

void TrafficStats::recordUpstreamError(int64_t now_s, int reason) {
  if (reason < 0) return;
  ++totals_.counters.upstream_errors[static_cast<size_t>(reason)];
  ++bucket(now_s).counters.upstream_errors[static_cast<size_t>(reason)];
}

void TrafficStats::recordRetryRefused(int64_t now_s) {
  ++totals_.counters.retries_refused;
  ++bucket(now_s).counters.retries_refused;
}

void TrafficStats::recordRateLimited(int64_t now_s, bool dry_run) {
  uint64_t Counters::*field = dry_run ? &Counters::rate_limited_dry_run : &Counters::rate_limited;
  ++(totals_.counters.*field);
  ++(bucket(now_s).counters.*field);
}

void StickyCounters::merge(const StickyCounters& other) {
  kept += other.kept;
  moved += other.moved;
  placed += other.placed;
}

void TrafficStats::recordSticky(StickyOutcome outcome) {
  switch (outcome) {
    case StickyOutcome::kKept:
      ++totals_.sticky.kept;
      break;
    case StickyOutcome::kMoved:
      ++totals_.sticky.moved;
      break;
    case StickyOutcome::kPlaced:
      ++totals_.sticky.placed;
      break;
  }
}

void CompressionCounters::merge(const CompressionCounters& other) {
  gzip += other.gzip;
  brotli += other.brotli;
  bytes_in += other.bytes_in;
  bytes_out += other.bytes_out;
}

void TrafficStats::recordCompressed(bool brotli, uint64_t bytes_in, uint64_t bytes_out) {
  ++(brotli ? totals_.compression.brotli : totals_.compression.gzip);
  totals_.compression.bytes_in += bytes_in;
  totals_.compression.bytes_out += bytes_out;
}

void TrafficStats::tunnelOpened() {
  ++totals_.tunnels.opened;
  ++totals_.tunnels.active;
}

void TrafficStats::tunnelClosed(uint64_t bytes_up, uint64_t bytes_down) {
  if (totals_.tunnels.active > 0) --totals_.tunnels.active;
  totals_.tunnels.bytes_up += bytes_up;
  totals_.tunnels.bytes_down += bytes_down;
}

void TrafficStats::report(int64_t now_s, uint32_t seconds, Report* out) const {
  out->totals.merge(totals_);
  if (ring_.empty() || seconds == 0) return;
  if (seconds > kWindowSeconds) seconds = kWindowSeconds;
  for (const Second& s : ring_) {
    if (s.second > now_s - static_cast<int64_t>(seconds) && s.second <= now_s) {
      out->window.merge(s.counters);
      out->window_latency.merge(s.latency);
    }
  }
}

}  // namespace lb::stats
