// A limit meant for the whole proxy, split over the workers so that none needs a lock or a
// message to enforce it: each worker takes total / workers, and the first (total mod workers)
// one more, so the shares add up to the total exactly. A total smaller than the worker count
// still gives every worker 1 (a worker that could never reach a host would answer every
// request 503): the sum is then the worker count. Any thread.
#pragma once

#include <cstdint>

namespace lb::stream {

inline uint32_t workerShare(uint32_t total, uint32_t workers, uint32_t worker_id) {
  if (workers == 0) workers = 1;
  if (total < workers) return total ? 1 : 0;
  return total / workers + (worker_id % workers < total % workers ? 1 : 0);
}

}  // namespace lb::stream
