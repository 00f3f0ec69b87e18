// lbcontrol: the deploy control plane. `lbcontrol -c FILE` runs; `--check` validates the file.
// Two threads: main (the REST API, signals) and the rollout engine (controlplane/rollout/).
#include <event2/event.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <future>
#include <memory>
#include <thread>

#include "common/event_loop.h"
#include "config/control_loader.h"
#include "controlplane/api/api_server.h"
#include "controlplane/driver/drivers.h"
#include "controlplane/rollout/engine.h"

namespace {

void onSignal(evutil_socket_t, short, void* arg) noexcept {
  std::fprintf(stderr, "lbcontrol: stopping (instances keep running)\n");
  static_cast<lb::common::EventLoop*>(arg)->stop();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lbcontrol - rolling updates with health gates, confirmed drains and rollback"};
  std::string config_path;
  bool check = false;
  app.add_option("-c,--config", config_path, "configuration file (YAML)")->required();
  app.add_flag("--check", check, "validate the configuration, print every error, and exit");
  app.set_version_flag("--version", "lbcontrol 0.1.0");
  CLI11_PARSE(app, argc, argv);

  lb::config::ControlLoadResult loaded = lb::config::loadControlConfigFile(config_path);
  for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", config_path.c_str(), loaded.errors.size());
    return 1;
  }
  const lb::config::ControlConfig& cfg = loaded.config;
  std::vector<std::pair<std::string, std::string>> tokens;
  if (!cfg.auth.tokens_file.empty()) {
    std::string error;
    if (!lb::controlplane::readTokens(cfg.auth.tokens_file, &tokens, &error)) {
      std::fprintf(stderr, "lbcontrol: %s\n", error.c_str());
      return 1;
    }
  }
  if (check) {
    std::printf("%s: ok\n", config_path.c_str());
    return 0;
  }
  std::signal(SIGPIPE, SIG_IGN);

  lb::common::EventLoop main_loop;
  lb::common::EventLoop engine_loop;
  std::unique_ptr<lb::controlplane::Engine> engine;
  std::promise<std::string> started;
  std::thread engine_thread([&] {
    engine = std::make_unique<lb::controlplane::Engine>(cfg, engine_loop,
                                                        lb::controlplane::makeDriver(cfg));
    std::string error;
    const bool ok = engine->start(&error);
    started.set_value(ok ? "" : (error.empty() ? "cannot start" : error));
    if (ok) engine_loop.run();
    engine.reset();
  });
  if (std::string error = started.get_future().get(); !error.empty()) {
    engine_thread.join();
    std::fprintf(stderr, "lbcontrol: %s\n", error.c_str());
    return 1;
  }
  int status = 0;
  {
    lb::controlplane::ApiServer api(main_loop, engine_loop, *engine, tokens);
    std::string error;
    if (!api.start(cfg.listen, &error)) {
      std::fprintf(stderr, "lbcontrol: listen: %s\n", error.c_str());
      status = 1;
    } else {
      std::printf("lbcontrol: api on %s port %u\n", cfg.listen.c_str(), api.port());
      std::fflush(stdout);
      event* sigs[] = {evsignal_new(main_loop.base(), SIGTERM, onSignal, &main_loop),
                       evsignal_new(main_loop.base(), SIGINT, onSignal, &main_loop)};
      for (event* e : sigs) event_add(e, nullptr);
      main_loop.run();
      for (event* e : sigs) event_free(e);
    }
  }
  engine_loop.stop();
  engine_thread.join();
  return status;
}
