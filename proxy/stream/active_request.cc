#include "proxy/stream/active_request.h"

#include "proxy/compress/encoder.h"
#include "proxy/compress/policy.h"
#include "proxy/http/error_response.h"
#include "proxy/http/request_fields.h"
#include "proxy/http/upgrade.h"
#include "proxy/ratelimit/rate_limiter.h"
#include "proxy/router/redirect.h"
#include "proxy/router/route_table.h"
#include "proxy/router/weighted_pick.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stream/request_id.h"
#include "proxy/stream/request_record.h"
#include "proxy/stream/sticky_cookie.h"
#include "proxy/stream/worker_context.h"
#include "proxy/upstream/load_balancer.h"

namespace lb::stream {

using http::BodyFraming;
using http::ErrorCode;

namespace {
const http::Error kCompressionFailed{ErrorCode::kInternal, http::ErrorSource::kInternal, false,
                                     "response compression failed"};
}  // namespace

ActiveRequest::ActiveRequest(WorkerContext& worker) : worker_(worker), exchange_(worker, *this) {}

ActiveRequest::~ActiveRequest() { exchange_.abort(); }

void ActiveRequest::begin(Downstream& down, const http::RequestHead& head, WorkerView& view,
                          std::chrono::steady_clock::time_point started_at) {
  s_.down = &down;
  s_.head = &head;
  s_.view = &view;
  s_.started_at = started_at;
}

void ActiveRequest::reset() {
  exchange_.reset();
  if (encoder_) encoder_->release();
  s_ = State{};
  request_id_.clear();
  upgrade_.clear();
  proxy_header_.clear();
}

void ActiveRequest::chooseId() {
  if (!request_id_.empty()) return;
  chooseRequestId(*s_.head, worker_.random().next(), worker_.random().next(), &request_id_);
}

void ActiveRequest::start(WorkerView& view, const snapshot::ListenerSnapshot& listener,
                          ClientAddresses& client, bool https) {
  s_.view = &view;
  s_.listener = &listener;
  s_.https = https;
  chooseId();
  const http::RequestHead& req = *s_.head;
  if (listener.max_body_bytes && req.framing == BodyFraming::kContentLength &&
      req.content_length > listener.max_body_bytes) {
    fail(http::clientError(ErrorCode::kBodyTooLarge, "request body too large"));
    return;
  }
  s_.route = listener.routes.match(req);
  if (!s_.route) {
    fail(http::clientError(ErrorCode::kNoRoute, "no route for this host and path"));
    return;
  }
  if (s_.route->rate_limiter && !withinRateLimit(client)) return;
  if (s_.route->destinations.empty()) {
    answerItself(https);
    return;
  }
  const auto& destinations = s_.route->destinations;
  size_t pick = s_.route->sticky.enabled ? stickyDestination() : destinations.size();
  if (pick == destinations.size())
    pick = destinations.size() == 1
               ? 0
               : router::smoothWeightedPick(destinations,
                                            s_.view->splits[s_.route->stats_index].data());
  // A destination with no usable host (a canary whose instances all failed their checks)
  // passes its share on to the others rather than answering 503.
  if (destinations.size() > 1 && !anyUsable(clusterOf(pick))) pick = usableDestination(pick);
  s_.destination = static_cast<uint32_t>(pick);
  const router::RouteEntry::Destination& to = destinations[pick];
  s_.cluster = &clusterOf(pick);
  http::ForwardContext fwd;
  fwd.client_ip = client.ip();
  fwd.request_id = request_id_;
  fwd.proto = https ? "https" : "http";
  if (!s_.route->request_headers.empty()) {
    fwd.edits = &s_.route->request_headers;
    if (fwd.edits->templated) {
      // Kept with the request: the head may be encoded later, once a connection is up.
      s_.request_vars = editVariables();
      fwd.vars = &s_.request_vars;
    }
  }
  if (const int version = s_.cluster->config->config.send_proxy_protocol) {
    client.encodeProxyHeader(version, &proxy_header_);
    fwd.proxy_header = proxy_header_;
  }
  // An upgrade the route allows goes to the backend; any other is dropped (the request is
  // served as an ordinary one). A request with a body is never upgraded: its end would be
  // ambiguous.
  if (!req.upgrade.empty() && req.framing == BodyFraming::kNone &&
      http::selectUpgrade(req.upgrade, s_.route->upgrades, &upgrade_))
    fwd.upgrade = upgrade_;
  stats::TrafficStats* route_stats = s_.view->snapshot->metrics_enabled
                                         ? s_.view->route_stats[s_.route->stats_index].get()
                                         : nullptr;
  // The cookie's host only where it named this destination: after a move to another
  // destination the balancer places the request.
  const uint64_t sticky_host =
      s_.sticky_cookie && s_.sticky.has_host && s_.sticky.destination == to.sticky_token
          ? s_.sticky.host
          : 0;
  exchange_.start(req, fwd, *s_.route, *s_.cluster, route_stats, sticky_host);
}

WorkerCluster& ActiveRequest::clusterOf(size_t destination) const {
  const router::RouteEntry::Destination& to = s_.route->destinations[destination];
  return to.subset_index < 0 ? s_.view->clusters[to.cluster_index]
                             : s_.view->subsets[static_cast<size_t>(to.subset_index)];
}

bool ActiveRequest::anyUsable(const WorkerCluster& cluster) {
  for (const upstream::LbHost& h : cluster.hosts)
    if (h.state->usable()) return true;
  return false;
}

size_t ActiveRequest::usableDestination(size_t picked) const {
  // The heaviest other destination with a usable host; none: the pick stands (its 503).
  const auto& destinations = s_.route->destinations;
  size_t best = picked;
  for (size_t i = 0; i < destinations.size(); ++i) {
    if (i == picked || destinations[i].weight == 0 || !anyUsable(clusterOf(i))) continue;
    if (best == picked || destinations[i].weight > destinations[best].weight) best = i;
  }
  return best;
}

size_t ActiveRequest::stickyDestination() {
  const auto& destinations = s_.route->destinations;
  const std::optional<std::string_view> value = http::findCookie(*s_.head, s_.route->sticky.cookie);
  if (!value) return destinations.size();
  const std::optional<StickyTarget> target = parseStickyValue(*value);
  if (!target) return destinations.size();
  s_.sticky_cookie = true;
  s_.sticky = *target;
  // A destination set to weight 0 (a canary stopped) takes its sticky users no more.
  for (size_t i = 0; i < destinations.size(); ++i)
    if (destinations[i].sticky_token == target->destination && destinations[i].weight > 0) return i;
  return destinations.size();
}

void ActiveRequest::addStickyCookie(http::ResponseHead* resp) {
  const router::RouteEntry& route = *s_.route;
  StickyTarget want;
  want.destination = route.destinations[s_.destination].sticky_token;
  if (route.sticky.to == config::StickyConfig::To::kHost) {
    const std::vector<uint32_t>& tried = exchange_.outcome().tried;
    if (tried.empty()) return;
    want.has_host = true;
    want.host = s_.cluster->hosts[tried.back()].state->sticky_token;
  }
  const bool kept = s_.sticky_cookie && s_.sticky == want;
  if (s_.view->snapshot->metrics_enabled)
    s_.view->route_stats[route.stats_index]->recordSticky(
        kept ? stats::StickyOutcome::kKept
             : (s_.sticky_cookie ? stats::StickyOutcome::kMoved : stats::StickyOutcome::kPlaced));
  if (kept) return;  // the client has it already
  std::string cookie;
  formatStickyCookie(route.sticky.cookie, want, route.sticky_attributes, &cookie);
  resp->headers.push_back({"Set-Cookie", std::move(cookie)});
}

void ActiveRequest::answerItself(bool https) {
  const router::RouteEntry& route = *s_.route;
  http::ResponseHead head;
  std::string_view body;
  if (route.redirect.enabled) {
    std::string location;
    if (!router::redirectLocation(route.redirect, route.path_prefix, *s_.head, https, &location)) {
      fail(http::clientError(ErrorCode::kBadRequest, "no host to redirect to"));
      return;
    }
    head.status = route.redirect.status;
    head.headers.push_back({"Location", std::move(location)});
  } else {
    head.status = route.response.status;
    body = route.response.body;
    if (!body.empty()) head.headers.push_back({"Content-Type", route.response.content_type});
    for (const auto& [name, value] : route.response.headers) head.headers.push_back({name, value});
  }
  // 204 and 304 carry no Content-Length; every other answer says its (maybe empty) length.
  const bool no_body = head.status == 204 || head.status == 304;
  head.framing = no_body ? BodyFraming::kNone : BodyFraming::kContentLength;
  head.content_length = body.size();
  s_.status = head.status;
  answerLocally(head, body, false);
}

bool ActiveRequest::withinRateLimit(const ClientAddresses& client) {
  using Key = config::RateLimitConfig::Key;
  const config::RateLimitConfig& rl = s_.route->rate_limit;
  // Header values and addresses hash apart, so that no header value can spend an address's
  // tokens; a request without the header counts by its address.
  constexpr uint64_t kHeaderSeed = 0x9e3779b97f4a7c15ULL;
  uint64_t key = 0;
  const std::string* value = rl.key == Key::kHeader ? s_.head->find(rl.header) : nullptr;
  if (value)
    key = upstream::hashKey(*value) ^ kHeaderSeed;
  else if (rl.key != Key::kRoute)
    key = upstream::hashKey(client.ip());
  const auto now = worker_.loop().now().time_since_epoch();
  const ratelimit::Decision d = s_.route->rate_limiter->take(
      key,
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
  s_.limit_known = true;
  s_.limit_remaining = d.remaining;
  s_.limit_full_after_ms = d.full_after_ms;
  if (d.allowed) return true;
  if (s_.view->snapshot->metrics_enabled)
    s_.view->route_stats[s_.route->stats_index]->recordRateLimited(
        std::chrono::duration_cast<std::chrono::seconds>(now).count(), rl.dry_run);
  if (rl.dry_run) return true;
  s_.limit_retry_after_ms = d.retry_after_ms;
  fail(http::clientError(ErrorCode::kRateLimited, "rate limit exceeded"));
  return false;
}

bool ActiveRequest::rateLimitHeadersAlways() const {
  return s_.limit_known && s_.route->rate_limit.headers_always;
}

void ActiveRequest::addRateLimitHeaders(http::ResponseHead* head, bool refused) const {
  // draft-ietf-httpapi-ratelimit-headers: the policy (quota q per window w seconds, here the
  // bucket: its size and the time it takes to fill) and what is left of it (r, and t seconds
  // until it is whole again). The policy's name is the route's, as a structured-field string.
  const config::RateLimitConfig& rl = s_.route->rate_limit;
  const uint32_t burst = s_.route->rate_limiter->burst();  // the default applied once, there
  const uint64_t window_ms =
      uint64_t{burst} * static_cast<uint64_t>(rl.period.count()) / rl.requests;
  auto seconds = [](uint64_t ms) { return std::to_string(ms == 0 ? 1 : (ms + 999) / 1000); };
  std::string name = "\"";
  for (char c : s_.route->name) {
    if (c < 0x20 || c > 0x7e) continue;
    if (c == '"' || c == '\\') name.push_back('\\');
    name.push_back(c);
  }
  name.push_back('"');
  if (refused) head->headers.push_back({"Retry-After", seconds(s_.limit_retry_after_ms)});
  head->headers.push_back(
      {"RateLimit-Policy", name + ";q=" + std::to_string(burst) + ";w=" + seconds(window_ms)});
  head->headers.push_back(
      {"RateLimit", name + ";r=" + std::to_string(refused ? 0 : s_.limit_remaining) +
                        ";t=" + seconds(s_.limit_full_after_ms)});
}

http::EditVariables ActiveRequest::editVariables() const {
  http::EditVariables v;
  v.client_ip = s_.down->info().client_ip;
  v.request_id = request_id_;
  v.host = http::hostWithoutPort(s_.head->authority);
  v.scheme = s_.https ? "https" : "http";
  v.route = s_.route->name;
  v.upstream = exchange_.outcome().upstream_host;
  return v;
}

void ActiveRequest::applyResponseEdits(http::ResponseHead* resp) const {
  const http::HeaderEdits& edits = s_.route->response_headers;
  if (edits.empty()) return;
  edits.apply(&resp->headers, edits.templated ? editVariables() : http::EditVariables{});
}

void ActiveRequest::onRequestBodyWanted() { s_.down->onBodyWanted(); }

bool ActiveRequest::onResponseHead(http::ResponseHead& resp) {
  s_.status = resp.status;
  // On the backend's own head, before the route's edits: they see the coded response.
  if (s_.route->compression.enabled) startCompression(&resp);
  if (rateLimitHeadersAlways()) addRateLimitHeaders(&resp, false);
  applyResponseEdits(&resp);
  if (s_.route->sticky.enabled) addStickyCookie(&resp);
  if (http::Error refused = s_.down->encodeHead(resp, request_id_, false)) {
    fail(refused);
    return false;
  }
  s_.head_sent = true;
  s_.upstream_head = true;
  if (resp.status == 101) {
    s_.tunnel_at = worker_.loop().now();
    recordTunnelOpened(*s_.view, *s_.route, *s_.cluster, exchange_.outcome());
  }
  return true;
}

void ActiveRequest::startCompression(http::ResponseHead* resp) {
  const compress::Decision d = compress::decide(s_.route->compression, *s_.head, *resp);
  if (d.coding != compress::Coding::kIdentity) {
    if (!encoder_) encoder_ = std::make_unique<compress::Encoder>();
    const uint64_t size_hint =
        resp->framing == BodyFraming::kContentLength ? resp->content_length : 0;
    if (encoder_->start(d.coding, s_.route->compression, size_hint)) {
      s_.coding = d.coding;
      compress::encodeHead(d.coding, resp);
      return;
    }
  }
  if (d.varies) compress::addVary(resp);
}

bool ActiveRequest::sendResponseData(const char* data, size_t len) {
  if (!encoder_ || !encoder_->active()) {
    s_.down->encodeData(data, len);
    return true;
  }
  std::string& coded = worker_.codedScratch();
  coded.clear();
  if (!encoder_->write(data, len, &coded)) {
    fail(kCompressionFailed);
    return false;
  }
  if (!coded.empty()) s_.down->encodeData(coded.data(), coded.size());
  return true;
}

bool ActiveRequest::finishCompression() {
  std::string& coded = worker_.codedScratch();
  coded.clear();
  const bool brotli = encoder_->coding() == compress::Coding::kBrotli;
  if (!encoder_->finish(&coded)) {
    fail(kCompressionFailed);
    return false;
  }
  if (s_.view->snapshot->metrics_enabled)
    s_.view->route_stats[s_.route->stats_index]->recordCompressed(brotli, encoder_->bytesIn(),
                                                                  encoder_->bytesOut());
  if (!coded.empty()) s_.down->encodeData(coded.data(), coded.size());
  return true;
}

void ActiveRequest::onResponseData(const char* data, size_t len) { sendResponseData(data, len); }

void ActiveRequest::onUpstreamAboveHighWatermark() { s_.down->onUpstreamFull(); }

void ActiveRequest::onResponseEnd() {
  if (encoder_ && encoder_->active() && !finishCompression()) return;
  s_.down->encodeEnd();
  end();
}

void ActiveRequest::onExchangeFailed(const http::Error& error) { fail(error); }

void ActiveRequest::fail(const http::Error& error) {
  if (s_.ended) return;
  s_.error = error;
  exchange_.abort();
  if (s_.head_sent) {
    // Response bytes already reached the client: the only honest signal left is to cut.
    record();
    s_.ended = true;
    s_.down->encodeReset();
    return;
  }
  answerWithError(error);
}

void ActiveRequest::answerWithError(const http::Error& error) {
  s_.status = http::statusFor(error.code);
  chooseId();
  // One error response for every protocol.
  http::ErrorResponse error_response = http::makeErrorResponse(s_.status, error.detail, request_id_,
                                                               s_.route && s_.route->json_errors);
  if (error.code == ErrorCode::kRateLimited) addRateLimitHeaders(&error_response.head, true);
  // A client's fault (but a request no route serves, or one over its rate limit) leaves
  // nothing to keep the connection for.
  const bool closes = error.source == http::ErrorSource::kDownstream &&
                      error.code != ErrorCode::kNoRoute && error.code != ErrorCode::kRateLimited;
  answerLocally(error_response.head, error_response.body, closes);
}

void ActiveRequest::answerLocally(http::ResponseHead& head, std::string_view body, bool closes) {
  if (rateLimitHeadersAlways() && s_.error.code != ErrorCode::kRateLimited)
    addRateLimitHeaders(&head, false);
  if (s_.route) applyResponseEdits(&head);
  if (s_.down->encodeHead(head, request_id_, closes)) {
    // Cannot happen for a head we made (a length-framed body); cut rather than loop.
    s_.ended = true;
    record();
    s_.down->encodeReset();
    return;
  }
  s_.head_sent = true;
  if (s_.head->method != "HEAD" && !body.empty()) s_.down->encodeData(body.data(), body.size());
  s_.down->encodeEnd();
  end();
}

void ActiveRequest::clientGone() {
  if (s_.ended || !s_.down) return;
  if (s_.status == 0) s_.status = 499;
  exchange_.abort();
  s_.ended = true;
  record();
}

void ActiveRequest::end() {
  s_.ended = true;
  record();
  s_.down->onRequestComplete();  // may reset this request: nothing after it
}

void ActiveRequest::record() {
  const Downstream::Info client = s_.down->info();
  RequestRecord r;
  r.view = s_.view;
  r.route = s_.route;
  r.cluster = s_.cluster;
  if (s_.cluster) r.destination = s_.route->destinations[s_.destination].label;
  r.outcome = &exchange_.outcome();
  r.request = s_.head;
  r.client_error = s_.error;
  r.status = s_.status;
  r.response_started = s_.upstream_head;
  r.request_id = request_id_;
  r.client_ip = client.client_ip;
  r.listener = client.listener;
  r.protocol = client.protocol;
  r.tls = client.tls;
  r.bytes_in = s_.bytes_in;
  r.bytes_out = s_.bytes_out;
  if (s_.coding != compress::Coding::kIdentity) r.encoding = compress::codingName(s_.coding);
  r.started_at = s_.started_at;
  r.tunnel = exchange_.tunnel() && s_.upstream_head;
  r.tunnel_at = s_.tunnel_at;
  recordRequest(worker_, *client.counters, r);
}

}  // namespace lb::stream
