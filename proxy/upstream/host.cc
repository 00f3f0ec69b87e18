#include "proxy/upstream/host.h"

namespace lb::upstream {

const char* adminStateName(AdminState s) {
  switch (s) {
    case AdminState::kReady:
      return "ready";
    case AdminState::kDrain:
      return "drain";
    case AdminState::kMaint:
      return "maint";
  }
  return "ready";
}

const char* healthName(Health h) {
  switch (h) {
    case Health::kHealthy:
      return "healthy";
    case Health::kUnhealthy:
      return "unhealthy";
    case Health::kChecking:
      return "checking";
  }
  return "healthy";
}

}  // namespace lb::upstream
