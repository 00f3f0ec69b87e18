// A rate limit shared by every worker without a lock: GCRA (the generic cell rate algorithm,
// a token bucket kept as one timestamp per key) in a fixed table of atomic slots.
//
// Each key's state is its "theoretical arrival time" (TAT): the time its bucket would be full
// again. A request at `now` is allowed while TAT - now <= (burst - 1) * interval, and pushes
// TAT on by one interval (1 / rate). One 64-bit compare-and-swap per request; no thread owns
// the table, any worker may call take() at any time.
//
// Memory is fixed at construction: max_keys rounded up to a power of two (at least 4), 16
// bytes a slot, in sets of 4. A key takes a free slot of its set, or one whose bucket is full
// again (TAT <= now: forgetting it loses nothing, a new key starts full), or else the slot
// closest to full. So a million distinct keys fit in any table: only keys that are being
// limited need to be remembered, and a hot key (an empty bucket) is the last one evicted.
// Two workers replacing the same slot at the same instant can count one request against the
// other's key: the limit is exact per key up to such races, never unbounded.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace lb::ratelimit {

struct Decision {
  bool allowed = true;
  uint32_t remaining = 0;       // requests the key may still send at once after this one
  uint64_t retry_after_ms = 0;  // refused: until the next request would be allowed
  uint64_t full_after_ms = 0;   // until the bucket is full again (RateLimit's "t")
};

class RateLimiter {
 public:
  // `requests` per `period_ms`, at most `burst` at once (>= 1).
  RateLimiter(uint32_t requests, uint64_t period_ms, uint32_t burst, uint32_t max_keys);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one request for `key` (a 64-bit hash of it) at `now_ns` (a steady clock shared by
  // the callers). Any thread.
  Decision take(uint64_t key, uint64_t now_ns);

  size_t slotCount() const { return mask_ + 1; }
  size_t memoryBytes() const { return slotCount() * sizeof(Slot); }
  uint32_t burst() const { return burst_; }

 private:
  struct Slot {
    std::atomic<uint64_t> tag{0};  // the key (its hash); 0: free
    std::atomic<uint64_t> tat{0};  // theoretical arrival time, ns; 0: a full bucket
  };
  Slot* find(uint64_t tag, uint64_t now_ns);

  uint64_t interval_ns_;   // time per request at the sustained rate
  uint64_t tolerance_ns_;  // (burst - 1) * interval: how far TAT may run ahead of now
  uint32_t burst_;
  uint64_t mask_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace lb::ratelimit
