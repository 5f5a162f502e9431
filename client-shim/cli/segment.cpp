// segment.cpp -- the CLI's access to the segment: every TOKENWELL_* code
// mapped to an exit code, and messages that say what is wrong and where.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cli.hpp"

namespace tw::cli {

ExitCode exit_code_for(int tokenwell_code) {
  switch (tokenwell_code) {
    case TOKENWELL_OK:
      return kOk;
    case TOKENWELL_EINVAL:  // a name over 64 bytes, a --dir path too long
      return kUsage;
    case TOKENWELL_ENOTFOUND:
      return kUnknownName;
    case TOKENWELL_ENOVALUE:
    case TOKENWELL_ETIMEOUT:  // `wait`: nothing newer arrived in time
      return kNoValue;
    case TOKENWELL_EUNAVAILABLE:
    case TOKENWELL_EFORMAT:
    case TOKENWELL_EVERSION:
      return kUnavailable;
    case TOKENWELL_ETOOSMALL:  // tw::Client grows its buffers; never reaches here
    case TOKENWELL_EBUSY:      // a writer that never lets a read finish is broken
    case TOKENWELL_ENOMEM:
    case TOKENWELL_ESYSTEM:  // mapping the segment failed
      return kUnavailable;
  }
  // A code newer than this CLI: the segment is not usable, and never "ok".
  return kUnavailable;
}

namespace {

// Why the segment file could not be opened, as precisely as the file system
// tells: a wrong --dir and an agent that has not started need different fixes.
std::string describe_unavailable(const Context& ctx) {
  const std::string path = ctx.segment_path();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (::access(path.c_str(), R_OK) != 0)
      return "cannot read " + path + ": " + std::strerror(errno);
    return "cannot open " + path;
  }
  if (errno == ENOENT && ::stat(ctx.dir.c_str(), &st) != 0)
    return "no directory " + quote(ctx.dir) + " (set --dir or TOKENWELL_DIR)";
  return "no segment at " + path + " (is tokenwell-agent running?)";
}

}  // namespace

Failure segment_failure(const Context& ctx, int tokenwell_code, std::string_view name) {
  const ExitCode code = exit_code_for(tokenwell_code);
  const std::string path = ctx.segment_path();
  switch (tokenwell_code) {
    case TOKENWELL_ENOTFOUND:
      return {code, "no credential or keyset named " + quote(name) + " in " + path};
    case TOKENWELL_ENOVALUE:
      return {code, quote(name) + " in " + path + " has no valid value"};
    case TOKENWELL_EUNAVAILABLE:
      return {code, describe_unavailable(ctx)};
    case TOKENWELL_EFORMAT:
      return {code, path + " is not a valid tokenwell segment (truncated or corrupt)"};
    case TOKENWELL_EVERSION:
      return {code, path + " was written by a newer, incompatible tokenwell-agent (this is libtokenwell " +
                        tokenwell_version() + ")"};
    case TOKENWELL_EINVAL:
      if (name.empty()) return {code, "invalid directory " + quote(ctx.dir) + " (path too long)"};
      return {code, "invalid name " + quote(name) + " (1 to 64 bytes)"};
    default:
      return {code, (name.empty() ? "reading " + path : "reading " + quote(name) + " from " + path) +
                        ": " + tokenwell_strerror(tokenwell_code)};
  }
}

tw::Client open_client(const Context& ctx) {
  auto client = tw::Client::open(ctx.dir);
  if (!client) throw segment_failure(ctx, client.code());
  return std::move(client).value();
}

tw::Credential read_credential(const tw::Client& client, const Context& ctx,
                               std::string_view name) {
  auto credential = client.get(name);
  if (credential) return std::move(credential).value();
  const int rc = credential.code();
  const std::string entry = quote(name) + " in " + ctx.segment_path();
  // The read says "unknown" or "no valid value"; stat tells the user which
  // case they face. (A keyset is unknown to a credential read.)
  if (rc == TOKENWELL_ENOTFOUND) {
    const auto info = client.stat(name);
    if (info && info->kind == tw::EntryKind::keyset)
      throw Failure{kUnknownName, entry + " is a keyset, not a credential"};
    throw Failure{kUnknownName, "no credential named " + entry};
  }
  if (rc == TOKENWELL_ENOVALUE) {
    const auto info = client.stat(name);
    if (info && info->state == tw::EntryState::expired)
      throw Failure{kNoValue, "credential " + entry + " expired at " +
                                  format_expiry(info->expires_at) +
                                  " and the agent has not refreshed it"};
    if (info && info->state == tw::EntryState::pending)
      throw Failure{kNoValue, "credential " + entry + " has no value yet (the agent has not fetched it)"};
  }
  throw segment_failure(ctx, rc, name);
}

}  // namespace tw::cli
