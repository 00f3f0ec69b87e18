#include "common/http_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/address.h"

namespace lb::common {

using nlohmann::json;

json errorBody(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

void sendText(evhttp_request* req, int status, const std::string& content_type,
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
  sendText(req, status, "application/json", body.dump(2) + "\n");
}

void sendWrongMethod(evhttp_request* req, const std::string& method, const char* allowed) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allowed);
  sendJson(
      req, 405,
      errorBody("method_not_allowed", method + " is not allowed here (allowed: " + allowed + ")"));
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

std::string methodOf(evhttp_request* req) {
  switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
    case EVHTTP_REQ_HEAD:
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

std::string bearerToken(evhttp_request* req, bool* present) {
  const char* auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
  *present = auth != nullptr;
  std::string_view given = auth ? auth : "";
  if (!given.starts_with("Bearer ")) return "";
  return std::string(given.substr(7));
}

std::string authorizeBearer(evhttp_request* req,
                            const std::vector<std::pair<std::string, std::string>>& tokens,
                            const char* realm) {
  bool present = false;
  const std::string given = bearerToken(req, &present);
  std::string who;
  for (const auto& [name, token] : tokens)
    if (tokenEquals(given, token)) who = name;  // no early exit: the same work for every token
  if (who.empty()) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                      (std::string("Bearer realm=\"") + realm + "\"").c_str());
    sendJson(req, 401,
             errorBody("unauthorized",
                       present ? "invalid bearer token" : "missing Authorization: Bearer <token>"));
  }
  return who;
}

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

uint16_t bindHttp(evhttp* http, const std::string& address, std::string* error) {
  auto hp = parseHostPort(address, true);
  if (!hp) {
    *error = "invalid address " + address;
    return 0;
  }
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http, hp->host.c_str(), hp->port);
  if (!bound) {
    *error = "cannot bind " + address;
    return 0;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                  : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace lb::common
