// JSON access log, one line per request. Workers append lines to their own buffer and hand
// whole batches to the writer thread, so a slow disk never blocks a worker. reopen() (on
// SIGUSR1) reopens the file for log rotation.
#pragma once

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lb::log {

class AccessLogWriter {
 public:
  // Main thread. Returns false with *error when the file cannot be opened.
  bool open(const std::string& path, std::string* error);
  ~AccessLogWriter();

  // Any thread: queue a batch of complete lines (takes ownership).
  void submit(std::string&& batch);
  // Any thread: reopen the file at the next write (log rotation).
  void reopen();
  // Main thread: write what is queued and stop the writer thread.
  void close();

 private:
  void run();

  std::string path_;
  std::FILE* file_ = nullptr;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::string> queue_;  // guarded by mutex_
  bool reopen_ = false;             // guarded by mutex_
  bool stop_ = false;               // guarded by mutex_
  size_t dropped_ = 0;              // batches dropped because the queue was full
};

// Appends `s` to `out` as a JSON string body (without quotes), escaping as needed.
void appendJsonEscaped(std::string* out, std::string_view s);

}  // namespace lb::log
