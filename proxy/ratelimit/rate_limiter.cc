#include "proxy/ratelimit/rate_limiter.h"

namespace lb::ratelimit {

namespace {

constexpr uint32_t kWays = 4;
constexpr uint64_t kZeroKeyTag = 0x5bd1e9955bd1e995ULL;

uint64_t mix(uint64_t h) {
  h ^= h >> 31;
  h *= 0x7fb5d329728ea185ULL;
  h ^= h >> 27;
  return h;
}

uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

RateLimiter::RateLimiter(uint32_t requests, uint64_t period_ms, uint32_t burst, uint32_t max_keys) {
  if (requests == 0) requests = 1;
  if (burst == 0) burst = 1;
  interval_ns_ = period_ms * 1000000 / requests;
  if (interval_ns_ == 0) interval_ns_ = 1;
  tolerance_ns_ = uint64_t{burst - 1} * interval_ns_;
  burst_ = burst;
  uint64_t slots = kWays;
  while (slots < max_keys) slots <<= 1;
  mask_ = slots - 1;
  slots_ = std::make_unique<Slot[]>(slots);
}

RateLimiter::Slot* RateLimiter::find(uint64_t tag, uint64_t now_ns) {
  Slot* set = &slots_[mix(tag) & mask_ & ~uint64_t{kWays - 1}];
  for (uint32_t i = 0; i < kWays; ++i)
    if (set[i].tag.load(std::memory_order_acquire) == tag) return &set[i];
  // Not remembered: a free slot, else one full again, else the one closest to full.
  Slot* victim = nullptr;
  uint64_t victim_tat = UINT64_MAX;
  for (uint32_t i = 0; i < kWays; ++i) {
    const uint64_t t = set[i].tat.load(std::memory_order_relaxed);
    if (set[i].tag.load(std::memory_order_relaxed) == 0 || t <= now_ns) {
      victim = &set[i];
      break;
    }
    if (t < victim_tat) {
      victim_tat = t;
      victim = &set[i];
    }
  }
  uint64_t old = victim->tag.load(std::memory_order_relaxed);
  if (!victim->tag.compare_exchange_strong(old, tag, std::memory_order_acq_rel)) {
    // Another worker took the slot meanwhile; if for this key, share it.
    return old == tag ? victim : nullptr;
  }
  victim->tat.store(0, std::memory_order_release);
  return victim;
}

Decision RateLimiter::take(uint64_t key, uint64_t now_ns) {
  const uint64_t tag = key ? key : kZeroKeyTag;  // 0 marks a free slot
  for (int tries = 0; tries < 8; ++tries) {
    Slot* slot = find(tag, now_ns);
    if (!slot) continue;
    uint64_t tat = slot->tat.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t start = tat > now_ns ? tat : now_ns;
      Decision d;
      if (start - now_ns > tolerance_ns_) {
        d.allowed = false;
        d.retry_after_ms = ceilDiv(start - now_ns - tolerance_ns_, 1000000);
        d.full_after_ms = ceilDiv(start - now_ns, 1000000);
        return d;
      }
      const uint64_t next = start + interval_ns_;
      if (slot->tat.compare_exchange_weak(tat, next, std::memory_order_acq_rel)) {
        const uint64_t ahead = next - now_ns;  // <= tolerance + interval
        d.remaining = static_cast<uint32_t>((tolerance_ns_ + interval_ns_ - ahead) / interval_ns_);
        d.full_after_ms = ceilDiv(ahead, 1000000);
        return d;
      }
      if (slot->tag.load(std::memory_order_acquire) != tag) break;  // evicted: look again
    }
  }
  return Decision{};  // the table churns under this key: let it through rather than spin
}

}  // namespace lb::ratelimit
