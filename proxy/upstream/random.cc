// Weighted random: each usable, untried host with probability weight / total.
#include "proxy/upstream/load_balancer.h"

namespace lb::upstream {
namespace {

class RandomBalancer final : public LoadBalancer {
 public:
  RandomBalancer(std::vector<LbHost>& hosts, Random& random) : hosts_(hosts), random_(random) {}

  int pick(const PickContext& ctx) override {
    uint64_t total = 0;
    for (uint32_t i = 0; i < hosts_.size(); ++i)
      if (candidate(hosts_, i, ctx)) total += weightOf(hosts_[i], ctx);
    if (total == 0) return kNoHost;
    uint64_t point = random_.below(total);
    for (uint32_t i = 0; i < hosts_.size(); ++i) {
      if (!candidate(hosts_, i, ctx)) continue;
      uint64_t w = weightOf(hosts_[i], ctx);
      if (point < w) return static_cast<int>(i);
      point -= w;
    }
    return kNoHost;
  }

 private:
  std::vector<LbHost>& hosts_;
  Random& random_;
};

}  // namespace

std::unique_ptr<LoadBalancer> makeRandom(std::vector<LbHost>& hosts, Random& random) {
  return std::make_unique<RandomBalancer>(hosts, random);
}

}  // namespace lb::upstream
