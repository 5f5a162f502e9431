// api_backend.hpp -- what the socket API and the health listener ask of the
// agent, answered from the segment itself (values, generations, states) and
// the registry (sources, keyset refetches, signing keys) (internal to the app library).
//
//   AgentApiBackend backend(writer, reader, registry, clock);
//   auto api = SocketApi::open(io, options, backend, metrics, time);
//
// Lives on the loop's thread, like everything the listeners call.
#pragma once

#include "tokenwell/agent/api/backend.hpp"
#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

#include "registry.hpp"

namespace tw {

class AgentApiBackend final : public ApiBackend {
 public:
  // `reader` is a libtokenwell handle on the agent's own segment: a
  // credential is read back exactly as clients read it.
  AgentApiBackend(const SegmentWriter& writer, const tokenwell* reader, Registry& registry, const Clock& clock)
      : writer_(writer), reader_(reader), registry_(registry), clock_(clock) {}

  std::vector<Entry> entries() const override;
  Lookup<CredentialValue> credential(std::string_view name) const override;
  Lookup<std::string> jwks(std::string_view keyset) const override;
  RefreshReply request_keyset_refresh(std::string_view keyset) override;
  SignReply sign(std::string_view keyset, std::string_view claims_json, std::int64_t ttl_seconds) override;
  Readiness readiness() const override;

 private:
  const SegmentWriter& writer_;
  const tokenwell* reader_;
  Registry& registry_;
  const Clock& clock_;
};

}  // namespace tw
