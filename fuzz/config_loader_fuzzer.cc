// libFuzzer target: the config loader on arbitrary YAML. It must never throw, crash or accept
// a config without listeners, and every error it reports has a line, a column and a field path.
#include <cstdlib>
#include <string>

#include "config/loader.h"

#define CHECK(cond)            \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  lb::config::LoadResult r = lb::config::loadProxyConfigString(yaml, "fuzz.yaml");
  if (r.ok()) {
    CHECK(!r.config.listeners.empty());
    return 0;
  }
  for (const auto& e : r.errors) CHECK(e.toString().rfind("fuzz.yaml:", 0) == 0);
  return 0;
}
