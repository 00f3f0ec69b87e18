#include "controlplane/rollout/planner.h"

#include <algorithm>

namespace lb::controlplane {

namespace {

int64_t clampNonNegative(int64_t v) { return v < 0 ? 0 : v; }

}  // namespace

Plan plan(const PlanInput& in) {
  Plan out;
  const int64_t n = in.count;
  int64_t new_serving = 0, new_pending = 0, old_serving = 0, old_draining = 0;
  std::vector<const Instance*> parked_target, old_in_traffic, old_untrusted, target_serving;
  for (const Instance& i : in.fleet) {
    const bool target = i.version == in.target_version;
    switch (i.phase) {
      case Phase::kStarting:
      case Phase::kGating:
        if (target) {
          ++new_pending;
        } else {
          out.stop.push_back(i.id);  // another version's instance that never took traffic
        }
        break;
      case Phase::kBaking:
        if (target) {
          ++new_pending;
        } else {
          old_untrusted.push_back(&i);  // in traffic but never proved itself: out first
        }
        break;
      case Phase::kServing:
        if (target) {
          ++new_serving;
          target_serving.push_back(&i);
        } else {
          ++old_serving;
          old_in_traffic.push_back(&i);
        }
        break;
      case Phase::kDraining:
        if (!target) ++old_draining;
        break;
      case Phase::kParked:
        if (target) parked_target.push_back(&i);
        break;
      case Phase::kFailed:
        out.stop.push_back(i.id);
        break;
      case Phase::kStopping:
      case Phase::kStopped:
        break;
    }
  }

  // Untrusted instances of another version leave traffic now: they are what is being replaced
  // in a rollback, and nothing counts on them for capacity.
  for (const Instance* i : old_untrusted) out.drain.push_back(i->id);

  const int64_t wanted = clampNonNegative(n - new_serving - new_pending);
  const int64_t consumers = new_serving + new_pending + old_serving + old_draining +
                            static_cast<int64_t>(old_untrusted.size());
  int64_t room =
      in.emergency ? wanted : clampNonNegative(n + static_cast<int64_t>(in.max_surge) - consumers);
  const int64_t unpark = std::min({wanted, room, static_cast<int64_t>(parked_target.size())});
  for (int64_t k = 0; k < unpark; ++k)
    out.unpark.push_back(parked_target[parked_target.size() - 1 - k]->id);  // newest first
  room -= unpark;
  out.start = static_cast<uint32_t>(std::min(wanted - unpark, room));

  // Old instances leave traffic as long as enough stays available. Unparked instances count:
  // they are known-good and back in traffic as soon as the engine acts.
  int64_t available = new_serving + old_serving + (in.emergency ? unpark : 0);
  int64_t may_drain =
      in.emergency ? old_serving
                   : clampNonNegative(available - (n - static_cast<int64_t>(in.max_unavailable)));
  for (const Instance* i : old_in_traffic) {
    if (may_drain-- <= 0) break;
    out.drain.push_back(i->id);
  }
  // More target instances serving than wanted (the count was lowered): drain the oldest.
  for (int64_t k = 0; k < new_serving - n; ++k) out.drain.push_back(target_serving[k]->id);

  out.complete = new_serving == n && new_pending == 0 && old_serving == 0 && old_draining == 0 &&
                 old_untrusted.empty();
  return out;
}

}  // namespace lb::controlplane
