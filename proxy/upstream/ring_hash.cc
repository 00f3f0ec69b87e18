// Consistent hashing on a ring (ketama-style) for sticky sessions: a key keeps its host while
// the host is usable, and only keys of a host that leaves move. Points per host follow weight.
// Requests without the key fall back to a random host.
#include <algorithm>
#include <string>

#include "proxy/upstream/load_balancer.h"

namespace lb::upstream {
namespace {

constexpr uint32_t kPointsPerWeight = 64;
constexpr size_t kMaxRingPoints = 1 << 16;

class RingHash final : public LoadBalancer {
 public:
  RingHash(std::vector<LbHost>& hosts, Random& random) : hosts_(hosts), random_(random) {}

  int pick(const PickContext& ctx) override {
    if (ring_hosts_ != hosts_.size()) build();
    if (ring_.empty()) return kNoHost;
    if (!ctx.has_hash) return fallback(ctx);
    auto it = std::lower_bound(ring_.begin(), ring_.end(), Point{ctx.hash, 0},
                               [](const Point& a, const Point& b) { return a.hash < b.hash; });
    // Walk clockwise to the first usable host, at most once around.
    for (size_t step = 0; step < ring_.size(); ++step, ++it) {
      if (it == ring_.end()) it = ring_.begin();
      if (candidate(hosts_, it->host, ctx)) return static_cast<int>(it->host);
    }
    return kNoHost;
  }

 private:
  struct Point {
    uint64_t hash;
    uint32_t host;
  };

  void build() {
    ring_.clear();
    ring_hosts_ = hosts_.size();
    uint64_t total_weight = 0;
    for (const LbHost& h : hosts_) total_weight += h.state->weight.load(std::memory_order_relaxed);
    if (total_weight == 0) return;
    uint64_t per_weight =
        std::max<uint64_t>(1, std::min<uint64_t>(kPointsPerWeight, kMaxRingPoints / total_weight));
    for (uint32_t i = 0; i < hosts_.size(); ++i) {
      uint64_t points = per_weight * hosts_[i].state->weight.load(std::memory_order_relaxed);
      for (uint64_t p = 0; p < points; ++p)
        ring_.push_back({hashKey(hosts_[i].state->id + "#" + std::to_string(p)), i});
    }
    std::sort(ring_.begin(), ring_.end(),
              [](const Point& a, const Point& b) { return a.hash < b.hash; });
  }

  int fallback(const PickContext& ctx) {
    uint32_t n = static_cast<uint32_t>(hosts_.size());
    uint32_t start = static_cast<uint32_t>(random_.below(n));
    for (uint32_t k = 0; k < n; ++k) {
      uint32_t i = (start + k) % n;
      if (candidate(hosts_, i, ctx)) return static_cast<int>(i);
    }
    return kNoHost;
  }

  std::vector<LbHost>& hosts_;
  Random& random_;
  std::vector<Point> ring_;
  size_t ring_hosts_ = 0;
};

}  // namespace

std::unique_ptr<LoadBalancer> makeRingHash(std::vector<LbHost>& hosts, Random& random) {
  return std::make_unique<RingHash>(hosts, random);
}

}  // namespace lb::upstream
