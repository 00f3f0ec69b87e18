#include "proxy/log/access_log.h"

#include <cerrno>
#include <cstring>

namespace lb::log {

namespace {
constexpr size_t kMaxQueuedBatches = 4096;  // bounded memory if the disk stalls
}

bool AccessLogWriter::open(const std::string& path, std::string* error) {
  path_ = path;
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) {
    *error = "cannot open access log " + path + ": " + std::strerror(errno);
    return false;
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

AccessLogWriter::~AccessLogWriter() { close(); }

void AccessLogWriter::submit(std::string&& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.size() >= kMaxQueuedBatches) {
    ++dropped_;
    return;
  }
  queue_.push_back(std::move(batch));
  wake_.notify_one();
}

void AccessLogWriter::reopen() {
  std::lock_guard<std::mutex> lock(mutex_);
  reopen_ = true;
  wake_.notify_one();
}

void AccessLogWriter::close() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    wake_.notify_one();
  }
  thread_.join();
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

void AccessLogWriter::run() {
  std::vector<std::string> batches;
  for (;;) {
    bool reopen, stop;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || reopen_ || !queue_.empty(); });
      batches.swap(queue_);
      reopen = reopen_;
      stop = stop_;
      reopen_ = false;
    }
    if (reopen) {
      if (std::FILE* f = std::fopen(path_.c_str(), "a")) {
        std::fclose(file_);
        file_ = f;
      }
    }
    for (const auto& b : batches) std::fwrite(b.data(), 1, b.size(), file_);
    std::fflush(file_);
    batches.clear();
    if (stop) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue_.empty()) return;
    }
  }
}

void appendJsonEscaped(std::string* out, std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          // Non-ASCII bytes are escaped one by one: the line stays valid JSON whatever came in.
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
}

}  // namespace lb::log
