// One client request, whatever protocol carries it (Envoy's ActiveStream, Proxygen's
// HTTPTransaction): it keeps to one view of the configuration, takes the request id, routes, owns
// the trip upstream (the Exchange, which makes the attempts), answers every error the same way on
// every protocol, and records the request once (statistics, outlier detection, access log).
//
// The client connection that carries it is a Downstream: the HTTP/1.1 connection or one HTTP/2
// stream. It decodes the request into an http::RequestHead and hands body bytes on; it encodes
// what the request gives it (a response head, body bytes, the end, or a reset) in its own
// protocol. It is the only code that knows the framing.
//
// Life of a request: begin() (its first byte, or its HTTP/2 HEADERS being dispatched), then
// start() once the head is complete (or fail() for a head the connection refuses), then one
// end: the response completes, fail() answers or cuts, or clientGone(). At that end the request
// is recorded and Downstream::onRequestComplete() runs. reset() makes the object ready for the
// next request; its per-request state is one struct reset by value, so no field can leak from
// one request into the next.
//
// Owner: the Downstream's connection on its worker thread; the object is pooled with the
// connection's per-request state (Http1Request, H2Stream). Callbacks into the Downstream never
// come after reset(); the Downstream must not reset the request from inside one of them except
// from onRequestComplete(), the last.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/compress/policy.h"
#include "proxy/http/error.h"
#include "proxy/http/header_edits.h"
#include "proxy/http/message.h"
#include "proxy/stats/listener_counters.h"
#include "proxy/stream/client_addresses.h"
#include "proxy/stream/exchange.h"
#include "proxy/stream/sticky_cookie.h"

namespace lb::compress {
class Encoder;
}  // namespace lb::compress

namespace lb::snapshot {
struct ListenerSnapshot;
}

namespace lb::upstream {
struct HostState;
}

namespace lb::stream {

class WorkerContext;
struct WorkerCluster;
struct WorkerView;

class Downstream {
 public:
  // Who the client is, for the record. Read once, at the end of the request.
  struct Info {
    std::string_view client_ip;
    std::string_view listener;
    stats::ListenerCounters* counters = nullptr;
    stats::ClientProtocol protocol = stats::ClientProtocol::kHttp1;
    stats::TlsVersion tls = stats::TlsVersion::kNone;
  };
  virtual Info info() const = 0;

  // The upstream can take request body now (ActiveRequest::bodyRoom()): read it again.
  virtual void onBodyWanted() = 0;
  // The upstream output passed its high mark: stop reading request body from the client
  // (HTTP/1.1 holds the connection's reading off) until onBodyWanted().
  virtual void onUpstreamFull() = 0;
  // The response head (the upstream's, or one the request made for an error; `request_id` goes
  // in X-Request-Id unless the head has one). `closes` asks the connection not to carry another
  // request after this one (a client's fault). An error: the protocol cannot carry this
  // response; nothing was sent and the request answers with that error instead.
  virtual http::Error encodeHead(const http::ResponseHead& resp, std::string_view request_id,
                                 bool closes) = 0;
  virtual void encodeData(const char* data, size_t len) = 0;
  // The last body byte went out.
  virtual void encodeEnd() = 0;
  // After response bytes went out, the only honest signal of a failure left: cut the response
  // (HTTP/1.1 closes the connection, HTTP/2 resets the stream).
  virtual void encodeReset() = 0;
  // The request has ended and was recorded: serve the next one, or close.
  virtual void onRequestComplete() = 0;

 protected:
  ~Downstream() = default;
};

class ActiveRequest final : private ExchangeClient {
 public:
  explicit ActiveRequest(WorkerContext& worker);
  ~ActiveRequest();
  ActiveRequest(const ActiveRequest&) = delete;
  ActiveRequest& operator=(const ActiveRequest&) = delete;

  // A request began on `down`, on the connection's current `view`; `head` is filled by the
  // connection. The connection keeps both alive until reset() (it pins the view: the HTTP/1.1
  // connection holds the view it serves its requests on, an HTTP/2 stream its own).
  void begin(Downstream& down, const http::RequestHead& head, WorkerView& view,
             std::chrono::steady_clock::time_point started_at);
  // The head is complete: routes on `listener`, which is in `view` (the connection's newest,
  // which replaces the one begin() had), and starts the exchange with `client` and `https`
  // for the forwarded fields (and the PROXY header of a cluster that sends one), or answers
  // with an error. `client` belongs to the connection and outlives the request.
  void start(WorkerView& view, const snapshot::ListenerSnapshot& listener, ClientAddresses& client,
             bool https);
  // Answers with `error` if no response byte went out yet, cuts the response otherwise.
  void fail(const http::Error& error);
  // The client went away (closed, reset the stream) before the response ended: 499 unless an
  // upstream status was already known.
  void clientGone();
  // A drain deadline passed for `host`: a request in flight to it fails now.
  void abortIfUsing(const upstream::HostState* host) { exchange_.abortIfUsing(host); }
  // Back to the state of a fresh object (the exchange ends without calling back).
  void reset();

