#include "proxy/net/stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/event_loop.h"

namespace lb::net {

namespace {
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxReadPerEvent = 256 * 1024;  // fairness between connections
constexpr size_t kTlsRecord = 16 * 1024;         // the largest TLS record payload
}  // namespace

Stream::Stream(common::EventLoop& loop, int fd) : loop_(loop), fd_(fd), out_(loop) {
  if (fd_ >= 0) {
    evutil_make_socket_nonblocking(fd_);
    attach();
  }
}

Stream::~Stream() {
  if (ssl_) SSL_free(ssl_);
  if (io_ev_) event_free(io_ev_);
  if (fd_ >= 0) ::close(fd_);
  if (in_buf_) loop_.giveBlock(in_buf_, in_cap_);
}

void Stream::release() {
  if (dead_) return;
  dead_ = true;
  if (ssl_ && !handshaking_ && !tls_failed_ && !tls_shut_ && fd_ >= 0) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // best effort close_notify: a truncation is then detectable
    ERR_clear_error();
  }
  // Stop every event now; the memory goes when no callback of ours is on the stack.
  if (io_ev_) event_del(io_ev_);
  if (flush_scheduled_) loop_.cancelCall(onFlush, this);
  flush_scheduled_ = false;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (depth_ == 0) delete this;
}

bool Stream::leave() {
  if (--depth_ == 0 && dead_) {
    delete this;
    return false;
  }
  return !dead_;
}

void Stream::attach() {
  io_ev_ =
      event_new(loop_.base(), fd_, EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET, onIo, this);
  event_add(io_ev_, nullptr);
}

void Stream::lookForInput() { event_active(io_ev_, EV_READ, 0); }

bool Stream::peekInput(const char** data, size_t* len) const {
  if (in_begin_ == in_end_) return false;
  *data = in_buf_ + in_begin_;
  *len = in_end_ - in_begin_;
  return true;
}

void Stream::drainInput(size_t len) {
  const size_t before = inputLength();
  if (len == 0 || before == 0) return;
  in_begin_ += len < before ? len : before;
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  // The input had reached the high watermark and reading stopped: read what is waiting.
  if (read_high_ && before >= read_high_ && inputLength() < read_high_ && readable_ && reading_ &&
      io_ev_ && !dead_)
    lookForInput();
}

