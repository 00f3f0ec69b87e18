#include "proxy/stream/h2_session.h"

#include <nghttp2/nghttp2.h>

#include <charconv>

#include "proxy/snapshot/snapshot.h"
#include "proxy/stream/exchange.h"
#include "proxy/stream/h2_stream.h"
#include "proxy/stream/request_pool.h"
#include "proxy/stream/worker_context.h"

namespace lb::stream {

namespace {

constexpr std::chrono::milliseconds kGoAwayGrace{1000};  // between the two GOAWAYs
constexpr std::chrono::milliseconds kCloseLinger{2000};  // to flush a last GOAWAY
constexpr int32_t kConnectionWindow = 1 << 20;

// A connection is abusive when most of what it does is not requests: streams it resets
// before their answer (Rapid Reset), streams we had to refuse, or control frames.
constexpr uint64_t kAbuseFloor = 100;
constexpr uint64_t kControlFramesBase = 1000;
constexpr uint64_t kControlFramesPerStream = 10;

}  // namespace

// nghttp2's callbacks: thin trampolines into the session.
struct H2Callbacks {
  static H2Session* self(void* user) { return static_cast<H2Session*>(user); }

  static H2Stream* find(H2Session* s, int32_t id) {
    auto it = s->streams_.find(id);
    return it == s->streams_.end() ? nullptr : it->second.get();
  }

  static int onBeginHeaders(nghttp2_session* ng, const nghttp2_frame* frame, void* user) noexcept {
    H2Session* s = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    const int32_t id = frame->hd.stream_id;
    if (s->goaway_final_sent_) {
      // Past the last stream we announced (the client sent it before seeing our GOAWAY):
      // refused, so the client may safely retry it on a new connection.
      nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    ++s->streams_opened_;
    std::unique_ptr<H2Stream> stream = s->worker_.h2Streams().acquire();
    stream->open(*s, id);
    s->streams_[id] = std::move(stream);
    if (s->streams_opened_ >= s->listener().http2.max_requests_per_connection) {
      // The last one on this connection: the client opens a new one for what follows.
      nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR, nullptr, 0);
      s->goaway_final_sent_ = true;
    }
    return 0;
  }

  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user) noexcept {
    H2Session* s = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
      return 0;  // request trailers are not forwarded (HTTP/1.1 upstreams get no trailers)
    H2Stream* st = find(s, frame->hd.stream_id);
    if (!st) return 0;
    if (!st->addHeader(std::string_view(reinterpret_cast<const char*>(name), namelen),
                       std::string_view(reinterpret_cast<const char*>(value), valuelen))) {
      ++s->stream_errors_;
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM for this stream only
    }
    return 0;
  }

  // RFC 9113 5.1.1: a client's new stream id must be higher than every one it used before; a
  // lower one is a connection error, which libnghttp2 does not raise itself (it ignores the
  // frame as belonging to an implicitly closed stream).
  static int onBeginFrame(nghttp2_session* ng, const nghttp2_frame_hd* hd, void* user) noexcept {
    if (hd->type != NGHTTP2_HEADERS || hd->stream_id % 2 == 0) return 0;
    H2Session* s = self(user);
    if (hd->stream_id > s->highest_stream_id_) {
      s->highest_stream_id_ = hd->stream_id;
      return 0;
    }
    if (!nghttp2_session_find_stream(ng, hd->stream_id)) {
      ++s->stream_errors_;
      nghttp2_session_terminate_session(ng, NGHTTP2_PROTOCOL_ERROR);
    }
    return 0;
  }

  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) noexcept {
    H2Session* s = self(user);
    H2Stream* st = frame->hd.stream_id ? find(s, frame->hd.stream_id) : nullptr;
    const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
        if (!st) break;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
          st->headComplete(end_stream);
          s->pending_.push_back(st->id());
        } else if (end_stream) {
          st->onEndStream();  // trailers end the body
        }
        break;
      case NGHTTP2_DATA:
        if (frame->hd.length == 0 && !end_stream) ++s->control_frames_;
        if (st && end_stream) st->onEndStream();
        break;
      case NGHTTP2_RST_STREAM:
        if (st && !st->responseEnded()) ++s->client_resets_;
        break;
      case NGHTTP2_PING:
      case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) ++s->control_frames_;
        break;
      case NGHTTP2_PRIORITY:
      case NGHTTP2_WINDOW_UPDATE:
        ++s->control_frames_;
        break;
      default:
        break;
    }
    return 0;
  }

  static int onDataChunk(nghttp2_session* ng, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user) noexcept {
    H2Session* s = self(user);
    H2Stream* st = find(s, stream_id);
    if (!st) {
      nghttp2_session_consume_connection(ng, len);  // a stream we no longer have
      return 0;
    }
    st->onData(data, len);
    return 0;
  }

  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user) noexcept {
    H2Session* s = self(user);
    auto it = s->streams_.find(stream_id);
    if (it == s->streams_.end()) return 0;
    it->second->onClosed();
    s->closed_.push_back(std::move(it->second));  // freed at the next flush, off its stack
    s->streams_.erase(it);
    return 0;
  }

  static ssize_t readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                          nghttp2_data_source* source, void*) noexcept {
    bool eof = false;
    const long n = static_cast<H2Stream*>(source->ptr)->readBody(buf, len, &eof);
    if (n < 0) return NGHTTP2_ERR_DEFERRED;
    if (eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return n;
  }

  static int onInvalidFrame(nghttp2_session*, const nghttp2_frame*, int, void* user) noexcept {
    ++self(user)->stream_errors_;
    return 0;
  }
};