  // Request body, de-framed by the connection. Only while upstreamReady() and bodyRoom().
  bool upstreamReady() const { return exchange_.upstreamReady(); }
  bool bodyRoom() const { return exchange_.bodyRoom(); }
  void sendBody(const char* data, size_t len) { exchange_.sendBody(data, len); }
  void endBody() { exchange_.endBody(); }
  bool bodyDone() const { return exchange_.bodyDone(); }
  // The exchange is still running (not answered, failed or ended).
  bool exchangeActive() const { return exchange_.active(); }
  bool waitingForRoom() const { return exchange_.waitingForRoom(); }
  // Neither connection may carry another request after this one (ambiguous framing).
  void setNoReuse() { exchange_.setNoReuse(); }
  // The connection's response buffer crossed its marks (the connection owns the buffer and
  // tells, also right after begin() when it is already above): above the high mark the
  // request stops reading upstream, below the low mark it reads again.
  void onAboveWriteHighWatermark() { exchange_.onClientAboveHighWatermark(); }
  void onBelowWriteLowWatermark() { exchange_.onClientBelowLowWatermark(); }

  void addBytesIn(uint64_t n) { s_.bytes_in += n; }
  void addBytesOut(uint64_t n) { s_.bytes_out += n; }
  bool begun() const { return s_.down != nullptr; }
  bool headSent() const { return s_.head_sent; }  // a response head went to the client
  // The backend switched protocols (101): the request is a byte tunnel until it ends.
  bool tunnel() const { return exchange_.tunnel(); }
  bool ended() const { return s_.ended; }  // recorded; the request is over
  int status() const { return s_.status; }
  const std::string& requestId() const { return request_id_; }

 private:
  // ExchangeClient.
  void onRequestBodyWanted() override;
  bool onResponseHead(http::ResponseHead& resp) override;
  void onResponseData(const char* data, size_t len) override;
  void onUpstreamAboveHighWatermark() override;
  void onResponseEnd() override;
  void onExchangeFailed(const http::Error& error) override;

  void chooseId();
  void answerWithError(const http::Error& error);
  // A route that redirects or has a fixed response answers here (docs/routing.md).
  void answerItself(bool https);
  // The values a route's header edits may name (${client_ip}, ...), and the response edits
  // applied with them.
  http::EditVariables editVariables() const;
  void applyResponseEdits(http::ResponseHead* resp) const;
  // Sends a response lbproxy made (the route's response header edits applied) and ends.
  void answerLocally(http::ResponseHead& head, std::string_view body, bool closes);
  // The route's rate limit (docs/rate-limits.md): false when the request was answered 429.
  bool withinRateLimit(const ClientAddresses& client);
  // RateLimit-Policy and RateLimit (what is left of the client's bucket), and on a 429 of the
  // route's limit (`refused`) Retry-After.
  void addRateLimitHeaders(http::ResponseHead* head, bool refused) const;
  // The route's limit wants its headers on every response (`headers: always`), and this
  // request was counted by it.
  bool rateLimitHeadersAlways() const;
  // Sticky sessions (docs/routing.md): the destination the request's cookie names, if it
  // still takes traffic (else destinations.size()); and the cookie for where it went, on the
  // response, unless the client sent that one.
  size_t stickyDestination();
  // Weighted destinations: the cluster or subset of one; whether any of its hosts takes
  // traffic; and the destination that takes the share of `picked` when it has none.
  WorkerCluster& clusterOf(size_t destination) const;
  static bool anyUsable(const WorkerCluster& cluster);
  size_t usableDestination(size_t picked) const;
  void addStickyCookie(http::ResponseHead* resp);
  // Response compression (docs/compression.md): codes the upstream's response when the route
  // and the client agree on a coding, and rewrites its head to say so.
  void startCompression(http::ResponseHead* resp);
  // Hands `len` body bytes to the client, coded if the response is. False: the request failed.
  bool sendResponseData(const char* data, size_t len);
  bool finishCompression();
  // Records the request and tells the connection it is over.
  void end();
  void record();

  // Everything one request changes, reset by value.
  struct State {
    Downstream* down = nullptr;
    const http::RequestHead* head = nullptr;
    WorkerView* view = nullptr;  // pinned by the connection
    const snapshot::ListenerSnapshot* listener = nullptr;
    const router::RouteEntry* route = nullptr;
    uint32_t destination = 0;          // the pick among route->destinations
    WorkerCluster* cluster = nullptr;  // the destination's cluster or subset
    http::Error error;                 // what the request was answered with, if it failed
    int status = 0;
    bool https = false;                // the client's connection is TLS
    http::EditVariables request_vars;  // for templated request header edits
    bool head_sent = false;            // a response head went to the client
    bool upstream_head = false;        // ...and it was the upstream's
    bool ended = false;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t limit_retry_after_ms = 0;  // a 429 of the rate limit: until a request may pass
    uint64_t limit_full_after_ms = 0;   // ...and until the key's bucket is full again
    uint32_t limit_remaining = 0;       // requests the key may still send at once
    bool limit_known = false;           // the route's rate limit counted this request
    compress::Coding coding = compress::Coding::kIdentity;  // the body's, as sent
    bool sticky_cookie = false;  // the request brought a sticky cookie lbproxy set
    StickyTarget sticky;         // ...naming this
    std::chrono::steady_clock::time_point started_at;
    std::chrono::steady_clock::time_point tunnel_at;  // when the 101 went to the client
  };

  WorkerContext& worker_;
  State s_;
  std::string request_id_;    // cleared, not freed, between requests
  std::string upgrade_;       // the Upgrade protocols the route lets through, for the exchange
  std::string proxy_header_;  // for a cluster that sends PROXY headers; cleared, not freed
  // The coder of a compressed response; made on the first one, its state held only while
  // a coded body is under way.
  std::unique_ptr<compress::Encoder> encoder_;
  Exchange exchange_;
};

}  // namespace lb::stream
