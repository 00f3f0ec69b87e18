#include "config/tls_files.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstring>
#include <memory>

namespace lb::config {

namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

}  // namespace

std::string takeOpenSslError(const char* if_none) {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return if_none;
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

std::string checkCertificateFiles(const std::string& cert_path, const std::string& key_path) {
  ERR_clear_error();
  File cert_file(std::fopen(cert_path.c_str(), "r"));
  if (!cert_file) return "cannot open certificate file " + cert_path + ": " + std::strerror(errno);
  X509* cert = PEM_read_X509(cert_file.get(), nullptr, nullptr, nullptr);
  if (!cert)
    return "no PEM certificate in " + cert_path + " (" + takeOpenSslError("no PEM data") + ")";
  std::unique_ptr<X509, decltype(&X509_free)> cert_owner(cert, X509_free);

  File key_file(std::fopen(key_path.c_str(), "r"));
  if (!key_file) return "cannot open key file " + key_path + ": " + std::strerror(errno);
  EVP_PKEY* key = PEM_read_PrivateKey(key_file.get(), nullptr, nullptr, nullptr);
  if (!key)
    return "no PEM private key in " + key_path + " (" + takeOpenSslError("no PEM data") + ")";
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_owner(key, EVP_PKEY_free);

  if (X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    return "key " + key_path + " does not match certificate " + cert_path;
  }
  return "";
}

std::string checkCaFile(const std::string& path) {
  ERR_clear_error();
  File file(std::fopen(path.c_str(), "r"));
  if (!file) return "cannot open CA file " + path + ": " + std::strerror(errno);
  int count = 0;
  while (X509* cert = PEM_read_X509(file.get(), nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++count;
  }
  // The loop ends on "no start line" at the end of the file; anything else is a broken PEM.
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code != 0 && ERR_GET_REASON(code) != PEM_R_NO_START_LINE) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    return "unreadable PEM in CA file " + path + " (" + buf + ")";
  }
  if (count == 0) return "no PEM certificate in CA file " + path;
  return "";
}

}  // namespace lb::config
