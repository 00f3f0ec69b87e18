#include "controlplane/api/api_server.h"

#include <event2/http.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/event_loop.h"
#include "common/http_server.h"
#include "controlplane/rollout/engine.h"

namespace lb::controlplane {

using nlohmann::json;

namespace {

int httpStatus(EngineError::Kind kind) {
  switch (kind) {
    case EngineError::Kind::kBadRequest:
      return 400;
    case EngineError::Kind::kNotFound:
      return 404;
    case EngineError::Kind::kConflict:
      return 409;
  }
  return 500;
}

json errorJson(const EngineError& e) {
  const char* code = e.kind == EngineError::Kind::kBadRequest ? "bad_request"
                     : e.kind == EngineError::Kind::kNotFound ? "not_found"
                                                              : "conflict";
  json body = common::errorBody(code, e.message);
  if (!e.rollout_id.empty()) body["error"]["rollout_id"] = e.rollout_id;
  return body;
}

}  // namespace

bool readTokens(const std::string& path, std::vector<std::pair<std::string, std::string>>* out,
                std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "auth.tokens_file: cannot read " + path;
    return false;
  }
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    std::istringstream words(line);
    std::string name, token, extra;
    words >> name >> token >> extra;
    if (name.empty() || name[0] == '#') continue;
    if (token.size() < 16 || !extra.empty()) {
      *error = path + ":" + std::to_string(n) +
               ": expected \"NAME TOKEN\" with a token of at least 16 characters";
      return false;
    }
    out->emplace_back(name, token);
  }
  if (out->empty()) {
    *error = path + ": no token";
    return false;
  }
  return true;
}

ApiServer::ApiServer(common::EventLoop& main_loop, common::EventLoop& engine_loop, Engine& engine,
                     std::vector<std::pair<std::string, std::string>> tokens)
    : main_loop_(main_loop),
      engine_loop_(engine_loop),
      engine_(engine),
      tokens_(std::move(tokens)) {}

ApiServer::~ApiServer() {
  if (http_) evhttp_free(http_);
}

bool ApiServer::start(const std::string& address, std::string* error) {
  http_ = evhttp_new(main_loop_.base());
  evhttp_set_max_body_size(http_, 64 * 1024);
  evhttp_set_max_headers_size(http_, 16384);
  evhttp_set_timeout(http_, 30);
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(http_, onRequest, this);
  port_ = common::bindHttp(http_, address, error);
  return port_ != 0;
}

void ApiServer::onRequest(evhttp_request* req, void* arg) noexcept {
  static_cast<ApiServer*>(arg)->handle(req);
}

void ApiServer::handle(evhttp_request* req) {
  std::string who = "local";  // no tokens: loopback only (the config loader enforces it)
  if (!tokens_.empty()) {
    who = common::authorizeBearer(req, tokens_, "lbcontrol");
    if (who.empty()) return;
  }
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri ? evhttp_uri_get_path(uri) : nullptr;
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  const std::vector<std::string> p = common::splitPath(raw_path ? raw_path : "/");
  const std::string method = common::methodOf(req);

  // Runs `fn` on the engine thread and answers with its result on this one: `ok_status` when
  // it succeeded (202 for what the engine carries out later), the error's status otherwise.
  auto onEngine = [this, req](std::function<EngineAnswer(Engine&)> fn, int ok_status = 200) {
    engine_loop_.post([this, req, fn = std::move(fn), ok_status] {
      EngineAnswer a = fn(engine_);
      main_loop_.post([req, a = std::move(a), ok_status] {
        if (a.ok()) return common::sendJson(req, ok_status, a.body);
        common::sendJson(req, httpStatus(a.error->kind), errorJson(*a.error));
      });
    });
  };
  // POST bodies: a JSON object whose fields are all strings, from the allowed list.
  auto fields = [&](std::initializer_list<const char*> allowed, json* out) {
    std::string body = common::bodyOf(req);
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) body = "{}";
    *out = json::parse(body, nullptr, false);
    if (out->is_discarded() || !out->is_object()) {
      common::sendJson(req, 400,
                       common::errorBody("bad_request", "the body must be a JSON object"));
      return false;
    }
    for (const auto& [key, value] : out->items()) {
      if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) ==
          allowed.end()) {
        std::string list;
        for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        common::sendJson(req, 400,
                         common::errorBody("bad_request", "unknown field \"" + key +
                                                              "\" (allowed: " + list + ")"));
        return false;
      }
      if (!value.is_string()) {
        common::sendJson(
            req, 400, common::errorBody("bad_request", "field \"" + key + "\" must be a string"));
        return false;
      }
    }
    return true;
  };
  auto str = [](const json& j, const char* key) { return j.value(key, std::string()); };

  if (p.size() < 2 || p[0] != "v1") {
    common::sendJson(req, 404,
                     common::errorBody("not_found",
                                       "unknown path; the API is under /v1 "
                                       "(see docs/control-api.md)"));
    return;
  }
  const std::string& what = p[1];
  if (p.size() == 2 && (what == "status" || what == "instances" || what == "releases" ||
                        what == "rollout" || what == "audit")) {
    if (method != "GET") return common::sendWrongMethod(req, method, "GET");
    if (what == "status") return onEngine([](Engine& e) { return e.status(); });
    if (what == "instances") return onEngine([](Engine& e) { return e.instances(); });
    if (what == "releases") return onEngine([](Engine& e) { return e.releases(); });
    if (what == "rollout") return onEngine([](Engine& e) { return e.rolloutView(); });
    std::string limit_text = common::queryParam(query, "limit");
    size_t limit = 50;
    if (!limit_text.empty()) {
      if (limit_text.size() > 6 ||
          limit_text.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(limit_text) == 0)
        return common::sendJson(req, 400,
                                common::errorBody("bad_request", "limit must be a number from 1"));
      limit = std::stoul(limit_text);
    }
    return onEngine([limit](Engine& e) { return e.audit(limit); });
  }
  if (p.size() == 2 && what == "deploys") {
    if (method != "POST") return common::sendWrongMethod(req, method, "POST");
    json body;
    if (!fields({"version", "reason"}, &body)) return;
    if (str(body, "version").empty())
      return common::sendJson(req, 400, common::errorBody("bad_request", "version is required"));
    return onEngine(
        [who, body, str](Engine& e) {
          return e.deploy(str(body, "version"), who, str(body, "reason"));
        },
        202);
  }
  if (p.size() == 2 && what == "rollback") {
    if (method != "POST") return common::sendWrongMethod(req, method, "POST");
    json body;
    if (!fields({"to", "reason"}, &body)) return;
    return onEngine(
        [who, body, str](Engine& e) {
          return e.rollback(str(body, "to"), who, str(body, "reason"));
        },
        202);
  }
  if (p.size() == 3 && what == "rollout") {
    const std::string& action = p[2];
    using Action = EngineAnswer (Engine::*)(const std::string&, const std::string&);
    Action fn = action == "pause"     ? &Engine::pause
                : action == "resume"  ? &Engine::resume
                : action == "abort"   ? &Engine::abort
                : action == "approve" ? &Engine::approve
                                      : nullptr;
    if (fn) {
      if (method != "POST") return common::sendWrongMethod(req, method, "POST");
      json body;
      if (!fields({"reason"}, &body)) return;
      return onEngine([who, body, str, fn](Engine& e) { return (e.*fn)(who, str(body, "reason")); },
                      action == "abort" ? 202 : 200);
    }
  }
  common::sendJson(
      req, 404,
      common::errorBody("not_found", "unknown path " + std::string(raw_path ? raw_path : "")));
}

}  // namespace lb::controlplane
