#include "proxy/server.h"

#include <event2/event.h>
#include <event2/thread.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "proxy/core/event_loop.h"
#include "proxy/core/listen_socket.h"
#include "proxy/core/worker.h"
#include "proxy/log/access_log.h"
#include "proxy/snapshot/snapshot.h"

namespace lb {

namespace {

struct MainState {
  core::EventLoop* loop;
  std::vector<std::unique_ptr<core::Worker>>* workers;
  log::AccessLogWriter* access_log;
  bool stopping = false;
  std::thread joiner;  // joins the workers during a drain; joined by runServer
};

void onSignal(evutil_socket_t sig, short, void* arg) {
  auto* state = static_cast<MainState*>(arg);
  if (sig == SIGUSR1) {
    if (state->access_log) state->access_log->reopen();
    std::fprintf(stderr, "lbproxy: reopening the access log\n");
    return;
  }
  if (state->stopping) return;
  state->stopping = true;
  std::fprintf(stderr, "lbproxy: %s received, draining connections\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  for (auto& w : *state->workers) w->beginShutdown();
  // Join off the loop thread so signals keep being handled meanwhile.
  state->joiner = std::thread([state] {
    for (auto& w : *state->workers) w->join();
    state->loop->stop();
  });
}

}  // namespace

int runServer(const config::ProxyConfig& config, const ServerOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);
  uint32_t n_workers = options.workers_override >= 0
                           ? static_cast<uint32_t>(options.workers_override)
                           : config.workers;
  if (n_workers == 0) n_workers = std::max(1u, std::thread::hardware_concurrency());

  snapshot::HostRegistry registry;
  std::string error;
  auto snap = snapshot::buildSnapshot(config, 1, registry, &error);
  if (!snap) {
    std::fprintf(stderr, "lbproxy: %s\n", error.c_str());
    return 1;
  }

  // One listening socket per listener per worker (SO_REUSEPORT): the kernel spreads
  // connections and a connection never changes worker.
  std::vector<std::vector<int>> fds(n_workers);
  for (const auto& l : snap->listeners) {
    uint16_t port = 0;
    for (uint32_t w = 0; w < n_workers; ++w) {
      uint16_t bound = 0;
      int fd = core::openListenSocket(l.address, port, &bound, &error);
      if (fd < 0) {
        std::fprintf(stderr, "lbproxy: listener %s: %s\n", l.name.c_str(), error.c_str());
        return 1;
      }
      port = bound;
      fds[w].push_back(fd);
    }
    std::string host = l.address.substr(0, l.address.rfind(':'));
    std::printf("lbproxy: listener %s on %s:%u\n", l.name.c_str(), host.c_str(), port);
  }

  std::unique_ptr<log::AccessLogWriter> access_log;
  if (config.access_log.enabled) {
    access_log = std::make_unique<log::AccessLogWriter>();
    if (!access_log->open(config.access_log.path, &error)) {
      std::fprintf(stderr, "lbproxy: %s\n", error.c_str());
      return 1;
    }
  }

  core::EventLoop main_loop;
  std::vector<std::unique_ptr<core::Worker>> workers;
  for (uint32_t w = 0; w < n_workers; ++w)
    workers.push_back(std::make_unique<core::Worker>(w, snap, std::move(fds[w]), access_log.get(),
                                                     config.shutdown_timeout));
  for (auto& w : workers) w->start();

  MainState state{&main_loop, &workers, access_log.get(), false, {}};
  event* sigterm = evsignal_new(main_loop.base(), SIGTERM, onSignal, &state);
  event* sigint = evsignal_new(main_loop.base(), SIGINT, onSignal, &state);
  event* sigusr1 = evsignal_new(main_loop.base(), SIGUSR1, onSignal, &state);
  event_add(sigterm, nullptr);
  event_add(sigint, nullptr);
  event_add(sigusr1, nullptr);
  std::printf("lbproxy: ready, %u workers\n", n_workers);
  std::fflush(stdout);

  main_loop.run();
  if (state.joiner.joinable()) state.joiner.join();

  event_free(sigterm);
  event_free(sigint);
  event_free(sigusr1);
  for (auto& w : workers) w->join();
  workers.clear();
  if (access_log) access_log->close();
  std::fprintf(stderr, "lbproxy: stopped\n");
  return 0;
}

}  // namespace lb
