// redis_app.cpp -- the demo's application: a plain hiredis client that issues
// commands continuously and stays authenticated across token rotations with
// tokenwell/hiredis.h, the way an app in the pod would.
//
//   redis_app --host 127.0.0.1 --port 6380 [--name redis] [--status FILE]
//
// Before each command the helper compares the credential's generation with
// the one this connection AUTHed with (shared memory, no system call) and
// re-AUTHs when the agent published a new token. A failed command is counted
// and the connection re-opened. --status: a JSON file rewritten twice a
// second (ok, failed, reauths, generation, last_error) for the demo's view.
// SIGINT/SIGTERM stop it.
#include <hiredis/hiredis.h>
#include <signal.h>
#include <tokenwell/hiredis.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace {

volatile sig_atomic_t g_stop = 0;

struct Stats {
  long ok = 0, failed = 0, reauths = 0, reconnects = 0;
  std::string last_error;
};

void write_status(const std::string& path, const Stats& s, uint64_t generation) {
  if (path.empty()) return;
  std::string err;
  for (char ch : s.last_error)
    if (ch != '"' && ch != '\\' && static_cast<unsigned char>(ch) >= 0x20) err += ch;
  {
    std::ofstream f(path + ".tmp");
    f << "{\"ok\":" << s.ok << ",\"failed\":" << s.failed << ",\"reauths\":"
      << s.reauths
      << ",\"reconnects\":" << s.reconnects << ",\"generation\":" << generation
      << ",\"last_error\":\"" << err << "\"}\n";
  }
  std::rename((path + ".tmp").c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", name = "redis", status;
  int port = 6379;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--host") host = argv[i + 1];
    else if (a == "--port") port = std::atoi(argv[i + 1]);
    else if (a == "--name") name = argv[i + 1];
    else if (a == "--status") status = argv[i + 1];
    else {
      std::fprintf(stderr, "redis_app: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  signal(SIGINT, [](int) { g_stop = 1; });
  signal(SIGTERM, [](int) { g_stop = 1; });

  tokenwell* tw = nullptr;
  if (int rc = tokenwell_open(nullptr, &tw); rc != TOKENWELL_OK) {
    std::fprintf(stderr, "redis_app: %s ($TOKENWELL_DIR)\n", tokenwell_strerror(rc));
    return 1;
  }
  tokenwell_hiredis auth;
  if (tokenwell_hiredis_init(&auth, tw, name.c_str()) != TOKENWELL_OK) {
    std::fprintf(stderr, "redis_app: bad credential name '%s'\n", name.c_str());
    return 2;
  }
  Stats stats;
  redisContext* c = nullptr;
  bool fresh = true;  // a new connection: its first AUTH is not a re-AUTH
  auto last_status = std::chrono::steady_clock::now();
  while (!g_stop) {
    if (c == nullptr || c->err) {
      if (c) {
        redisFree(c);
        ++stats.reconnects;
      }
      c = redisConnect(host.c_str(), port);
      auth.authenticated = 0;
      fresh = true;
    }
    int reauthed = 0;
    const int rc = tokenwell_hiredis_check(&auth, c, &reauthed);
    if (reauthed && !fresh) ++stats.reauths;
    fresh = fresh && !reauthed;
    redisReply* r = nullptr;
    // No valid token at all (IdP down past expiry): send anyway, the server decides.
    if (rc == TOKENWELL_OK || rc == TOKENWELL_ENOVALUE)
      r = static_cast<redisReply*>(redisCommand(c, "INCR tokenwell-demo:counter"));
    if (r != nullptr && r->type != REDIS_REPLY_ERROR) {
      ++stats.ok;
    } else {
      ++stats.failed;
      stats.last_error = r && r->str ? r->str : c->err ? c->errstr : tokenwell_hiredis_strerror(rc);
      if (c->err == 0) c->err = REDIS_ERR_OTHER;  // re-open the connection for the next try
    }
    if (r) freeReplyObject(r);
    if (std::chrono::steady_clock::now() - last_status > std::chrono::milliseconds(500)) {
      write_status(status, stats, auth.generation);
      last_status = std::chrono::steady_clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // pacing: ~20 commands a second
  }
  write_status(status, stats, auth.generation);
  if (c) redisFree(c);
  tokenwell_close(tw);
  return 0;
}
