// certificate_store.hpp -- the serving certificate and key, from PEM files,
// and the TLS context built from them. Each new connection asks current(),
// which first looks (two stat calls) whether either file changed since the
// last look and, if so, loads the pair into a new context. cert-manager and
// the kubelet replace a Secret's files by an atomic symlink swap, so the
// next handshake after a rotation presents the new certificate; connections
// already open keep the context they started with, so none is dropped.
//
//   auto store = CertificateStore::open({"/tls/tls.crt", "/tls/tls.key"}, on_reload);
//   if (!store) return fail(store.error().message);
//   auto context = (*store)->current();        // std::shared_ptr<ssl::context>
//
// A pair that does not load (a key that does not match, a half-written
// file) is reported once per change of the files; the previous pair keeps
// serving. Files that change while being read are looked at again at the
// next handshake rather than reported. Thread-safe.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "tokenwell/agent/common/result.hpp"

namespace tw::injector {

struct CertificateFiles {
  std::filesystem::path cert;  // PEM: the certificate, then any intermediates
  std::filesystem::path key;   // PEM: its private key
};

// What a load produced, for logs and metrics.
struct CertificateLoad {
  bool ok = false;
  std::string error;           // when !ok: what failed, never file contents
  std::string subject;         // when ok: the certificate's subject
  std::int64_t not_after = 0;  // when ok: its expiry, unix seconds
};

class CertificateStore {
 public:
  // Called (under the store's lock) after every load attempt after the first.
  using ReloadObserver = std::function<void(const CertificateLoad&)>;

  // Loads the pair once; an error says which file and why.
  static Result<std::unique_ptr<CertificateStore>> open(CertificateFiles files,
                                                        ReloadObserver on_reload = {});

  // The context for a new connection (reloaded first if the files changed).
  std::shared_ptr<boost::asio::ssl::context> current();
  // What the pair in use says (subject, expiry).
  CertificateLoad in_use() const;

 private:
  // What stat() says of both files; a change of any field means "look again".
  struct Signature {
    dev_t dev[2] = {0, 0};
    ino_t ino[2] = {0, 0};
    off_t size[2] = {0, 0};
    timespec mtime[2] = {{0, 0}, {0, 0}};
    int error[2] = {0, 0};
    bool operator==(const Signature& o) const;
  };

  CertificateStore(CertificateFiles files, ReloadObserver on_reload);
  Signature signature() const;
  // A context from the files, or what went wrong.
  std::shared_ptr<boost::asio::ssl::context> load(CertificateLoad& report) const;

  const CertificateFiles files_;
  const ReloadObserver on_reload_;
  mutable std::mutex mutex_;
  Signature seen_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  CertificateLoad in_use_;
};

}  // namespace tw::injector
