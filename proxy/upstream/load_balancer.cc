#include "proxy/upstream/load_balancer.h"

#include <algorithm>

namespace lb::upstream {

bool PickContext::wasTried(uint32_t index) const {
  return tried && std::find(tried->begin(), tried->end(), index) != tried->end();
}

uint64_t hashKey(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

std::unique_ptr<LoadBalancer> makeLoadBalancer(config::BalancerKind kind,
                                               std::vector<LbHost>& hosts, Random& random) {
  switch (kind) {
    case config::BalancerKind::kRoundRobin:
      return makeRoundRobin(hosts);
    case config::BalancerKind::kLeastRequest:
      return makeLeastRequest(hosts, random);
    case config::BalancerKind::kRandom:
      return makeRandom(hosts, random);
    case config::BalancerKind::kRingHash:
      return makeRingHash(hosts, random);
  }
  return makeRoundRobin(hosts);
}

}  // namespace lb::upstream