H2Session::H2Session(WorkerContext& worker, net::Stream* down, Origin origin)
    : worker_(worker),
      down_(down),
      origin_(std::move(origin)),
      view_(std::move(origin_.view)),
      listener_name_(view_->snapshot->listeners[origin_.listener_index].name),
      counters_(worker.listenerCounters(listener_name_)) {}

H2Session::~H2Session() {
  if (flush_scheduled_) worker_.loop().cancelCall(onFlushCall, this);
  streams_.clear();
  closed_.clear();
  if (ng_) nghttp2_session_del(ng_);
  if (down_) down_->release();
}

const snapshot::ListenerSnapshot& H2Session::listener() const {
  return view_->snapshot->listeners[origin_.listener_index];
}

size_t H2Session::outputBacklog() const { return down_ ? down_->outputLength() : 0; }

void H2Session::start() {
  down_->setCallbacks(onReadCb, onWriteCb, onEventCb, this);
  down_->setReadHighWater(kHighWater);
  down_->setWriteLowWater(kLowWater);
  down_->enableRead();

  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, H2Callbacks::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, H2Callbacks::onHeader);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, H2Callbacks::onBeginFrame);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, H2Callbacks::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, H2Callbacks::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, H2Callbacks::onStreamClose);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, H2Callbacks::onInvalidFrame);
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);  // windows open as bodies go upstream
  nghttp2_option_set_max_settings(opt, 32);          // entries per SETTINGS frame
  nghttp2_option_set_max_outbound_ack(opt, 100);     // queued PING/SETTINGS ACKs
  nghttp2_option_set_stream_reset_rate_limit(opt, 200, 20);
  nghttp2_option_set_max_continuations(opt, 8);
  int rv = nghttp2_session_server_new2(&ng_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    ng_ = nullptr;
    close();
    return;
  }
  const config::Http2Config& h2 = listener().http2;
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h2.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h2.initial_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, listener().limits.max_header_bytes},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      // WebSockets over HTTP/2 (RFC 8441): CONNECT with :protocol, tunnelled to HTTP/1.1.
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  };
  nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings, sizeof(settings) / sizeof(settings[0]));
  nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  worker_.deadlines().start(idle_timer_, listener().idle_timeout);
  onRead();  // the preface (and maybe more) may be buffered already
}

void H2Session::onReadCb(net::Stream*, void* arg) noexcept {
  static_cast<H2Session*>(arg)->onRead();
}

void H2Session::onWriteCb(net::Stream*, void* arg) noexcept {
  auto* self = static_cast<H2Session*>(arg);
  if (self->closing_) {
    if (self->outputBacklog() == 0) self->close();
    return;
  }
  self->flush();  // frames held back by the output high mark
}

void H2Session::onEventCb(net::Stream*, net::StreamEvent, void* arg) noexcept {
  static_cast<H2Session*>(arg)->close();  // EOF or error: the client is gone
}

