// Helpers for the JSON REST APIs served with libevent's evhttp (lbproxy's admin API, lbcontrol's
// API): replies, path and query parsing, bearer-token comparison, binding. Called on the thread
// that runs the evhttp's event_base.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct evhttp;
struct evhttp_request;

namespace lb::common {

// {"error": {"code": code, "message": message}}
nlohmann::json errorBody(const std::string& code, const std::string& message);

void sendText(evhttp_request* req, int status, const std::string& content_type,
              const std::string& body);
void sendJson(evhttp_request* req, int status, const nlohmann::json& body);
// 405 with an Allow header.
void sendWrongMethod(evhttp_request* req, const std::string& method, const char* allowed);

// "/v1/clusters/a%20b" -> {"v1", "clusters", "a b"}
std::vector<std::string> splitPath(const std::string& path);
std::string queryParam(const char* query, const char* key);
std::string bodyOf(evhttp_request* req);
// "GET", "POST", "PUT", "DELETE" (HEAD is reported as GET), else "OTHER".
std::string methodOf(evhttp_request* req);
// The value after "Bearer " in Authorization, or "" (with *present false when there is none).
std::string bearerToken(evhttp_request* req, bool* present);

// Bearer authentication against named tokens. Returns the matching token's name, or "" after
// answering 401 with WWW-Authenticate (realm `realm`). Every token is compared in constant time.
std::string authorizeBearer(evhttp_request* req,
                            const std::vector<std::pair<std::string, std::string>>& tokens,
                            const char* realm);

// Constant-time comparison (time depends only on the lengths' maximum, not on the content).
bool tokenEquals(std::string_view a, std::string_view b);

// Binds an evhttp to "ip:port" and returns the bound port (useful with port 0); 0 + *error on
// failure.
uint16_t bindHttp(evhttp* http, const std::string& address, std::string* error);

}  // namespace lb::common
