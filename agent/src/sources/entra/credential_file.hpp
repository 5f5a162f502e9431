// credential_file.hpp -- how the entra and oauth2 sources read the files
// their auth names (token_file, secret_file), for the fetch and for
// --check-config alike (internal to the sources/entra library).
//
//   auto token = read_credential_file(wi.token_file);
//   if (!token) return fail("auth.token_file: " + token.error().message);
#pragma once

#include <filesystem>

#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"

namespace tw {

// The file's contents without surrounding whitespace (Kubernetes secrets
// made with `echo` end in a newline): a regular file of at most 64 KiB
// (common/file_reader.hpp); an empty one is an error.
Result<Secret> read_credential_file(const std::filesystem::path& path);

}  // namespace tw
