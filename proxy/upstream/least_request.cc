// Least request by the power of two choices: two random candidates, the one with fewer
// active requests (scaled by weight) wins. Near-optimal spread without scanning every host.
#include "proxy/upstream/load_balancer.h"

namespace lb::upstream {
namespace {

class LeastRequest final : public LoadBalancer {
 public:
  LeastRequest(std::vector<LbHost>& hosts, Random& random) : hosts_(hosts), random_(random) {}

  int pick(const PickContext& ctx) override {
    candidates_.clear();
    for (uint32_t i = 0; i < hosts_.size(); ++i)
      if (candidate(hosts_, i, ctx)) candidates_.push_back(i);
    if (candidates_.empty()) return kNoHost;
    if (candidates_.size() == 1) return static_cast<int>(candidates_[0]);
    uint64_t n = candidates_.size();
    uint32_t a = candidates_[random_.below(n)];
    uint32_t b = candidates_[random_.below(n - 1)];
    if (b == a) b = candidates_[n - 1];
    // Compare active/weight without division: a_active * b_weight vs b_active * a_weight.
    uint64_t lhs = uint64_t{hosts_[a].load->active_requests} * weightOf(hosts_[b], ctx);
    uint64_t rhs = uint64_t{hosts_[b].load->active_requests} * weightOf(hosts_[a], ctx);
    return static_cast<int>(lhs <= rhs ? a : b);
  }

 private:
  std::vector<LbHost>& hosts_;
  Random& random_;
  std::vector<uint32_t> candidates_;  // reused: no allocation per pick
};

}  // namespace

std::unique_ptr<LoadBalancer> makeLeastRequest(std::vector<LbHost>& hosts, Random& random) {
  return std::make_unique<LeastRequest>(hosts, random);
}

}  // namespace lb::upstream
