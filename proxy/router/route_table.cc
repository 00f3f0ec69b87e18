#include "proxy/router/route_table.h"

#include <re2/re2.h>

#include <algorithm>

#include "proxy/http/message.h"
#include "proxy/http/request_fields.h"

namespace lb::router {

using Kind = config::ValueMatch::Kind;

bool Condition::holds(std::string_view v, bool present) const {
  switch (kind) {
    case Kind::kPresent:
      return present;
    case Kind::kAbsent:
      return !present;
    case Kind::kExact:
      return present && v == value;
    case Kind::kPrefix:
      return present && v.starts_with(value);
    case Kind::kRegex:
      return present && regex && RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *regex);
  }
  return false;
}

bool Condition::holds(const std::string* v) const {
  return v ? holds(std::string_view(*v), true) : holds(std::string_view(), false);
}

std::vector<Condition> compileConditions(const std::vector<config::ValueMatch>& matches) {
  std::vector<Condition> out;
  for (const auto& m : matches) {
    Condition c;
    c.name = m.name;
    c.kind = m.kind;
    c.value = m.value;
    if (m.kind == Kind::kRegex) c.regex = std::make_shared<const RE2>(m.value, RE2::Quiet);
    out.push_back(std::move(c));
  }
  return out;
}

namespace {

// A header condition: any field of that name meets it (absent: none is there).
bool headerHolds(const Condition& c, const http::RequestHead& req) {
  bool present = false;
  for (const auto& h : req.headers) {
    if (!http::equalsIgnoreCase(h.name, c.name)) continue;
    present = true;
    if (c.kind != Kind::kAbsent && c.holds(std::string_view(h.value), true)) return true;
  }
  return !present && c.kind == Kind::kAbsent;
}

bool conditionsHold(const RouteEntry& r, const http::RequestHead& req) {
  if (!r.methods.empty() &&
      std::find(r.methods.begin(), r.methods.end(), req.method) == r.methods.end())
    return false;
  for (const Condition& c : r.headers)
    if (!headerHolds(c, req)) return false;
  for (const Condition& c : r.cookies) {
    auto v = http::findCookie(req, c.name);
    if (!c.holds(v.value_or(std::string_view()), v.has_value())) return false;
  }
  for (const Condition& c : r.query) {
    auto v = http::findQueryParam(req.path, c.name);
    if (!c.holds(v.value_or(std::string_view()), v.has_value())) return false;
  }
  return true;
}

}  // namespace

void RouteTable::add(RouteEntry entry) {
  if (entry.host.starts_with("*.")) {
    entry.host.erase(0, 1);  // keep the dot: "*.example.com" matches "a.example.com" only
    entry.wildcard = true;
  }
  entry.index = static_cast<uint32_t>(routes_.size());
  routes_.push_back(std::move(entry));
}

std::string RouteTable::normalizeHost(std::string_view authority) {
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // FQDN form
  std::string out(host);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

const RouteEntry* RouteTable::match(const http::RequestHead& req) const {
  return find(req.authority, req.path, &req);
}

const RouteEntry* RouteTable::match(std::string_view authority, std::string_view path) const {
  return find(authority, path, nullptr);
}

const RouteEntry* RouteTable::find(std::string_view authority, std::string_view path,
                                   const http::RequestHead* req) const {
  std::string host = normalizeHost(authority);
  size_t query = path.find('?');
  if (query != std::string_view::npos) path = path.substr(0, query);
  for (const RouteEntry& r : routes_) {
    if (!r.host.empty()) {
      if (r.wildcard) {
        if (host.size() <= r.host.size() || !std::string_view(host).ends_with(r.host)) continue;
      } else if (host != r.host) {
        continue;
      }
    }
    if (!path.starts_with(r.path_prefix)) continue;
    if (!r.conditional) return &r;
    if (req && conditionsHold(r, *req)) return &r;
  }
  return nullptr;
}

}  // namespace lb::router
