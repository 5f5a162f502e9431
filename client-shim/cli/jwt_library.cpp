// jwt_library.cpp -- dlopen of libtokenwell-jwt for the `jwt` subcommands.
#include "jwt_library.hpp"

#include <dlfcn.h>

#include <string>

#include "cli.hpp"

namespace tw::cli {
namespace {

struct Loaded {
  JwtLibrary api{};
  std::string error;  // empty: api is usable
};

template <typename F>
bool resolve(void* handle, const char* symbol, F& out, std::string& error) {
  out = reinterpret_cast<F>(dlsym(handle, symbol));
  if (out == nullptr && error.empty()) error = std::string("no symbol ") + symbol + " in " + kJwtLibraryFile;
  return out != nullptr;
}

Loaded load() {
  Loaded loaded;
  // RTLD_LOCAL: its symbols (and OpenSSL's) stay out of the CLI's namespace.
  void* handle = dlopen(kJwtLibraryFile, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    loaded.error = why != nullptr ? why : "dlopen failed";
    return loaded;
  }
  // Never dlclose'd: the process is short-lived and the pointers stay valid.
  resolve(handle, "tokenwell_jwt_strerror", loaded.api.strerror, loaded.error);
  resolve(handle, "tokenwell_jwt_sign", loaded.api.sign, loaded.error);
  resolve(handle, "tokenwell_jwt_verify", loaded.api.verify, loaded.error);
  return loaded;
}

}  // namespace

const JwtLibrary& jwt_library(std::string_view command) {
  static const Loaded loaded = load();
  if (!loaded.error.empty())
    throw Failure{kUnavailable,
                  std::string(command) + " needs " + kJwtLibraryFile +
                      " and OpenSSL's libcrypto.so.3 (" + loaded.error +
                      "); copy /usr/local/lib/libtokenwell-jwt.so.0* from the tokenwell image and "
                      "install libssl3 (docs/app-images.md). get, wait, list, exec and jwks do not need them"};
  return loaded.api;
}

}  // namespace tw::cli
