// Checks a listener's certificate and key files the way the proxy will load them, so that
// `--check`, `lbctl config check` and a reload report a missing file, a bad PEM or a key that
// does not belong to its certificate before anything is switched. Setup code, any thread.
#pragma once

#include <string>

namespace lb::config {

// "" when `cert_path` holds a PEM certificate (and optional chain) and `key_path` its private
// key; otherwise what is wrong, in words.
std::string checkCertificateFiles(const std::string& cert_path, const std::string& key_path);

// "" when `path` holds at least one PEM certificate (a CA bundle for verifying backends);
// otherwise what is wrong, in words.
std::string checkCaFile(const std::string& path);

// The last OpenSSL error of this thread as text (`if_none` when there is none); clears the
// thread's error queue.
std::string takeOpenSslError(const char* if_none);

}  // namespace lb::config
