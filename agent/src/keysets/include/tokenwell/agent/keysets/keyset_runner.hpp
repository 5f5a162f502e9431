// keyset_runner.hpp -- one keyset's loop on the agent's event loop. The
// decisions live in the pure classes (JwksRefreshState, KeyRotation,
// load_key_files); a runner owns only its timer, its FetchCycle (a JWKS
// fetch off the loop) and its directory, and hands every new value to
// `on_value`, which publishes it.
//
//   auto runner = make_keyset_runner(config, {time, executor, random, metrics, http},
//                                    previous, publish);
//   runner->start();
//   ... POST /v1/keysets/NAME/refresh:  runner->request_refetch();
//
// Lives on the loop's thread; the Context's objects must outlive it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tokenwell/agent/common/random_source.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"
#include "tokenwell/agent/common/timer.hpp"
#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/metrics/metrics.hpp"
#include "tokenwell/agent/refresh/entry_runner.hpp"
#include "tokenwell/agent/refresh/fetch_executor.hpp"

namespace tw {

// What a keyset publishes (docs/segment-format.md): the public JWKS, and the
// active private JWK for signing keysets.
struct KeysetValue {
  std::string jwks;
  Secret signing_key;
  std::size_t keys = 0;
};

struct KeysetContext {
  TimeSource& time;
  FetchExecutor& executor;
  RandomSource& random;  // backoff samples
  Metrics& metrics;
  HttpClientFactory& http;
};

using OnKeysetValue = std::function<void(const KeysetConfig&, const KeysetValue&)>;

// `previous`: the value this keyset had in the segment before a restart
// (generated keysets adopt their keys from it).
std::shared_ptr<EntryRunner> make_keyset_runner(KeysetConfig config, KeysetContext context,
                                                std::optional<KeysetValue> previous,
                                                OnKeysetValue on_value);

}  // namespace tw
