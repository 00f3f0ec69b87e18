// Renders the Prometheus text exposition at scrape time from the workers' merged reports and
// the main thread's state. prometheus-cpp provides the registry and the serialiser; a fresh
// registry per scrape keeps the request path free of its atomics. Main thread.
#pragma once

#include <string>

#include "proxy/control/metrics_input.h"

namespace lb::admin {

std::string renderPrometheus(const control::MetricsInput& in);

}  // namespace lb::admin