char* Stream::inputSpace(size_t want, size_t* room) {
  if (!in_buf_) {
    in_buf_ = loop_.takeBlock();
    in_cap_ = common::EventLoop::kBlockSize;
    in_begin_ = in_end_ = 0;
  }
  if (in_end_ == in_cap_ && in_begin_ > 0) {
    // Full at the end, consumed at the front: move what is left to the front.
    std::memmove(in_buf_, in_buf_ + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  if (in_end_ == in_cap_) {
    // Full of unconsumed bytes (a large head or body below the watermark): double it.
    size_t cap = in_cap_ * 2;
    char* bigger = new char[cap];
    std::memcpy(bigger, in_buf_ + in_begin_, in_end_ - in_begin_);
    loop_.giveBlock(in_buf_, in_cap_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
    in_buf_ = bigger;
    in_cap_ = cap;
  }
  *room = std::min(want, in_cap_ - in_end_);
  return in_buf_ + in_end_;
}

void Stream::releaseInputIfEmpty() {
  if (!in_buf_ || in_begin_ != in_end_) return;
  loop_.giveBlock(in_buf_, in_cap_);
  in_buf_ = nullptr;
  in_cap_ = in_begin_ = in_end_ = 0;
}

void Stream::setCallbacks(DataCb on_read, DataCb on_write, EventCb on_event, void* arg) {
  read_cb_ = on_read;
  write_cb_ = on_write;
  event_cb_ = on_event;
  arg_ = arg;
}

void Stream::enableRead() {
  if (reading_ || read_disables_ > 0) return;
  reading_ = true;
  // An edge that came while reading was off will not come again: look now.
  if (readable_ && io_ev_ && !connecting_ && !handshaking_ && !dead_) lookForInput();
}

void Stream::disableRead() { reading_ = false; }

void Stream::readDisable(bool disable) {
  if (disable) {
    if (read_disables_++ == 0) disableRead();
  } else if (read_disables_ > 0 && --read_disables_ == 0) {
    enableRead();
  }
}

void Stream::write(const void* data, size_t len) {
  if (len == 0) return;
  out_.append(data, len);
  scheduleFlush();
}

int Stream::connect(const sockaddr* addr, socklen_t len) {
  fd_ = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return -1;
  int r = ::connect(fd_, addr, len);
  if (r < 0 && errno != EINPROGRESS) return -1;
  connecting_ = true;
  attach();
  if (r == 0) event_active(io_ev_, EV_WRITE, 0);  // connected at once: report it next turn
  return 0;
}

void Stream::startTlsServer(SSL* ssl) {
  ssl_ = ssl;
  handshaking_ = true;
  SSL_set_fd(ssl_, fd_);  // a socket BIO that does not close the fd (the stream does)
  // Watch the BIO's reads: a short one means the socket is empty (see doReadTls).
  BIO* bio = SSL_get_rbio(ssl_);
  BIO_set_callback_arg(bio, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(bio, onTlsBio);
  SSL_set_accept_state(ssl_);
  // The ClientHello may already be here; the edge that announced it came before us.
  lookForInput();
}

void Stream::startTlsClient(SSL* ssl) {
  ssl_ = ssl;
  tls_client_ = true;
  SSL_set_fd(ssl_, fd_);
  BIO* bio = SSL_get_rbio(ssl_);
  BIO_set_callback_arg(bio, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(bio, onTlsBio);
  SSL_set_connect_state(ssl_);
  // The handshake starts when the TCP connect completes (handleWritable).
}

void Stream::noteTlsFailure() {
  tls_failed_ = true;
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    tls_failure_ = X509_verify_cert_error_string(verify);
  } else {
    // No queued error: the peer closed or reset the socket. That is a TLS failure during the
    // handshake only; afterwards it is an ordinary reset.
    const unsigned long code = ERR_peek_error();
    const char* reason = code ? ERR_reason_error_string(code) : nullptr;
    if (reason)
      tls_failure_ = reason;
    else if (handshaking_)
      tls_failure_ = "connection closed during the TLS handshake";
  }
  ERR_clear_error();
}

void Stream::doHandshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshaking_ = false;
    fire(StreamEvent::kConnected);
    if (dead_) return;
    // Application data may have come with the client's Finished: look without an edge.
    readable_ = true;
    if (reading_) lookForInput();
    if (outputLength() > 0) scheduleFlush();
    return;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
      readable_ = false;
      return;
    case SSL_ERROR_WANT_WRITE:
      writable_ = false;
      return;
    default:
      noteTlsFailure();
      fire(StreamEvent::kError);
  }
}

void Stream::shutdownWrite() {
  if (ssl_ && !handshaking_ && !tls_failed_ && !tls_shut_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
    tls_shut_ = true;
  }
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void Stream::fire(StreamEvent event) {
  if (event_cb_) event_cb_(this, event, arg_);
}

void Stream::onIo(evutil_socket_t, short what, void* arg) noexcept {
  auto* self = static_cast<Stream*>(arg);
  common::EventLoop::EventScope scope(self->loop_);  // one clock reading for this event
  self->enter();
  // Writable first: a connect completes (CONNECTED) before its first read.
  if (what & EV_WRITE) self->handleWritable();
  if ((what & (EV_READ | EV_CLOSED)) && !self->dead_) self->handleReadable(what);
  // What this event made us write (to this or any stream) leaves now: waiting for the end of
  // the turn would hold a response behind every other connection's event (p99).
  self->loop_.runCallsNow();
  self->leave();
}

void Stream::handleReadable(short what) {
  readable_ = true;
  if (what & EV_CLOSED) peer_closed_ = true;
  if (handshaking_) {
    doHandshake();
    return;
  }
  if (!reading_ || connecting_ || eof_) return;
  if (ssl_)
    doReadTls();
  else
    doRead();
}

size_t Stream::nextReadSize(size_t got) const {
  if (!reading_ || got >= kMaxReadPerEvent) return 0;
  size_t have = inputLength();
  if (read_high_ && have >= read_high_) return 0;  // resumes when the owner drains input
  size_t want = kReadChunk;
  if (read_high_ && read_high_ - have < want) want = read_high_ - have;
  return want;
}

long Stream::onTlsBio(BIO* bio, int oper, const char*, size_t len, int, long, int ret,
                      size_t* processed) noexcept {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* self = reinterpret_cast<Stream*>(BIO_get_callback_arg(bio));
    self->tls_drained_ = ret <= 0 || (processed && *processed < len);
  }
  return ret;
}

void Stream::doReadTls() {
  size_t got = 0;
  bool eof = false, error = false;
  while (size_t want = nextReadSize(got)) {
    size_t room = 0;
    char* at = inputSpace(want, &room);
    size_t n = 0;
    ERR_clear_error();
    tls_drained_ = false;
    int r = SSL_read_ex(ssl_, at, room, &n);
    if (r == 1) {
      in_end_ += n;
      got += n;
      // The recv behind this came back short and OpenSSL holds nothing more: the socket is
      // empty, and new bytes bring a new edge. Saves the read that would say EAGAIN.
      if (tls_drained_ && !peer_closed_ && !SSL_has_pending(ssl_)) {
        readable_ = false;
        break;
      }
      continue;
    }
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ) {
      readable_ = false;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      read_wants_write_ = true;  // retried on the next EPOLLOUT edge
    } else if (err == SSL_ERROR_ZERO_RETURN) {
      eof = true;  // close_notify, or a bare FIN (SSL_OP_IGNORE_UNEXPECTED_EOF)
      readable_ = false;
    } else {
      noteTlsFailure();  // SYSCALL or SSL: no close_notify may follow
      error = true;
      readable_ = false;
    }
    break;
  }
  finishRead(got, eof, error);
}

void Stream::doRead() {
  size_t got = 0;
  bool eof = false, error = false;
  while (size_t want = nextReadSize(got)) {
    size_t room = 0;
    char* at = inputSpace(want, &room);
    ssize_t n = ::read(fd_, at, room);
    if (n > 0) {
      in_end_ += static_cast<size_t>(n);
      got += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < room && !peer_closed_) {
        // A short read took all there was; new data (or a FIN) brings a new edge. Saves
        // the read that would only say EAGAIN. A FIN that came with this edge is flagged
        // by EV_CLOSED (EPOLLRDHUP), and then we read on until the 0.
        readable_ = false;
        break;
      }
      continue;
    }
    if (n == 0) {
      eof = true;
      readable_ = false;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      readable_ = false;
    } else if (errno != EINTR) {
      error = true;
      readable_ = false;
    }
    if (n == 0 || errno != EINTR) break;
  }
  finishRead(got, eof, error);
}

