#include "proxy/admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "common/event_loop.h"
#include "common/http_server.h"
#include "config/values.h"
#include "proxy/admin/admin_commands.h"
#include "proxy/admin/admin_json.h"
#include "proxy/admin/prometheus_exporter.h"
#include "proxy/control/controller.h"

namespace lb::admin {

using nlohmann::json;

namespace {
constexpr size_t kMaxBody = 1 << 20;
}  // namespace

using common::bodyOf;
using common::queryParam;
using common::sendJson;

AdminServer::AdminServer(common::EventLoop& loop, control::Controller& controller)
    : loop_(loop), controller_(controller) {}

AdminServer::~AdminServer() { stop(); }

bool AdminServer::start(const std::string& address, std::string* error) {
  http_ = evhttp_new(loop_.base());
  evhttp_set_max_body_size(http_, kMaxBody);
  evhttp_set_max_headers_size(http_, 16384);
  evhttp_set_timeout(http_, 30);
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(http_, onRequest, this);
  std::string bind_error;
  port_ = common::bindHttp(http_, address, &bind_error);
  if (port_ == 0) {
    *error = "admin.listen: " + bind_error;
    evhttp_free(http_);
    http_ = nullptr;
    return false;
  }
  return true;
}

void AdminServer::stop() {
  if (http_) evhttp_free(http_);
  http_ = nullptr;
}

void AdminServer::onRequest(evhttp_request* req, void* arg) noexcept {
  static_cast<AdminServer*>(arg)->handle(req);
}

void AdminServer::handle(evhttp_request* req) {
  if (controller_.stopping()) {
    sendJson(req, 503, common::errorBody("shutting_down", "lbproxy is shutting down"));
    return;
  }
  if (!controller_.adminToken().empty() &&
      common::authorizeBearer(req, {{"admin", controller_.adminToken()}}, "lbproxy admin").empty())
    return;
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri ? evhttp_uri_get_path(uri) : nullptr;
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  std::vector<std::string> p = common::splitPath(raw_path ? raw_path : "/");
  const std::string method = common::methodOf(req);
  auto wrongMethod = [&](const char* allowed) { common::sendWrongMethod(req, method, allowed); };
  auto badRequest = [req](const std::string& message) {
    sendJson(req, 400, common::errorBody("bad_request", message));
  };
  auto sendError = [req](const control::ControlError& e) {
    auto [status, body] = errorAnswer(e);
    sendJson(req, status, body);
  };
  // A host operation's answer: `ok_status` with the host, or the error.
  auto hostReply = [req, sendError](int ok_status) {
    return [req, sendError, ok_status](control::Result<control::HostAnswer> r) {
      if (r.error) return sendError(*r.error);
      sendJson(req, ok_status, hostAnswerJson(*r.value));
    };
  };

  if (p.size() == 1 && p[0] == "metrics") {
    if (method != "GET") return wrongMethod("GET");
    controller_.metrics([req](const control::MetricsInput& in) {
      common::sendText(req, 200, "text/plain; version=0.0.4; charset=utf-8", renderPrometheus(in));
    });
    return;
  }
  if (p.empty() || p[0] != "v1") {
    sendJson(req, 404,
             common::errorBody("not_found",
                               "unknown path; the API is under /v1 "
                               "(see docs/admin-api.md)"));
    return;
  }
  if (p.size() == 2 && p[1] == "status") {
    if (method != "GET") return wrongMethod("GET");
    return sendJson(req, 200, statusJson(controller_.status()));
  }
  if (p.size() == 2 && p[1] == "stats") {
    if (method != "GET") return wrongMethod("GET");
    std::string w = queryParam(query, "window");
    uint32_t window = 60;
    if (!w.empty()) {
      auto d = config::parseDuration(w);
      if (!d || d->count() < 1000 || d->count() > 300000 || d->count() % 1000 != 0)
        return badRequest("window must be whole seconds from 1s to 5m, e.g. window=10s");
      window = static_cast<uint32_t>(d->count() / 1000);
    }
    return controller_.stats(
        window, [req](const control::StatsView& v) { sendJson(req, 200, statsJson(v)); });
  }
  if (p.size() == 3 && p[1] == "config" && p[2] == "reload") {
    if (method != "POST") return wrongMethod("POST");
    return controller_.reload([req, sendError](control::Result<control::ReloadView> r) {
      if (r.error) return sendError(*r.error);
      sendJson(req, 200, reloadJson(*r.value));
    });
  }
  if (p.size() >= 2 && p[1] == "routes") {
    if (p.size() == 2) {
      if (method != "GET") return wrongMethod("GET");
      return sendJson(req, 200, routesJson(controller_.listRoutes()));
    }
    auto routeReply = [req, sendError](control::Result<control::RouteView> r) {
      if (r.error) return sendError(*r.error);
      sendJson(req, 200, routeJson(*r.value));
    };
    if (p.size() == 3) {
      if (method != "GET") return wrongMethod("GET");
      for (const auto& r : controller_.listRoutes())
        if (r.name == p[2]) return sendJson(req, 200, routeJson(r));
      return sendJson(req, 404, common::errorBody("not_found", "no route named \"" + p[2] + "\""));
    }
    if (p.size() == 4 && p[3] == "destinations") {
      if (method == "PUT") {
        auto parsed = parseSetRouteDestinations(p[2], bodyOf(req));
        if (!parsed.command) return badRequest(parsed.error);
        return controller_.setRouteDestinations(std::move(*parsed.command), routeReply);
      }
      if (method == "DELETE") return controller_.resetRouteDestinations(p[2], routeReply);
      return wrongMethod("PUT, DELETE");
    }
  }
  if (p.size() >= 2 && p[1] == "clusters") {
    if (p.size() == 2) {
      if (method != "GET") return wrongMethod("GET");
      return controller_.listClusters([req](const std::vector<control::ClusterView>& clusters) {
        sendJson(req, 200, clustersJson(clusters));
      });
    }
    const std::string& cluster = p[2];
    if (p.size() == 3) {
      if (method != "GET") return wrongMethod("GET");
      return controller_.getCluster(cluster,
                                    [req, sendError](control::Result<control::ClusterView> r) {
                                      if (r.error) return sendError(*r.error);
                                      sendJson(req, 200, clusterJson(*r.value));
                                    });
    }
    if (p[3] == "hosts") {
      if (p.size() == 4) {
        if (method != "POST") return wrongMethod("POST");
        auto parsed = parseAddHost(cluster, bodyOf(req));
        if (!parsed.command) return badRequest(parsed.error);
        return controller_.addHost(std::move(*parsed.command), hostReply(201));
      }
      const std::string& id = p[4];
      if (p.size() == 5) {
        if (method == "DELETE") {
          std::string force = queryParam(query, "force");
          if (!force.empty() && force != "true" && force != "false")
            return badRequest("force must be true or false");
          return controller_.removeHost({cluster, id, force == "true"}, hostReply(200));
        }
        if (method == "GET") {
          return controller_.getCluster(
              cluster, [req, sendError, id](control::Result<control::ClusterView> r) {
                if (r.error) return sendError(*r.error);
                for (const auto& h : r.value->hosts)
                  if (h.config.id == id) return sendJson(req, 200, hostJson(h));
                sendJson(req, 404,
                         common::errorBody("not_found", "no host \"" + id + "\" in the cluster"));
              });
        }
        return wrongMethod("GET, DELETE");
      }
      if (p.size() == 6 && p[5] == "state") {
        if (method != "PUT") return wrongMethod("PUT");
        auto parsed = parseSetHostState(cluster, id, bodyOf(req));
        if (!parsed.command) return badRequest(parsed.error);
        return controller_.setState(std::move(*parsed.command), hostReply(200));
      }
      if (p.size() == 6 && p[5] == "weight") {
        if (method != "PUT") return wrongMethod("PUT");
        auto parsed = parseSetHostWeight(cluster, id, bodyOf(req));
        if (!parsed.command) return badRequest(parsed.error);
        return controller_.setWeight(std::move(*parsed.command), hostReply(200));
      }
    }
  }
  sendJson(req, 404,
           common::errorBody("not_found", "unknown path " + std::string(raw_path ? raw_path : "")));
}

}  // namespace lb::admin
