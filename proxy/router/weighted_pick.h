// Which of a route's weighted destinations takes the next request: smooth weighted round
// robin (the algorithm of nginx's upstream weights). Over any run of sum(weights) picks each
// destination gets exactly its weight, spread out rather than in bursts (5, 1, 1 picks
// a a b a c a a), so a split holds per worker from the first requests on, with no randomness
// to average out. Pure; the caller owns `current` (one per destination, zero to start) and
// calls from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "proxy/router/route_table.h"

namespace lb::router {

// The index of the destination picked; 0 when every weight is 0.
inline size_t smoothWeightedPick(const std::vector<RouteEntry::Destination>& destinations,
                                 int64_t* current) {
  int64_t total = 0;
  size_t best = 0;
  for (size_t i = 0; i < destinations.size(); ++i) {
    const int64_t w = destinations[i].weight;
    current[i] += w;
    total += w;
    if (current[i] > current[best]) best = i;
  }
  current[best] -= total;
  return best;
}

}  // namespace lb::router
