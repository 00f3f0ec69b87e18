#include "proxy/compress/policy.h"

#include <algorithm>

#include "config/model.h"

namespace lb::compress {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each comma-separated element of a list field (RFC 9110 5.6.1),
// trimmed, empty ones skipped.
template <typename F>
void forEachElement(std::string_view list, F&& f) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view element = trim(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// A qvalue (RFC 9110 12.4.2) in thousandths: "1", "1.000", "0", "0.5" ... -1 when malformed.
int parseQ(std::string_view q) {
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return -1;
  int value = (q[0] - '0') * 1000;
  if (q.size() == 1) return value;
  if (q[1] != '.' || q.size() > 5) return -1;
  int scale = 100;
  for (char c : q.substr(2)) {
    if (c < '0' || c > '9') return -1;
    value += (c - '0') * scale;
    scale /= 10;
  }
  return value > 1000 ? -1 : value;
}

// The element's coding name and its q in thousandths (1000 without a q parameter; a
// malformed q counts as 0: not acceptable).
std::string_view codingOf(std::string_view element, int* q) {
  *q = 1000;
  const size_t semi = element.find(';');
  const std::string_view name = trim(element.substr(0, semi));
  if (semi == std::string_view::npos) return name;
  std::string_view params = element.substr(semi + 1);
  while (!params.empty()) {
    const size_t next = params.find(';');
    const std::string_view param = trim(params.substr(0, next));
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      const int v = parseQ(trim(param.substr(2)));
      *q = v < 0 ? 0 : v;
    }
    if (next == std::string_view::npos) break;
    params.remove_prefix(next + 1);
  }
  return name;
}

bool hasToken(std::string_view list, std::string_view token) {
  bool found = false;
  forEachElement(list, [&](std::string_view e) {
    // A Cache-Control directive may carry "=value"; Vary has none.
    if (http::equalsIgnoreCase(e.substr(0, e.find('=')), token)) found = true;
  });
  return found;
}

bool anyFieldHasToken(const std::vector<http::Header>& headers, std::string_view name,
                      std::string_view token) {
  return std::any_of(headers.begin(), headers.end(), [&](const http::Header& h) {
    return http::equalsIgnoreCase(h.name, name) && hasToken(h.value, token);
  });
}

bool listedType(const std::vector<std::string>& types, std::string_view content_type) {
  std::string_view media = trim(content_type.substr(0, content_type.find(';')));
  const size_t slash = media.find('/');
  if (slash == std::string_view::npos) return false;
  return std::any_of(types.begin(), types.end(), [&](const std::string& t) {
    if (t.size() == slash + 2 && t.ends_with("/*"))  // "text/*": the type alone
      return http::equalsIgnoreCase(media.substr(0, slash), std::string_view(t).substr(0, slash));
    return http::equalsIgnoreCase(media, t);
  });
}

}  // namespace

std::string_view codingName(Coding coding) {
  switch (coding) {
    case Coding::kGzip:
      return "gzip";
    case Coding::kBrotli:
      return "br";
    case Coding::kIdentity:
      break;
  }
  return "identity";
}

Coding negotiate(const http::RequestHead& req, const std::vector<std::string>& offered) {
  // -1: not named in the field.
  int q_gzip = -1, q_br = -1, q_any = -1;
  for (const http::Header& h : req.headers) {
    if (!http::equalsIgnoreCase(h.name, "accept-encoding")) continue;
    forEachElement(h.value, [&](std::string_view element) {
      int q;
      const std::string_view name = codingOf(element, &q);
      int* slot = nullptr;
      if (http::equalsIgnoreCase(name, "gzip") || http::equalsIgnoreCase(name, "x-gzip"))
        slot = &q_gzip;
      else if (http::equalsIgnoreCase(name, "br"))
        slot = &q_br;
      else if (name == "*")
        slot = &q_any;
      if (slot) *slot = std::max(*slot, q);
    });
  }
  Coding best = Coding::kIdentity;
  int best_q = 0;
  for (const std::string& name : offered) {
    const bool br = name == "br";
    int q = br ? q_br : q_gzip;
    if (q < 0) q = q_any;
    if (q > best_q) {
      best_q = q;
      best = br ? Coding::kBrotli : Coding::kGzip;
    }
  }
  return best;
}

Decision decide(const config::CompressionConfig& config, const http::RequestHead& req,
                const http::ResponseHead& resp) {
  Decision d;
  if (!config.enabled || req.method == "HEAD") return d;
  const int status = resp.status;
  if (!((status >= 200 && status <= 203) || status >= 400)) return d;
  if (resp.framing == http::BodyFraming::kNone || !resp.transfer_codings.empty()) return d;
  if (resp.framing == http::BodyFraming::kContentLength && resp.content_length < config.min_size)
    return d;
  const std::string* type = resp.find("content-type");
  if (!type || !listedType(config.content_types, *type)) return d;
  if (resp.find("content-encoding") || resp.find("content-range")) return d;
  if (anyFieldHasToken(resp.headers, "cache-control", "no-transform")) return d;
  d.varies = true;
  d.coding = negotiate(req, config.encodings);
  return d;
}

void addVary(http::ResponseHead* resp) {
  if (anyFieldHasToken(resp->headers, "vary", "accept-encoding") ||
      anyFieldHasToken(resp->headers, "vary", "*"))
    return;
  for (http::Header& h : resp->headers) {
    if (http::equalsIgnoreCase(h.name, "vary") && !trim(h.value).empty()) {
      h.value.append(", Accept-Encoding");
      return;
    }
  }
  resp->headers.push_back({"Vary", "Accept-Encoding"});
}

void encodeHead(Coding coding, http::ResponseHead* resp) {
  std::erase_if(resp->headers, [](const http::Header& h) {
    return http::equalsIgnoreCase(h.name, "content-length") ||
           http::equalsIgnoreCase(h.name, "accept-ranges");
  });
  resp->framing = http::BodyFraming::kChunked;
  resp->content_length = 0;
  for (http::Header& h : resp->headers)
    if (http::equalsIgnoreCase(h.name, "etag") && h.value.starts_with('"')) h.value.insert(0, "W/");
  resp->headers.push_back({"Content-Encoding", std::string(codingName(coding))});
  addVary(resp);
}

}  // namespace lb::compress
