// Smooth weighted round robin (nginx's): spreads a host's turns evenly instead of in bursts.
#include "proxy/upstream/load_balancer.h"

namespace lb::upstream {
namespace {

class RoundRobin final : public LoadBalancer {
 public:
  explicit RoundRobin(std::vector<LbHost>& hosts) : hosts_(hosts), current_(hosts.size(), 0) {}

  int pick(const PickContext& ctx) override {
    if (current_.size() != hosts_.size()) current_.assign(hosts_.size(), 0);
    int best = kNoHost;
    int64_t total = 0;
    for (uint32_t i = 0; i < hosts_.size(); ++i) {
      if (!candidate(hosts_, i, ctx)) continue;
      int64_t w = weightOf(hosts_[i], ctx);
      current_[i] += w;
      total += w;
      if (best == kNoHost || current_[i] > current_[best]) best = static_cast<int>(i);
    }
    if (best != kNoHost) current_[best] -= total;
    return best;
  }

 private:
  std::vector<LbHost>& hosts_;
  std::vector<int64_t> current_;
};

}  // namespace

std::unique_ptr<LoadBalancer> makeRoundRobin(std::vector<LbHost>& hosts) {
  return std::make_unique<RoundRobin>(hosts);
}

}  // namespace lb::upstream
