// A non-blocking TCP stream with a contiguous input block and an output ring, replacing libevent's
// bufferevent on the request path. Why our own: a bufferevent adds the write event whenever
// output is queued and deletes it once drained (2 epoll_ctl per direction per request) and
// sizes every read with ioctl(FIONREAD). This stream registers its fd once, edge-triggered
// for read and write with one event, writes as soon as the current loop turn ends (coalescing
// everything queued in that turn into one writev), asks the kernel for nothing else, and
// reads into one contiguous input block until EAGAIN or the read high watermark.
//
// The input is contiguous (parsers see a whole head at once, and no evbuffer chain is
// allocated and freed per read): a 16 KiB block, grown by doubling only when full and below
// the high watermark. The output is a common::ByteRing (copied in, written by one writev of
// at most two pieces). Memory: both take blocks from the loop's spares when there are bytes to
// hold and give them back once empty, so an idle connection holds none (the input after a
// read callback that left it empty, the output once everything is written), and a busy one
// allocates nothing per request.
//
// Callbacks: read after data was added to the input; write after a write left the output at
// or below the low watermark; event with a StreamEvent (connected, EOF, error).
// release() may be called from inside any of the stream's own callbacks.
//
// TLS (server side): after startTlsServer() the stream runs the handshake on the socket's
// edges and reports kConnected when it is done (kError if it fails); from then on
// the input holds decrypted bytes and write() takes plaintext, with the same callbacks,
// watermarks and edge logic. Records are written 16 KiB at most per SSL_write.
//
// TLS (client side, to backends): startTlsClient() right after connect(); the TCP connect is
// then followed by the handshake, and kConnected means both are done. Bytes written before the
// TCP connect completed go out in the clear ahead of the handshake (a PROXY protocol header):
// at most a fresh socket's send buffer, which a short header always fits. A failed handshake (or a
// later fatal TLS error, such as the alert of a backend refusing our client certificate) is
// kError with tlsFailure() saying why.
// Owner: one loop thread.
#pragma once

#include <event2/event.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "common/byte_ring.h"

struct ssl_st;
struct bio_st;

namespace lb::common {
class EventLoop;
}

namespace lb::net {

// What a stream tells its owner besides data. Owners see these, never libevent's bits.
enum class StreamEvent : uint8_t {
  kConnected,  // connect() completed (and the client TLS handshake), or the server-side one
  kEof,        // the peer closed its sending side; every byte it sent was delivered first
  kError,      // refused, reset, or a fatal TLS error: the stream cannot be used any more
};

class Stream {
 public:
  using DataCb = void (*)(Stream*, void* arg) noexcept;  // called from the loop: must not throw
  using EventCb = void (*)(Stream*, StreamEvent event, void* arg) noexcept;

  // Wraps a connected socket (accepted), or with fd < 0 an unconnected one for connect().
  Stream(common::EventLoop& loop, int fd);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Closes the socket and frees the stream, now or when its callback on the stack returns.
  void release();

  void setCallbacks(DataCb on_read, DataCb on_write, EventCb on_event, void* arg);
  // Stop reading while the input holds this much (0 = no limit).
  void setReadHighWater(size_t bytes) { read_high_ = bytes; }
  // Call the write callback when a write leaves the output at or below this.
  void setWriteLowWater(size_t bytes) { write_low_ = bytes; }
  // The owner's reading on/off (start, lingering, the end). enableRead() waits while flow
  // control holds reading off.
  void enableRead();
  void disableRead();
  // Flow control (docs/architecture.md, "Flow control"): a consumer whose buffer passed its
  // high watermark asks the producer's stream to stop reading; reading resumes when every
  // such ask was taken back. Counted, so reasons compose; each reason holds at most one.
  void readDisable(bool disable);
  bool readDisabled() const { return read_disables_ > 0; }

