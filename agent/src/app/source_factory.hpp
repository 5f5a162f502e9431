// source_factory.hpp -- the credential source a config entry names, with the
// HTTP client it borrows (internal to the app library). Adding a source is a
// config parser (config/config.cpp) and a branch here.
//
//   auto source = make_source(config, {http_factory, clock, random});
//   FetchResult<FetchedCredential> r = source->fetch();   // on a fetch worker
#pragma once

#include <memory>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/common/random_source.hpp"
#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/refresh/source.hpp"

namespace tw {

struct SourceServices {
  HttpClientFactory& http;
  const Clock& clock;
  RandomSource& random;  // used on fetch workers: must be thread-safe
};

std::shared_ptr<CredentialSource> make_source(const CredentialConfig& config, const SourceServices& services);

}  // namespace tw
