// key_files.hpp -- `source: key_files`: the keys in a directory, the way a
// mounted Kubernetes Secret appears (files as symlinks through `..data`,
// swapped atomically by the kubelet).
//
//   auto set = load_key_files("/etc/tokenwell/keys");
//   for (auto& bad : set->skipped) log::warn("key file skipped", {{"problem", bad}});
//   publish(set->jwks, set->signing_key);
//
// Each file whose name does not start with '.' holds one key: PEM
// (a private key signs and verifies, a public key only verifies) or one JWK
// object. Every valid key is in the published JWKS. The signing key is the
// private key whose file name sorts last (byte order), so name files by date
// ("2026-11-01.pem") and rotate by adding the new file first: every key
// verifies while it is listed, the newest signs. Files that do not parse, and
// entries that are not regular files (a FIFO, a directory), are skipped and
// reported, never fatal. The reader is the agent's loop.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"

namespace tw {

struct KeyFileSet {
  std::string jwks;        // public JWKS of every valid key, in file name order
  Secret signing_key;      // private JWK of the newest private key; empty if none
  std::string signing_kid;
  std::size_t keys = 0;
  std::vector<std::string> skipped;  // "<file>: <why>"
};

// Fails when the directory cannot be read or holds no valid key.
Result<KeyFileSet> load_key_files(const std::filesystem::path& directory);

}  // namespace tw
