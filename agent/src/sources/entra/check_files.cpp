// check_files.cpp -- --check-config for the entra and oauth2 sources: the
// files their config names are readable and, for a certificate, usable.
#include <unistd.h>

#include "tokenwell/agent/sources/entra/client_assertion.hpp"
#include "tokenwell/agent/sources/entra/entra_source.hpp"

namespace tw {
namespace {

Result<void> check_readable(const std::string& at, const std::filesystem::path& file) {
  if (::access(file.c_str(), R_OK) != 0) return make_error(at + ": file not readable (" + file.string() + ")");
  return {};
}

template <typename Auth>
Result<void> check_auth_files(const Auth& auth, const std::string& path) {
  const std::string at = path + ".auth";
  if (const auto* wi = std::get_if<WorkloadIdentityAuth>(&auth)) return check_readable(at + ".token_file", wi->token_file);
  if (const auto* cs = std::get_if<ClientSecretAuth>(&auth)) return check_readable(at + ".secret_file", cs->secret_file);
  if (const auto* cc = std::get_if<ClientCertificateAuth>(&auth)) {
    if (auto r = check_readable(at + ".certificate_file", cc->certificate_file); !r) return r;
    if (auto c = ClientCertificate::load_file(cc->certificate_file); !c)
      return make_error(at + ".certificate_file: " + c.error().message);
  }
  return {};
}

}  // namespace

Result<void> check_files(const EntraConfig& config, const std::string& path) {
  if (!config.ca_file.empty())
    if (auto r = check_readable(path + ".ca_file", config.ca_file); !r) return r;
  return check_auth_files(config.auth, path);
}

Result<void> check_files(const OAuth2Config& config, const std::string& path) {
  if (!config.ca_file.empty())
    if (auto r = check_readable(path + ".ca_file", config.ca_file); !r) return r;
  return check_auth_files(config.auth, path);
}

}  // namespace tw