  // Received bytes not consumed yet, all contiguous; false when there are none. The pointer
  // is valid until the callback on the stack returns or drainInput() is called.
  size_t inputLength() const { return in_end_ - in_begin_; }
  bool peekInput(const char** data, size_t* len) const;
  // Consumes bytes from the front; reading resumes once below the high watermark.
  void drainInput(size_t len);
  // Bytes queued and not written yet.
  size_t outputLength() const { return out_.size(); }
  // Appends to the output; it is written at the end of this loop turn.
  void write(const void* data, size_t len);
  // Non-blocking connect; the event callback reports kConnected or kError. -1 on immediate
  // error (no callback then).
  int connect(const sockaddr* addr, socklen_t len);
  int fd() const { return fd_; }

  // Server-side TLS on an accepted socket; the stream owns `ssl` from now on.
  void startTlsServer(ssl_st* ssl);
  // Client-side TLS on a connecting stream (after connect()); the stream owns `ssl`.
  void startTlsClient(ssl_st* ssl);
  ssl_st* ssl() const { return ssl_; }
  bool tlsHandshaking() const { return handshaking_; }
  // Why TLS failed, in OpenSSL's words (a static string), or null when it did not: the
  // certificate verification result when that failed, else the first error of the queue.
  const char* tlsFailure() const { return tls_failure_; }
  // Half-closes the sending side once the owner has seen the output drained: a TLS
  // close_notify first, then the TCP FIN. Reading goes on.
  void shutdownWrite();

 private:
  ~Stream();
  static void onIo(evutil_socket_t, short what, void* arg) noexcept;
  static void onFlush(void* arg) noexcept;
  static long onTlsBio(bio_st* bio, int oper, const char* argp, size_t len, int argi, long argl,
                       int ret, size_t* processed) noexcept;
  void handleReadable(short what);
  void handleWritable();
  void lookForInput();  // reading may go on without a new edge: try next turn

  void attach();  // registers the fd's events (once)
  // How much the next read may take (0: stop: not reading, fair share used, or input full).
  size_t nextReadSize(size_t got) const;
  // Room for at least one byte at the input's end (taking, compacting or growing the block);
  // returns where to read and how much fits, at most `want`.
  char* inputSpace(size_t want, size_t* room);
  void releaseInputIfEmpty();
  void doRead();
  void doReadTls();
  void doWrite();
  void afterWrite(bool wrote);  // write callback, and the output back once empty
  void doWriteTls();
  void doHandshake();
  bool sendCleartextPreamble();  // what was written while a TLS client stream connected
  void finishRead(size_t got, bool eof, bool error);
  void scheduleFlush();
  void enter() { ++depth_; }
  bool leave();  // false when the stream was deleted
  void fire(StreamEvent event);
  void noteTlsFailure();  // tls_failed_, tls_failure_, and the error queue cleared

  common::EventLoop& loop_;
  int fd_;
  char* in_buf_ = nullptr;  // from loop_'s spare blocks while it holds bytes
  size_t in_cap_ = 0;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  common::ByteRing out_;
  event* io_ev_ = nullptr;
  DataCb read_cb_ = nullptr;
  DataCb write_cb_ = nullptr;
  EventCb event_cb_ = nullptr;
  void* arg_ = nullptr;
  size_t read_high_ = 0;
  size_t write_low_ = 0;
  uint32_t read_disables_ = 0;  // flow control's asks (readDisable)
  int depth_ = 0;
  bool dead_ = false;
  bool reading_ = false;   // enabled by the owner
  bool readable_ = false;  // the kernel may have more than we took (no EAGAIN seen)
  bool writable_ = true;   // no EAGAIN on write since the last EPOLLOUT edge
  bool connecting_ = false;
  bool flush_scheduled_ = false;
  bool eof_ = false;
  bool peer_closed_ = false;  // EPOLLRDHUP seen: read until 0, whatever the read sizes
  ssl_st* ssl_ = nullptr;
  bool handshaking_ = false;
  bool tls_client_ = false;  // startTlsClient: the handshake follows the TCP connect
  const char* tls_failure_ = nullptr;
  bool tls_failed_ = false;        // after a fatal TLS error no close_notify may be sent
  bool tls_shut_ = false;          // close_notify sent
  bool read_wants_write_ = false;  // SSL_read needs the socket writable (a key update reply)
  bool tls_drained_ = false;       // the socket BIO's last recv got less than it asked for
};

}  // namespace lb::net