void Stream::finishRead(size_t got, bool eof, bool error) {
  if (got > 0 && read_cb_) {
    read_cb_(this, arg_);
    if (dead_) return;
  }
  // Consumed: the block goes back (the owner holds no pointer to it past its callback).
  releaseInputIfEmpty();
  if (eof) {
    eof_ = true;
    fire(StreamEvent::kEof);
  } else if (error) {
    fire(StreamEvent::kError);
  } else if (readable_ && reading_ && got >= kMaxReadPerEvent) {
    lookForInput();  // more is waiting: continue next turn
  }
}

void Stream::handleWritable() {
  if (connecting_) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    connecting_ = false;
    if (err != 0) {
      fire(StreamEvent::kError);
      return;
    }
    if (tls_client_) {
      if (!sendCleartextPreamble()) {
        fire(StreamEvent::kError);
        return;
      }
      handshaking_ = true;  // kConnected comes when the handshake is done
      doHandshake();
      return;
    }
    fire(StreamEvent::kConnected);
    if (dead_) return;
    if (readable_ && reading_) lookForInput();
  }
  writable_ = true;
  if (handshaking_) {
    doHandshake();
    return;
  }
  if (read_wants_write_) {
    read_wants_write_ = false;
    if (reading_) lookForInput();
  }
  doWrite();
}

bool Stream::sendCleartextPreamble() {
  iovec pieces[2];
  while (out_.front(pieces) > 0) {
    const ssize_t n = ::send(fd_, pieces[0].iov_base, pieces[0].iov_len, MSG_NOSIGNAL);
    if (n <= 0) return false;  // a fresh socket that cannot take a few bytes: give up
    out_.consume(static_cast<size_t>(n));
  }
  out_.releaseBlock();
  return true;
}

void Stream::onFlush(void* arg) noexcept {
  auto* self = static_cast<Stream*>(arg);
  self->flush_scheduled_ = false;
  if (self->connecting_ || self->handshaking_ || !self->writable_) return;  // an edge will
  self->enter();
  self->doWrite();
  self->leave();
}

void Stream::doWriteTls() {
  bool wrote = false;
  iovec pieces[2];
  while (out_.front(pieces) > 0) {
    // A retry after WANT_WRITE must offer at least the bytes offered before: the ring's first
    // piece only grows until consumed (it may move: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
    size_t chunk = std::min(pieces[0].iov_len, kTlsRecord);
    size_t n = 0;
    ERR_clear_error();
    if (SSL_write_ex(ssl_, pieces[0].iov_base, chunk, &n) == 1) {
      out_.consume(n);
      wrote = true;
      continue;
    }
    int err = SSL_get_error(ssl_, 0);
    if (err == SSL_ERROR_WANT_WRITE) {
      writable_ = false;  // wait for the EPOLLOUT edge
      break;
    }
    if (err == SSL_ERROR_WANT_READ) break;  // cannot happen without renegotiation
    noteTlsFailure();
    fire(StreamEvent::kError);
    return;
  }
  afterWrite(wrote);
}

void Stream::doWrite() {
  if (ssl_) {
    doWriteTls();
    return;
  }
  bool wrote = false;
  iovec pieces[2];
  while (int count = out_.front(pieces)) {
    // MSG_NOSIGNAL: a peer gone is an error value here, not a SIGPIPE.
    ssize_t n;
    if (count == 1) {
      n = ::send(fd_, pieces[0].iov_base, pieces[0].iov_len, MSG_NOSIGNAL);
    } else {
      msghdr msg{};
      msg.msg_iov = pieces;
      msg.msg_iovlen = static_cast<size_t>(count);
      n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    }
    if (n > 0) {
      out_.consume(static_cast<size_t>(n));
      wrote = true;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      writable_ = false;  // wait for the EPOLLOUT edge
      break;
    }
    if (n < 0 && errno == EINTR) continue;
    fire(StreamEvent::kError);
    return;
  }
  afterWrite(wrote);
}

void Stream::afterWrite(bool wrote) {
  if (wrote && write_cb_ && outputLength() <= write_low_) {
    write_cb_(this, arg_);
    if (dead_) return;
  }
  out_.releaseBlock();
}

void Stream::scheduleFlush() {
  if (flush_scheduled_ || dead_) return;
  flush_scheduled_ = true;
  loop_.deferCall(onFlush, this);
}

}  // namespace lb::net
