#include "proxy/health/health_checker.h"

#include "proxy/http/http1_parser.h"
#include "proxy/net/proxy_protocol.h"
#include "proxy/net/stream.h"
#include "proxy/tls/client_context.h"

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
    case CheckResult::kTlsFailed:
      return "tls_failed";
  }
  return "unknown";
}

// One host's check loop: wait, connect (and the TLS handshake), GET, read the status line
// and headers, close.
class HealthChecker::Probe {
 public:
  Probe(HealthChecker& owner, std::shared_ptr<upstream::HostState> host,
        const snapshot::ClusterSnapshot& cluster)
      : owner_(owner),
        host_(std::move(host)),
        next_timer_(owner.loop_, [this] { run(); }),
        timeout_timer_(owner.loop_, [this] { finish(CheckResult::kTimeout); }),
        parser_(http::Http1HeadParser::Kind::kResponse, http::HeadLimits{8192, 65536, 100}) {
    update(cluster);
    next_timer_.start(std::chrono::milliseconds(0));
  }
  ~Probe() { closeConnection(); }

  void update(const snapshot::ClusterSnapshot& cluster) {
    cfg_ = cluster.config.health_check;
    if (tls_ != cluster.tls) sessions_.clear();  // sessions of other TLS settings
    tls_ = cluster.tls;
    send_proxy_protocol_ = cluster.config.send_proxy_protocol;
    host_header_ = !cfg_.host.empty()                        ? cfg_.host
                   : !cluster.config.tls.server_name.empty() ? cluster.config.tls.server_name
                                                             : host_->address;
  }

 private:
  void run() {
    if (host_->admin.load() == upstream::AdminState::kMaint) {
      next_timer_.start(cfg_.interval);  // maint: out of health checks
      return;
    }
    stream_ = new net::Stream(owner_.loop_, -1);
    stream_->setCallbacks(onRead, nullptr, onEvent, this);
    parser_.reset();
    timeout_timer_.start(cfg_.timeout);
    const auto* addr = reinterpret_cast<const sockaddr*>(&host_->sockaddr);
    if (stream_->connect(addr, host_->sockaddr_len) < 0) {
      finish(CheckResult::kConnectFailed);
      return;
    }
    if (send_proxy_protocol_) {
      // A backend that wants PROXY headers refuses connections without one. A check is the
      // proxy's own connection: the spec's LOCAL (v2) or UNKNOWN (v1), as HAProxy sends.
      std::string header;
      net::ProxyHeader local;
      local.local = true;
      net::encodeProxyHeader(local, send_proxy_protocol_, &header);
      stream_->write(header.data(), header.size());
    }
    if (tls_) {
      ssl_st* ssl = tls_->newSession(addr, &sessions_);
      if (!ssl) {
        finish(CheckResult::kTlsFailed);
        return;
      }
      stream_->startTlsClient(ssl);
    }
    stream_->enableRead();
  }

  void sendRequest() {
    std::string request = "GET " + cfg_.path + " HTTP/1.1\r\nHost: " + host_header_ +
                          "\r\nUser-Agent: lbproxy-health-check\r\nConnection: close\r\n\r\n";
    stream_->write(request.data(), request.size());
  }

  static void onRead(net::Stream* stream, void* arg) noexcept {
    auto* self = static_cast<Probe*>(arg);
    const char* data = nullptr;
    size_t len = 0;
    if (!stream->peekInput(&data, &len)) return;
    auto r = self->parser_.feed(data, len);
    stream->drainInput(r.consumed);
    if (r.status == http::Http1HeadParser::Status::kError) {
      self->finish(CheckResult::kBadResponse);
    } else if (r.status == http::Http1HeadParser::Status::kDone) {
      int status = self->parser_.response().status;
      bool ok = false;
      for (auto [lo, hi] : self->cfg_.expected_statuses) ok |= status >= lo && status <= hi;
      self->finish(ok ? CheckResult::kPass : CheckResult::kBadStatus);
    }
  }

  static void onEvent(net::Stream* stream, net::StreamEvent event, void* arg) noexcept {
    auto* self = static_cast<Probe*>(arg);
    if (event == net::StreamEvent::kConnected) {
      self->sendRequest();
      return;
    }
    if (self->parser_.started())
      self->finish(CheckResult::kBadResponse);
    else
      self->finish(stream->tlsFailure() ? CheckResult::kTlsFailed : CheckResult::kConnectFailed);
  }

  void closeConnection() {
    if (stream_) stream_->release();  // deferred while its callback is on the stack
    stream_ = nullptr;
  }

  void finish(CheckResult result) {
    if (result == CheckResult::kTimeout && stream_ && stream_->tlsHandshaking())
      result = CheckResult::kTlsFailed;
    timeout_timer_.cancel();
    closeConnection();
    next_timer_.start(cfg_.interval);
    owner_.on_result_(host_, result);  // may destroy this probe (sync): last
  }

  HealthChecker& owner_;
  std::shared_ptr<upstream::HostState> host_;
  config::HealthCheckConfig cfg_;
  std::shared_ptr<const tls::ClientContext> tls_;
  int send_proxy_protocol_ = 0;  // the cluster's PROXY protocol version, 0 = none
  tls::SessionCache sessions_;
  std::string host_header_;
  common::Timer next_timer_;
  common::Timer timeout_timer_;
  http::Http1HeadParser parser_;
  net::Stream* stream_ = nullptr;
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
        it->second->update(c);
        next[h.get()] = std::move(it->second);
      } else {
        next[h.get()] = std::make_unique<Probe>(*this, h, c);
      }
    }
  }
  probes_ = std::move(next);
}

void HealthChecker::stop() { probes_.clear(); }

}  // namespace lb::health
