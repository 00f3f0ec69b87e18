#include "proxy/admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "config/values.h"
#include "proxy/control/controller.h"
#include "proxy/core/event_loop.h"

namespace lb::admin {

using nlohmann::json;

namespace {

constexpr size_t kMaxBody = 1 << 20;

void send(evhttp_request* req, int status, const std::string& content_type,
          const std::string& body) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", content_type.c_str());
  evhttp_add_header(headers, "Cache-Control", "no-store");
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, body.data(), body.size());
  evhttp_send_reply(req, status, nullptr, out);
  evbuffer_free(out);
}

void sendJson(evhttp_request* req, int status, const json& body) {
  send(req, status, "application/json", body.dump(2) + "\n");
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      char* decoded = evhttp_uridecode(path.substr(i, j - i).c_str(), 0, nullptr);
      parts.emplace_back(decoded ? decoded : "");
      free(decoded);
    }
    i = j + 1;
  }
  return parts;
}

std::string queryParam(const char* query, const char* key) {
  if (!query) return "";
  evkeyvalq params;
  params.tqh_first = nullptr;
  params.tqh_last = &params.tqh_first;
  if (evhttp_parse_query_str(query, &params) != 0) return "";
  const char* v = evhttp_find_header(&params, key);
  std::string out = v ? v : "";
  evhttp_clear_headers(&params);
  return out;
}

std::string bodyOf(evhttp_request* req) {
  evbuffer* in = evhttp_request_get_input_buffer(req);
  std::string body(evbuffer_get_length(in), '\0');
  evbuffer_copyout(in, body.data(), body.size());
  return body;
}

const char* methodName(evhttp_cmd_type m) {
  switch (m) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    default:
      return "OTHER";
  }
}

}  // namespace

bool tokenEquals(std::string_view a, std::string_view b) {
  size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

AdminServer::AdminServer(core::EventLoop& loop, control::Controller& controller)
    : loop_(loop), controller_(controller) {}

AdminServer::~AdminServer() { stop(); }

bool AdminServer::start(const std::string& address, std::string* error) {
  auto hp = config::parseHostPort(address, true);
  if (!hp) {
    *error = "admin.listen: invalid address " + address;
    return false;
  }
  http_ = evhttp_new(loop_.base());
  evhttp_set_max_body_size(http_, kMaxBody);
  evhttp_set_max_headers_size(http_, 16384);
  evhttp_set_timeout(http_, 30);
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(http_, onRequest, this);
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http_, hp->host.c_str(), hp->port);
  if (!bound) {
    *error = "admin.listen: cannot bind " + address;
    evhttp_free(http_);
    http_ = nullptr;
    return false;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return true;
}

void AdminServer::stop() {
  if (http_) evhttp_free(http_);
  http_ = nullptr;
}

void AdminServer::onRequest(evhttp_request* req, void* arg) {
  static_cast<AdminServer*>(arg)->handle(req);
}

void AdminServer::handle(evhttp_request* req) {
  if (controller_.stopping()) {
    sendJson(req, 503, control::errorBody("shutting_down", "lbproxy is shutting down"));
    return;
  }
  if (!controller_.admin_token.empty()) {
    const char* auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    std::string_view given = auth ? auth : "";
    const bool ok =
        given.starts_with("Bearer ") && tokenEquals(given.substr(7), controller_.admin_token);
    if (!ok) {
      evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                        "Bearer realm=\"lbproxy admin\"");
      sendJson(req, 401,
               control::errorBody("unauthorized", auth ? "invalid bearer token"
                                                       : "missing Authorization: Bearer <token>"));
      return;
    }
  }
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri ? evhttp_uri_get_path(uri) : nullptr;
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  std::vector<std::string> p = splitPath(raw_path ? raw_path : "/");
  evhttp_cmd_type m = evhttp_request_get_command(req);
  const std::string method = methodName(m == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : m);
  control::Reply reply = [req](int status, const json& body) { sendJson(req, status, body); };
  auto wrongMethod = [&](const char* allowed) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allowed);
    sendJson(req, 405,
             control::errorBody("method_not_allowed",
                                method + " is not allowed here (allowed: " + allowed + ")"));
  };

  if (p.size() == 1 && p[0] == "metrics") {
    if (method != "GET") return wrongMethod("GET");
    controller_.metrics([req](std::string text) {
      send(req, 200, "text/plain; version=0.0.4; charset=utf-8", text);
    });
    return;
  }
  if (p.empty() || p[0] != "v1") {
    sendJson(req, 404,
             control::errorBody("not_found",
                                "unknown path; the API is under /v1 "
                                "(see docs/admin-api.md)"));
    return;
  }
  if (p.size() == 2 && p[1] == "status") {
    if (method != "GET") return wrongMethod("GET");
    return controller_.status(reply);
  }
  if (p.size() == 2 && p[1] == "stats") {
    if (method != "GET") return wrongMethod("GET");
    std::string w = queryParam(query, "window");
    uint32_t window = 60;
    if (!w.empty()) {
      auto d = config::parseDuration(w);
      if (!d || d->count() < 1000 || d->count() > 300000 || d->count() % 1000 != 0)
        return sendJson(req, 400,
                        control::errorBody("bad_request",
                                           "window must be whole seconds from 1s to 5m, e.g. "
                                           "window=10s"));
      window = static_cast<uint32_t>(d->count() / 1000);
    }
    return controller_.stats(window, reply);
  }
  if (p.size() == 3 && p[1] == "config" && p[2] == "reload") {
    if (method != "POST") return wrongMethod("POST");
    return controller_.reload(reply);
  }
  if (p.size() >= 2 && p[1] == "clusters") {
    if (p.size() == 2) {
      if (method != "GET") return wrongMethod("GET");
      return controller_.listClusters(reply);
    }
    const std::string& cluster = p[2];
    if (p.size() == 3) {
      if (method != "GET") return wrongMethod("GET");
      return controller_.getCluster(cluster, reply);
    }
    if (p[3] == "hosts") {
      if (p.size() == 4) {
        if (method != "POST") return wrongMethod("POST");
        return controller_.addHost(cluster, bodyOf(req), reply);
      }
      const std::string& id = p[4];
      if (p.size() == 5) {
        if (method == "DELETE") {
          std::string force = queryParam(query, "force");
          if (!force.empty() && force != "true" && force != "false")
            return sendJson(req, 400,
                            control::errorBody("bad_request", "force must be true or false"));
          return controller_.removeHost(cluster, id, force == "true", reply);
        }
        if (method == "GET") {
          return controller_.getCluster(cluster, [reply, id](int status, const json& body) {
            if (status != 200) return reply(status, body);
            for (const auto& h : body["hosts"])
              if (h["id"] == id) return reply(200, h);
            reply(404, control::errorBody("not_found", "no host \"" + id + "\" in the cluster"));
          });
        }
        return wrongMethod("GET, DELETE");
      }
      if (p.size() == 6 && p[5] == "state") {
        if (method != "PUT") return wrongMethod("PUT");
        return controller_.setState(cluster, id, bodyOf(req), reply);
      }
      if (p.size() == 6 && p[5] == "weight") {
        if (method != "PUT") return wrongMethod("PUT");
        return controller_.setWeight(cluster, id, bodyOf(req), reply);
      }
    }
  }
  sendJson(
      req, 404,
      control::errorBody("not_found", "unknown path " + std::string(raw_path ? raw_path : "")));
}

}  // namespace lb::admin
