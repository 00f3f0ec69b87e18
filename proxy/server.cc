#include "proxy/server.h"

#include <event2/event.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "common/event_loop.h"
#include "proxy/admin/admin_server.h"
#include "proxy/control/controller.h"
#include "proxy/log/access_log.h"

namespace lb {

namespace {

struct MainState {
  common::EventLoop* loop;
  control::Controller* controller;
  admin::AdminServer* admin;
  log::AccessLogWriter* access_log;
};

void onSignal(evutil_socket_t sig, short, void* arg) noexcept {
  auto* state = static_cast<MainState*>(arg);
  if (sig == SIGUSR1) {
    if (state->access_log) state->access_log->reopen();
    std::fprintf(stderr, "lbproxy: reopening the access log\n");
    return;
  }
  if (sig == SIGHUP) {
    if (state->controller->stopping()) return;
    std::fprintf(stderr, "lbproxy: SIGHUP received, reloading the configuration\n");
    // The controller logs each error; the reply has nowhere else to go.
    state->controller->reload([](const lb::control::Result<lb::control::ReloadView>& r) {
      if (r.error) std::fprintf(stderr, "lbproxy: reload failed; the running config stays\n");
    });
    return;
  }
  if (state->controller->stopping()) return;
  std::fprintf(stderr, "lbproxy: %s received, draining connections\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  if (state->admin) state->admin->stop();
  state->controller->shutdown([state] { state->loop->stop(); });
}

}  // namespace

int runServer(const config::ProxyConfig& config, const ServerOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);
  uint32_t n_workers = options.workers_override >= 0
                           ? static_cast<uint32_t>(options.workers_override)
                           : config.workers;
  if (n_workers == 0) n_workers = std::max(1u, std::thread::hardware_concurrency());

  std::string error;
  std::unique_ptr<log::AccessLogWriter> access_log;
  if (config.access_log.enabled) {
    access_log = std::make_unique<log::AccessLogWriter>();
    if (!access_log->open(config.access_log.path, &error)) {
      std::fprintf(stderr, "lbproxy: %s\n", error.c_str());
      return 1;
    }
  }

  common::EventLoop main_loop;
  auto controller =
      std::make_unique<control::Controller>(main_loop, options.config_path, access_log.get());
  // The admin listener is bound before the workers start, so a taken port fails start-up.
  std::unique_ptr<admin::AdminServer> admin;
  if (config.admin.enabled) {
    admin = std::make_unique<admin::AdminServer>(main_loop, *controller);
    if (!admin->start(config.admin.listen, &error)) {
      std::fprintf(stderr, "lbproxy: %s\n", error.c_str());
      return 1;
    }
  }
  if (!controller->start(config, n_workers, &error)) {
    std::fprintf(stderr, "lbproxy: %s\n", error.c_str());
    if (access_log) access_log->close();
    return 1;
  }
  if (admin) {
    std::string host = config.admin.listen.substr(0, config.admin.listen.rfind(':'));
    std::printf("lbproxy: admin on %s:%u%s\n", host.c_str(), admin->port(),
                controller->adminToken().empty() ? "" : " (bearer token required)");
  }

  MainState state{&main_loop, controller.get(), admin.get(), access_log.get()};
  std::vector<event*> signals;
  for (int sig : {SIGTERM, SIGINT, SIGUSR1, SIGHUP}) {
    event* ev = evsignal_new(main_loop.base(), sig, onSignal, &state);
    event_add(ev, nullptr);
    signals.push_back(ev);
  }
  std::printf("lbproxy: ready, %u workers\n", n_workers);
  std::fflush(stdout);

  main_loop.run();

  for (event* ev : signals) event_free(ev);
  admin.reset();
  controller.reset();
  if (access_log) access_log->close();
  std::fprintf(stderr, "lbproxy: stopped\n");
  return 0;
}

}  // namespace lb
