// Load balancers: one small worker-local class each, behind one interface, registered by
// name. A balancer is blind to health: it only skips hosts that are not usable now or that
// this request already tried. Owner: one worker thread; no locks, no shared writes.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "proxy/upstream/host.h"

namespace lb::upstream {

// Worker-local load of one host; lives as long as the host does on that worker, across
// snapshot switches, so in-flight requests are counted on the right host.
struct HostLoad {
  uint32_t active_requests = 0;  // on this worker only
  // This worker's share of the cluster's per-host limit (UINT32_MAX: none); a host at it is
  // skipped like one out of rotation.
  uint32_t max_active = UINT32_MAX;
  bool hasRoom() const { return active_requests < max_active; }
};

// The worker's view of one host: shared state plus worker-local load.
struct LbHost {
  HostState* state = nullptr;
  HostLoad* load = nullptr;
};

// Small, fast, worker-local PRNG (splitmix64).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }

 private:
  uint64_t state_;
};

struct PickContext {
  const std::vector<uint32_t>* tried = nullptr;  // host indices already tried by this request
  int64_t now_ms = 0;                            // steady clock, for slow start
  bool has_hash = false;
  uint64_t hash = 0;  // ring_hash key (header or cookie), when present

  bool wasTried(uint32_t index) const;
};

class LoadBalancer {
 public:
  static constexpr int kNoHost = -1;
  virtual ~LoadBalancer() = default;
  // Returns an index into the hosts the balancer was made with, or kNoHost.
  virtual int pick(const PickContext& ctx) = 0;
};

// `hosts` must outlive the balancer (the worker's cluster owns both).
std::unique_ptr<LoadBalancer> makeLoadBalancer(config::BalancerKind kind,
                                               std::vector<LbHost>& hosts, Random& random);

// 64-bit hash used for ring_hash keys and ring points (FNV-1a with a final mix).
uint64_t hashKey(std::string_view key);

// Helpers shared by the balancers.
inline bool candidate(const std::vector<LbHost>& hosts, uint32_t i, const PickContext& ctx) {
  return hosts[i].state->usable() && !ctx.wasTried(i) && hosts[i].load->hasRoom();
}
inline uint32_t weightOf(const LbHost& h, const PickContext& ctx) {
  return h.state->effectiveWeight(ctx.now_ms);
}

std::unique_ptr<LoadBalancer> makeRoundRobin(std::vector<LbHost>& hosts);
std::unique_ptr<LoadBalancer> makeLeastRequest(std::vector<LbHost>& hosts, Random& random);
std::unique_ptr<LoadBalancer> makeRandom(std::vector<LbHost>& hosts, Random& random);
std::unique_ptr<LoadBalancer> makeRingHash(std::vector<LbHost>& hosts, Random& random);

}  // namespace lb::upstream
