// source_factory.cpp -- see source_factory.hpp.
#include "source_factory.hpp"

#include "tokenwell/agent/sources/entra/entra_source.hpp"
#include "tokenwell/agent/sources/file/file_source.hpp"

namespace tw {
namespace {

// A source together with the HTTP client it borrows, so one pointer owns
// everything a fetch touches.
class OwningSource final : public CredentialSource {
 public:
  OwningSource(std::shared_ptr<HttpClient> http, std::unique_ptr<CredentialSource> inner)
      : http_(std::move(http)), inner_(std::move(inner)) {}
  FetchResult<FetchedCredential> fetch() override { return inner_->fetch(); }

 private:
  std::shared_ptr<HttpClient> http_;
  std::unique_ptr<CredentialSource> inner_;
};

}  // namespace

std::shared_ptr<CredentialSource> make_source(const CredentialConfig& c, const SourceServices& services) {
  return std::visit(
      [&](const auto& s) -> std::shared_ptr<CredentialSource> {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, FileSourceConfig>) {
          return std::make_shared<FileSource>(s);
        } else {
          auto http = services.http.create({.ca_file = s.ca_file});
          const SourceContext context{*http, services.clock, services.random, c.refresh.timeout};
          std::unique_ptr<CredentialSource> inner;
          if constexpr (std::is_same_v<T, EntraConfig>) inner = make_entra_source(s, context);
          else inner = make_oauth2_source(s, context);
          return std::make_shared<OwningSource>(std::move(http), std::move(inner));
        }
      },
      c.settings);
}

}  // namespace tw