void H2Session::onRead() {
  if (closed_conn_ || !ng_) return;
  const char* data;
  size_t len;
  while (!closing_ && down_->peekInput(&data, &len)) {
    ssize_t n = nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(data), len);
    if (closed_conn_) return;
    if (n < 0) {
      // A connection error (bad preface, flood, CONTINUATION limit, ...): nghttp2 has queued
      // the GOAWAY; send it and close.
      down_->drainInput(down_->inputLength());
      closing_ = true;
      break;
    }
    down_->drainInput(static_cast<size_t>(n));
  }
  if (!closing_) dispatchPending();
  if (!closing_ && abusive()) {
    nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                          NGHTTP2_ENHANCE_YOUR_CALM, nullptr, 0);
    closing_ = true;
  }
  if (closing_) {
    pending_.clear();
    down_->disableRead();
    worker_.deadlines().start(idle_timer_, kCloseLinger);
  }
  flush();
}

bool H2Session::abusive() const {
  return (client_resets_ > kAbuseFloor && client_resets_ * 2 > streams_opened_) ||
         (stream_errors_ > kAbuseFloor / 10 && stream_errors_ * 2 > streams_opened_) ||
         control_frames_ > kControlFramesBase + kControlFramesPerStream * streams_opened_;
}

void H2Session::dispatchPending() {
  // Heads completed during this read; streams the client reset meanwhile are gone already.
  std::vector<int32_t> ids;
  ids.swap(pending_);
  for (int32_t id : ids) {
    auto it = streams_.find(id);
    if (it != streams_.end() && !it->second->dispatched()) it->second->dispatch();
  }
}

void H2Session::onFlushCall(void* arg) noexcept { static_cast<H2Session*>(arg)->flush(); }

void H2Session::onIdleTimer(void* arg) noexcept { static_cast<H2Session*>(arg)->checkIdle(); }

void H2Session::scheduleFlush() {
  if (flush_scheduled_ || closed_conn_) return;
  flush_scheduled_ = true;
  // At the end of the loop turn: the responses of every stream that got data in this turn
  // leave in one write (one TLS record, one syscall), where flushing after each upstream
  // read cost h2 a quarter of its throughput.
  worker_.loop().deferToTurnEnd(onFlushCall, this);
}

void H2Session::flush() {
  flush_scheduled_ = false;
  if (closed_conn_ || !ng_) return;
  recycleClosed();
  while (outputBacklog() < kHighWater) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(ng_, &data);
    if (n < 0) {
      close();
      return;
    }
    if (n == 0) break;
    down_->write(data, static_cast<size_t>(n));
  }
  recycleClosed();
  // Streams whose client took enough of their backlog read upstream again.
  if (outputBacklog() <= kLowWater)
    for (auto& [id, st] : streams_) st->resumeIfDrained();
  if (closing_) {
    if (outputBacklog() == 0) close();
    return;
  }
  if ((!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) ||
      (streams_.empty() && goaway_final_sent_)) {
    // Both sides are done, or our last GOAWAY is out and no stream is left: close once the
    // output is written, or at the linger deadline for a client that does not read.
    closing_ = true;
    worker_.deadlines().start(idle_timer_, kCloseLinger);
    if (outputBacklog() == 0) close();
    return;
  }
  if (streams_.empty()) {
    if (!shutting_down_ && !idle_timer_.pending())
      worker_.deadlines().start(idle_timer_, listener().idle_timeout);
  }
}

void H2Session::recycleClosed() {
  for (auto& st : closed_) worker_.h2Streams().release(std::move(st));
  closed_.clear();
}

void H2Session::checkIdle() {
  if (closed_conn_) return;
  if (closing_) {
    close();  // the last GOAWAY could not be flushed in time
    return;
  }
  if (shutting_down_ && !goaway_final_sent_) {
    // Second step of the graceful shutdown: streams the client opened after the first
    // GOAWAY are served; none after this one.
    goAway(NGHTTP2_NO_ERROR);
    return;
  }
  if (streams_.empty()) {
    goAway(NGHTTP2_NO_ERROR);  // idle keep-alive connection
    return;
  }
  worker_.deadlines().start(idle_timer_, listener().idle_timeout);
}

void H2Session::goAway(uint32_t error_code) {
  if (!ng_ || goaway_final_sent_) return;
  nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                        error_code, nullptr, 0);
  goaway_final_sent_ = true;
  worker_.deadlines().start(idle_timer_, kCloseLinger);
  scheduleFlush();
}

