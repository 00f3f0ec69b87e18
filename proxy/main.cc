// lbproxy: the data plane. `lbproxy -c FILE` serves; `lbproxy --check -c FILE` validates.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "config/loader.h"
#include "proxy/server.h"

int main(int argc, char** argv) {
  CLI::App app{"lbproxy - L7 load-balancing reverse proxy"};
  std::string config_path;
  bool check = false;
  int workers = -1;
  app.add_option("-c,--config", config_path, "configuration file (YAML)")->required();
  app.add_flag("--check", check, "validate the configuration, print every error, and exit");
  app.add_option("--workers", workers, "override the number of worker threads");
  app.set_version_flag("--version", "lbproxy 0.1.0");
  CLI11_PARSE(app, argc, argv);

  lb::config::LoadResult loaded = lb::config::loadProxyConfigFile(config_path);
  for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", config_path.c_str(), loaded.errors.size());
    return 1;
  }
  if (check) {
    std::printf("%s: ok\n", config_path.c_str());
    return 0;
  }
  return lb::runServer(loaded.config, {config_path, workers});
}
