// standin_process.hpp -- the Entra ID stand-in (tests/fakes/entra_standin.py)
// as a child process with its own state directory, and its admin API: fault
// injection, federated tokens, the request log.
//
//   StandIn idp(dir / "standin");
//   idp.fault({{"target", "token"}, {"mode", "status"}, {"status", 429}, {"count", 1}});
//   auto requests = idp.token_requests();
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "entra_test_support.hpp"
#include "tokenwell/agent/http/http_client.hpp"

extern char** environ;

namespace tw {

using namespace std::chrono_literals;

// One stand-in process with its own state directory, stopped on destruction.
class StandIn {
  using json = nlohmann::json;

 public:
  explicit StandIn(const std::filesystem::path& dir) : dir_(dir) {
    std::filesystem::create_directories(dir);
    const std::string log = (dir / "standin.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {TOKENWELL_PYTHON3, TOKENWELL_ENTRA_STANDIN, "--port", "0", "--state-dir",
                                     dir.string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + std::string(TOKENWELL_PYTHON3));
    // Start-up (RSA keys, certificates) takes well under a second; allow 30.
    const auto state = dir / "standin.json";
    for (int i = 0; i < 600 && !std::filesystem::exists(state); ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("stand-in exited during start-up:\n" + test::read_file(log));
      }
      std::this_thread::sleep_for(50ms);
    }
    info_ = json::parse(test::read_file(state));
  }
  ~StandIn() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(20ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  StandIn(const StandIn&) = delete;
  StandIn& operator=(const StandIn&) = delete;

  const json& info() const { return info_; }
  std::string base_url() const { return info_["base_url"]; }
  std::string http_base_url() const { return info_["http_base_url"]; }
  std::string ca_file() const { return info_["ca_file"]; }
  std::string tenant() const { return info_["tenant"]; }
  std::string client_id() const { return info_["client_id"]; }
  std::string oid() const { return info_["oid"]; }
  std::string file(const char* name) const { return info_["files"][name]; }

  // A config entry for an `entra` credential against this stand-in.
  json entra_credential(const std::string& name, const json& auth) const {
    return {{"name", name},         {"source", "entra"},        {"tenant_id", tenant()},
            {"client_id", client_id()}, {"authority_host", base_url()}, {"ca_file", ca_file()},
            {"auth", auth}};
  }

  json admin(HttpMethod method, const std::string& path, const json& body = json::object()) {
    HttpRequest r;
    r.method = method;
    r.url = info_["admin_url"].get<std::string>() + path;
    if (method == HttpMethod::post) r.body = Secret(body.dump());
    r.timeout = 10s;
    auto response = admin_http_.send(r);
    if (!response) throw std::runtime_error("admin " + path + ": " + response.error().message);
    if (response->status != 200) throw std::runtime_error("admin " + path + ": HTTP " + std::to_string(response->status));
    return json::parse(response->body.reveal());
  }
  void fault(const json& f) { admin(HttpMethod::post, "/fault", f); }
  std::string federated_token(const json& request = json::object()) {
    return admin(HttpMethod::post, "/federated_token", request)["token"];
  }
  std::vector<json> token_requests() {
    std::vector<json> out;
    for (auto& r : admin(HttpMethod::get, "/requests"))
      if (r.value("target", "") == "token") out.push_back(r);
    return out;
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  json info_;
  CurlHttpClient admin_http_;
};

}  // namespace tw
