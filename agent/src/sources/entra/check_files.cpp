// check_files.cpp -- --check-config for the entra and oauth2 sources: each
// file their config names is read the way a fetch reads it (a regular file,
// bounded; a FIFO or a directory is named as such) and, for a certificate,
// must load.
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/sources/entra/client_assertion.hpp"
#include "tokenwell/agent/sources/entra/entra_source.hpp"

#include "credential_file.hpp"

namespace tw {
namespace {

template <typename T>
Result<void> located(const std::string& at, const Result<T>& read) {
  if (!read) return make_error(at + ": " + read.error().message);
  return {};
}

template <typename Auth>
Result<void> check_auth_files(const Auth& auth, const std::string& path) {
  const std::string at = path + ".auth";
  if (const auto* wi = std::get_if<WorkloadIdentityAuth>(&auth))
    return located(at + ".token_file", read_credential_file(wi->token_file));
  if (const auto* cs = std::get_if<ClientSecretAuth>(&auth))
    return located(at + ".secret_file", read_credential_file(cs->secret_file));
  if (const auto* cc = std::get_if<ClientCertificateAuth>(&auth))
    return located(at + ".certificate_file", ClientCertificate::load_file(cc->certificate_file));
  return {};
}

template <typename Config>
Result<void> check_source_files(const Config& config, const std::string& path) {
  if (!config.ca_file.empty())
    if (auto r = located(path + ".ca_file", read_ca_bundle(config.ca_file)); !r) return r;
  return check_auth_files(config.auth, path);
}

}  // namespace

Result<void> check_files(const EntraConfig& config, const std::string& path) {
  return check_source_files(config, path);
}

Result<void> check_files(const OAuth2Config& config, const std::string& path) {
  return check_source_files(config, path);
}

}  // namespace tw
