#include "proxy/core/stream.h"

#include <event2/buffer.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace lb::core {

namespace {
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kMaxReadPerEvent = 256 * 1024;  // fairness between connections
}  // namespace

Stream::Stream(event_base* base, int fd)
    : base_(base), fd_(fd), input_(evbuffer_new()), output_(evbuffer_new()) {
  evbuffer_add_cb(output_, onOutputChanged, this);
  evbuffer_add_cb(input_, onInputChanged, this);
  flush_ev_ = event_new(base_, -1, 0, onFlush, this);
  if (fd_ >= 0) {
    evutil_make_socket_nonblocking(fd_);
    attach();
  }
}

Stream::~Stream() {
  if (read_ev_) event_free(read_ev_);
  if (write_ev_) event_free(write_ev_);
  event_free(flush_ev_);
  if (fd_ >= 0) ::close(fd_);
  evbuffer_free(input_);
  evbuffer_free(output_);
}

void Stream::release() {
  if (dead_) return;
  dead_ = true;
  // Stop every event now; the memory goes when no callback of ours is on the stack.
  if (read_ev_) event_del(read_ev_);
  if (write_ev_) event_del(write_ev_);
  event_del(flush_ev_);
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
  read_ev_ = event_new(base_, fd_, EV_READ | EV_CLOSED | EV_PERSIST | EV_ET, onReadable, this);
  write_ev_ = event_new(base_, fd_, EV_WRITE | EV_PERSIST | EV_ET, onWritable, this);
  event_add(read_ev_, nullptr);
  event_add(write_ev_, nullptr);
}

void Stream::setCallbacks(DataCb on_read, DataCb on_write, EventCb on_event, void* arg) {
  read_cb_ = on_read;
  write_cb_ = on_write;
  event_cb_ = on_event;
  arg_ = arg;
}

void Stream::enableRead() {
  if (reading_) return;
  reading_ = true;
  // An edge that came while reading was off will not come again: look now.
  if (readable_ && read_ev_ && !connecting_) event_active(read_ev_, EV_READ, 0);
}

void Stream::disableRead() { reading_ = false; }

void Stream::write(const void* data, size_t len) { evbuffer_add(output_, data, len); }

int Stream::connect(const sockaddr* addr, socklen_t len) {
  fd_ = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return -1;
  int r = ::connect(fd_, addr, len);
  if (r < 0 && errno != EINPROGRESS) return -1;
  connecting_ = true;
  attach();
  if (r == 0) event_active(write_ev_, EV_WRITE, 0);  // connected at once: report it next turn
  return 0;
}

void Stream::fire(short events) {
  if (event_cb_) event_cb_(this, events, arg_);
}

void Stream::onReadable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<Stream*>(arg);
  self->readable_ = true;
  if (what & EV_CLOSED) self->peer_closed_ = true;
  if (!self->reading_ || self->connecting_ || self->eof_) return;
  self->enter();
  self->doRead();
  self->leave();
}

void Stream::doRead() {
  size_t got = 0;
  bool eof = false, error = false;
  while (reading_ && got < kMaxReadPerEvent) {
    size_t have = evbuffer_get_length(input_);
    if (read_high_ && have >= read_high_) break;  // resumes when the owner drains input
    size_t want = kReadChunk;
    if (read_high_ && read_high_ - have < want) want = read_high_ - have;
    evbuffer_iovec vec[2];
    int nvec = evbuffer_reserve_space(input_, static_cast<ev_ssize_t>(want), vec, 2);
    if (nvec <= 0) break;
    iovec iov[2];
    for (int i = 0; i < nvec; ++i) iov[i] = {vec[i].iov_base, vec[i].iov_len};
    ssize_t n = ::readv(fd_, iov, nvec);
    if (n > 0) {
      size_t left = static_cast<size_t>(n);
      for (int i = 0; i < nvec; ++i) {
        size_t take = left < vec[i].iov_len ? left : vec[i].iov_len;
        vec[i].iov_len = take;
        left -= take;
      }
      evbuffer_commit_space(input_, vec, nvec);
      got += static_cast<size_t>(n);
      size_t asked = 0;
      for (int i = 0; i < nvec; ++i) asked += iov[i].iov_len;
      if (static_cast<size_t>(n) < asked && !peer_closed_) {
        // A short read took all there was; new data (or a FIN) brings a new edge. Saves
        // the read that would only say EAGAIN. A FIN that came with this edge is flagged
        // by EV_CLOSED (EPOLLRDHUP), and then we read on until the 0.
        readable_ = false;
        break;
      }
      continue;
    }
    evbuffer_commit_space(input_, vec, 0);
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
  if (got > 0 && read_cb_) {
    read_cb_(this, arg_);
    if (dead_) return;
  }
  if (eof) {
    eof_ = true;
    fire(BEV_EVENT_EOF | BEV_EVENT_READING);
  } else if (error) {
    fire(BEV_EVENT_ERROR | BEV_EVENT_READING);
  } else if (readable_ && reading_ && got >= kMaxReadPerEvent) {
    event_active(read_ev_, EV_READ, 0);  // more is waiting: continue next turn
  }
}

void Stream::onWritable(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Stream*>(arg);
  self->enter();
  if (self->connecting_) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    self->connecting_ = false;
    if (err != 0) {
      self->fire(BEV_EVENT_ERROR | BEV_EVENT_WRITING);
      self->leave();
      return;
    }
    self->fire(BEV_EVENT_CONNECTED);
    if (!self->leave()) return;
    self->enter();
    if (self->readable_ && self->reading_) event_active(self->read_ev_, EV_READ, 0);
  }
  self->writable_ = true;
  if (!self->dead_) self->doWrite();
  self->leave();
}

void Stream::onFlush(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Stream*>(arg);
  self->flush_scheduled_ = false;
  if (self->connecting_ || !self->writable_) return;  // the EPOLLOUT edge will write
  self->enter();
  self->doWrite();
  self->leave();
}

void Stream::doWrite() {
  bool wrote = false;
  while (evbuffer_get_length(output_) > 0) {
    int n = evbuffer_write(output_, fd_);
    if (n > 0) {
      wrote = true;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      writable_ = false;  // wait for the EPOLLOUT edge
      break;
    }
    if (n < 0 && errno == EINTR) continue;
    fire(BEV_EVENT_ERROR | BEV_EVENT_WRITING);
    return;
  }
  if (wrote && write_cb_ && evbuffer_get_length(output_) <= write_low_) write_cb_(this, arg_);
}

void Stream::scheduleFlush() {
  if (flush_scheduled_ || dead_) return;
  flush_scheduled_ = true;
  event_active(flush_ev_, EV_TIMEOUT, 0);
}

void Stream::onOutputChanged(evbuffer*, const evbuffer_cb_info* info, void* arg) {
  if (info->n_added > 0) static_cast<Stream*>(arg)->scheduleFlush();
}

void Stream::onInputChanged(evbuffer*, const evbuffer_cb_info* info, void* arg) {
  auto* self = static_cast<Stream*>(arg);
  // The owner drained input that had reached the high watermark: read what is waiting.
  if (info->n_deleted > 0 && self->read_high_ && self->readable_ && self->reading_ &&
      info->orig_size >= self->read_high_ &&
      info->orig_size - info->n_deleted + info->n_added < self->read_high_ && self->read_ev_)
    event_active(self->read_ev_, EV_READ, 0);
}

}  // namespace lb::core
