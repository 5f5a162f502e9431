// environment.hpp -- how the agent reads environment variables: through an
// Environment function, so config parsing takes the Azure Workload Identity
// variables from a test's map as easily as from the process.
//
//   Environment env = process_environment();
//   auto tenant = env("AZURE_TENANT_ID");       // std::optional<std::string>
//
// Thread-safe as long as nobody calls setenv(3) meanwhile.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tw {

// Looks up an environment variable; tests pass their own.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
Environment process_environment();

}  // namespace tw
