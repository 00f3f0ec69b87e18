#include "proxy/health/health_checker.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "proxy/http/http1_parser.h"

namespace lb::health {

const char* checkResultName(CheckResult r) {
  switch (r) {
    case CheckResult::kPass:
      return "pass";
    case CheckResult::kConnectFailed:
      return "connect_failed";
    case CheckResult::kTimeout:
      return "timeout";
    case CheckResult::kBadStatus:
      return "bad_status";
    case CheckResult::kBadResponse:
      return "bad_response";
  }
  return "unknown";
}

// One host's check loop: wait, connect, GET, read the status line and headers, close.
class HealthChecker::Probe {
 public:
  Probe(HealthChecker& owner, std::shared_ptr<upstream::HostState> host,
        config::HealthCheckConfig cfg)
      : owner_(owner),
        host_(std::move(host)),
        cfg_(std::move(cfg)),
        next_timer_(owner.loop_, [this] { run(); }),
        timeout_timer_(owner.loop_, [this] { finish(CheckResult::kTimeout); }),
        parser_(http::Http1HeadParser::Kind::kResponse, http::HeadLimits{8192, 65536, 100}) {
    next_timer_.start(std::chrono::milliseconds(0));
  }
  ~Probe() { closeConnection(); }

  void update(const config::HealthCheckConfig& cfg) { cfg_ = cfg; }

 private:
  void run() {
    if (host_->admin.load() == upstream::AdminState::kMaint) {
      next_timer_.start(cfg_.interval);  // maint: out of health checks
      return;
    }
    bev_ = bufferevent_socket_new(owner_.loop_.base(), -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev_, onRead, nullptr, onEvent, this);
    parser_.reset();
    timeout_timer_.start(cfg_.timeout);
    if (bufferevent_socket_connect(bev_, reinterpret_cast<const sockaddr*>(&host_->sockaddr),
                                   static_cast<int>(host_->sockaddr_len)) < 0) {
      finish(CheckResult::kConnectFailed);
      return;
    }
    std::string request = "GET " + cfg_.path +
                          " HTTP/1.1\r\nHost: " + (cfg_.host.empty() ? host_->address : cfg_.host) +
                          "\r\nUser-Agent: lbproxy-health-check\r\nConnection: close\r\n\r\n";
    bufferevent_write(bev_, request.data(), request.size());
    bufferevent_enable(bev_, EV_READ | EV_WRITE);
  }

  static void onRead(bufferevent* bev, void* arg) noexcept {
    auto* self = static_cast<Probe*>(arg);
    evbuffer* in = bufferevent_get_input(bev);
    while (self->bev_ && evbuffer_get_length(in) > 0) {
      evbuffer_iovec v;
      if (evbuffer_peek(in, -1, nullptr, &v, 1) < 1) return;
      auto r = self->parser_.feed(static_cast<const char*>(v.iov_base), v.iov_len);
      evbuffer_drain(in, r.consumed);
      if (r.status == http::Http1HeadParser::Status::kError) {
        self->finish(CheckResult::kBadResponse);
        return;
      }
      if (r.status == http::Http1HeadParser::Status::kDone) {
        int status = self->parser_.response().status;
        bool ok = false;
        for (auto [lo, hi] : self->cfg_.expected_statuses) ok |= status >= lo && status <= hi;
        self->finish(ok ? CheckResult::kPass : CheckResult::kBadStatus);
        return;
      }
    }
  }

  static void onEvent(bufferevent*, short events, void* arg) noexcept {
    auto* self = static_cast<Probe*>(arg);
    if (events & BEV_EVENT_CONNECTED) return;
    self->finish(self->parser_.started() ? CheckResult::kBadResponse : CheckResult::kConnectFailed);
  }

  void closeConnection() {
    if (bev_) bufferevent_free(bev_);
    bev_ = nullptr;
  }

  void finish(CheckResult result) {
    timeout_timer_.cancel();
    closeConnection();
    next_timer_.start(cfg_.interval);
    owner_.on_result_(host_, result);  // may destroy this probe (sync): last
  }

  HealthChecker& owner_;
  std::shared_ptr<upstream::HostState> host_;
  config::HealthCheckConfig cfg_;
  common::Timer next_timer_;
  common::Timer timeout_timer_;
  http::Http1HeadParser parser_;
  bufferevent* bev_ = nullptr;
};

HealthChecker::HealthChecker(common::EventLoop& loop, ResultFn on_result)
    : loop_(loop), on_result_(std::move(on_result)) {}

HealthChecker::~HealthChecker() = default;

void HealthChecker::sync(const snapshot::Snapshot& snapshot) {
  std::map<const upstream::HostState*, std::unique_ptr<Probe>> next;
  for (const auto& c : snapshot.clusters) {
    if (!c.config.health_check.enabled) continue;
    for (const auto& h : c.hosts) {
      auto it = probes_.find(h.get());
      if (it != probes_.end()) {
        it->second->update(c.config.health_check);
        next[h.get()] = std::move(it->second);
      } else {
        next[h.get()] = std::make_unique<Probe>(*this, h, c.config.health_check);
      }
    }
  }
  probes_ = std::move(next);
}

void HealthChecker::stop() { probes_.clear(); }

}  // namespace lb::health