void H2Session::beginShutdown() {
  if (shutting_down_ || closed_conn_ || !ng_) return;
  shutting_down_ = true;
  // First step: tell the client to open no more streams, while those in flight may still
  // arrive; the final GOAWAY with the last stream id follows after a grace period.
  nghttp2_submit_shutdown_notice(ng_);
  worker_.deadlines().start(idle_timer_, kGoAwayGrace);
  scheduleFlush();
}

void H2Session::forceClose() { close(); }

void H2Session::onViewChanged() {
  int index = worker_.listenerIndex(listener_name_);
  if (index < 0) {
    beginShutdown();  // the listener was removed: the connection winds down on its old view
    return;
  }
  view_ = worker_.view();
  origin_.listener_index = static_cast<uint32_t>(index);
}

void H2Session::abortIfUsing(const upstream::HostState* host) {
  for (auto& [id, st] : streams_) st->abortIfUsing(host);
  scheduleFlush();
}

void H2Session::close() {
  if (closed_conn_) return;
  closed_conn_ = true;
  if (flush_scheduled_) worker_.loop().cancelCall(onFlushCall, this);
  flush_scheduled_ = false;
  idle_timer_.cancel();
  for (auto& [id, st] : streams_) st->onClosed();
  if (down_) down_->release();
  down_ = nullptr;
  worker_.sessionClosed(this);
}

namespace {

nghttp2_nv makeNv(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// The field array of a response head and its lower-cased names, per worker thread, kept for
// its capacity (nghttp2 copies the fields when they are submitted).
struct HeadScratch {
  std::vector<nghttp2_nv> nva;
  std::string names;  // back to back
};
thread_local HeadScratch head_scratch;

}  // namespace

size_t H2Session::submitResponse(H2Stream& stream, const http::ResponseHead& resp,
                                 std::string_view request_id, bool has_body) {
  char status_text[4];
  std::to_chars(status_text, status_text + 3, resp.status);
  char length_text[24];
  std::vector<nghttp2_nv>& nva = head_scratch.nva;
  std::string& names = head_scratch.names;  // HTTP/2 field names are lower case
  nva.clear();
  names.clear();
  nva.push_back(makeNv(":status", std::string_view(status_text, 3)));
  // Room for every name up front: the fields point into `names`, which must not move.
  size_t room = 0;
  for (const http::Header& h : resp.headers) room += h.name.size();
  names.reserve(room);
  bool has_request_id = false;
  bool has_length = false;
  for (const http::Header& h : resp.headers) {
    if (http::isHopByHop(h.name, resp.connection_tokens) ||
        http::equalsIgnoreCase(h.name, "transfer-encoding"))
      continue;
    const size_t at = names.size();
    for (char c : h.name) names.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    std::string_view name(names.data() + at, h.name.size());
    if (name == "x-request-id") has_request_id = true;
    if (name == "content-length") has_length = true;
    nva.push_back(makeNv(name, h.value));
  }
  if (resp.framing == http::BodyFraming::kContentLength && !has_length) {
    auto [end, ec] =
        std::to_chars(length_text, length_text + sizeof(length_text), resp.content_length);
    nva.push_back(makeNv("content-length", std::string_view(length_text, end - length_text)));
  }
  if (!has_request_id) nva.push_back(makeNv("x-request-id", request_id));
  size_t bytes = 0;
  for (const auto& nv : nva) bytes += nv.namelen + nv.valuelen;
  nghttp2_data_provider provider;
  provider.source.ptr = &stream;
  provider.read_callback = H2Callbacks::readBody;
  nghttp2_submit_response(ng_, stream.id(), nva.data(), nva.size(), has_body ? &provider : nullptr);
  scheduleFlush();
  return bytes;
}

void H2Session::resetStream(int32_t id, Reset why) {
  nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id,
                            why == Reset::kCancel ? NGHTTP2_CANCEL : NGHTTP2_INTERNAL_ERROR);
  scheduleFlush();
}

void H2Session::consume(int32_t id, size_t n) {
  nghttp2_session_consume(ng_, id, n);
  scheduleFlush();
}

void H2Session::resumeData(int32_t id) { nghttp2_session_resume_data(ng_, id); }

}  // namespace lb::stream
