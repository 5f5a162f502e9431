// certificate_store.cpp -- see certificate_store.hpp.
#include "tokenwell/injector/certificate_store.hpp"

#include <sys/stat.h>

#include <cerrno>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509err.h>

namespace tw::injector {
namespace {

// The reason of the last OpenSSL error ("key values mismatch"), without the
// library's numeric prefix.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : "error " + std::to_string(code);
}

std::int64_t unix_seconds(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

bool CertificateStore::Signature::operator==(const Signature& o) const {
  for (int i = 0; i < 2; ++i) {
    if (dev[i] != o.dev[i] || ino[i] != o.ino[i] || size[i] != o.size[i] || error[i] != o.error[i] ||
        mtime[i].tv_sec != o.mtime[i].tv_sec || mtime[i].tv_nsec != o.mtime[i].tv_nsec)
      return false;
  }
  return true;
}

CertificateStore::CertificateStore(CertificateFiles files, ReloadObserver on_reload)
    : files_(std::move(files)), on_reload_(std::move(on_reload)) {}

Result<std::unique_ptr<CertificateStore>> CertificateStore::open(CertificateFiles files,
                                                                 ReloadObserver on_reload) {
  std::unique_ptr<CertificateStore> store(new CertificateStore(std::move(files), std::move(on_reload)));
  store->seen_ = store->signature();
  CertificateLoad report;
  store->context_ = store->load(report);
  if (!store->context_) return make_error(report.error);
  store->in_use_ = report;
  return store;
}

CertificateStore::Signature CertificateStore::signature() const {
  Signature s;
  const std::filesystem::path* paths[2] = {&files_.cert, &files_.key};
  for (int i = 0; i < 2; ++i) {
    struct stat st {};
    // stat, not lstat: a Secret volume's files are symlinks into the
    // directory the kubelet swaps.
    if (::stat(paths[i]->c_str(), &st) != 0) {
      s.error[i] = errno;
      continue;
    }
    s.dev[i] = st.st_dev;
    s.ino[i] = st.st_ino;
    s.size[i] = st.st_size;
    s.mtime[i] = st.st_mtim;
  }
  return s;
}

std::shared_ptr<boost::asio::ssl::context> CertificateStore::load(CertificateLoad& report) const {
  namespace ssl = boost::asio::ssl;
  report = {};
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  // TLS 1.2 with forward secrecy and AEAD only; TLS 1.3 keeps OpenSSL's suites.
  SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, files_.cert.c_str()) != 1) {
    report.error = "certificate " + files_.cert.string() + ": " + openssl_reason();
    return nullptr;
  }
  const std::string mismatch = "key " + files_.key.string() + " does not belong to certificate " + files_.cert.string();
  if (SSL_CTX_use_PrivateKey_file(ctx, files_.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    const bool other_key = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    report.error = other_key ? mismatch : "key " + files_.key.string() + ": " + openssl_reason();
    ERR_clear_error();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    report.error = mismatch;
    return nullptr;
  }
  if (X509* cert = SSL_CTX_get0_certificate(ctx)) {
    char subject[256] = {};
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    report.subject = subject;
    report.not_after = unix_seconds(X509_get0_notAfter(cert));
  }
  report.ok = true;
  return context;
}

std::shared_ptr<boost::asio::ssl::context> CertificateStore::current() {
  std::lock_guard lock(mutex_);
  const Signature now = signature();
  if (now == seen_) return context_;
  CertificateLoad report;
  auto fresh = load(report);
  // Files that changed while they were read may be half of two pairs: look
  // again next time instead of reporting a state that never was.
  if (!(signature() == now)) return context_;
  seen_ = now;
  if (fresh) {
    context_ = std::move(fresh);
    in_use_ = report;
  }
  if (on_reload_) on_reload_(report);
  return context_;
}

CertificateLoad CertificateStore::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

}  // namespace tw::injector
