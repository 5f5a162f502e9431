// read_bench.cpp -- getting a 2 KiB token three ways, in one run:
//   Segment*     tokenwell_read_entry() from the shared-memory segment (tokenwell)
//   UnixSocket*  one request/response over a keep-alive Unix stream socket
//                (the best case of an agent that serves tokens on a socket)
//   FileReread*  open + read + close of a file on tmpfs (a file-sink agent)
// each with 1 and 2 threads, and the segment also while a writer publishes
// a new value 1000 times a second. bench/run.sh runs it; results and the
// command are in docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

namespace {

constexpr std::size_t kTokenSize = 2048;

std::string make_token(char fill) { return std::string(kTokenSize, fill); }

// Everything the benchmarks share, set up once per process.
class World {
 public:
  static World& get() {
    static World w;
    return w;
  }

  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& token_file() const { return file_; }
  const std::filesystem::path& socket_path() const { return sock_; }

  // Starts/stops a writer thread publishing 1000 new values per second.
  void rotate(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    if (on == rotating_.load()) return;
    if (on) {
      rotating_ = true;
      rotator_ = std::thread([this] {
        auto next = std::chrono::steady_clock::now();
        char fill = 'a';
        while (rotating_) {
          publish(make_token(fill));
          fill = fill == 'z' ? 'a' : static_cast<char>(fill + 1);
          rotations_++;
          next += std::chrono::milliseconds(1);
          std::this_thread::sleep_until(next);
        }
      });
    } else {
      rotating_ = false;
      rotator_.join();
    }
  }
  std::uint64_t rotations() const { return rotations_; }

 private:
  World() {
    char tmpl[] = "/dev/shm/tokenwell-bench-XXXXXX";  // tmpfs, like /run/tokenwell
    dir_ = mkdtemp(tmpl);
    file_ = dir_ / "token";
    sock_ = dir_ / "agent.sock";
    auto w = tw::SegmentWriter::open(dir_, {4, 4096}, clock_);
    if (!w) std::abort();
    writer_ = std::move(*w);
    publish(make_token('t'));
    std::ofstream(file_) << make_token('t');
    start_socket_server();
  }
  ~World() {
    if (rotating_) rotate(false);
    server_stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    if (server_.joinable()) server_.join();
    std::filesystem::remove_all(dir_);
  }

  void publish(const std::string& token) {
    tw::SlotValue v;
    v.username = "5b2c1d4e-7f80-4a9b-8c7d-6e5f4a3b2c1d";
    v.secret = token;
    v.expires_at = clock_.unix_seconds() + 3600;
    (void)writer_->publish("redis", v);
  }

  // A minimal HTTP/1.1 keep-alive server: one thread per connection, a fixed
  // 2 KiB response per request line block. It does less work than a real
  // agent's HTTP stack would, so the comparison favours the socket.
  void start_socket_server() {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, sock_.c_str(), sizeof addr.sun_path - 1);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 16) != 0)
      std::abort();
    const std::string body = make_token('t');
    response_ = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
    server_ = std::thread([this] {
      std::vector<std::thread> conns;
      while (!server_stop_) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) break;
        conns.emplace_back([this, fd] {
          char buf[4096];
          std::string pending;
          for (;;) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) break;
            pending.append(buf, static_cast<std::size_t>(n));
            std::size_t end;
            while ((end = pending.find("\r\n\r\n")) != std::string::npos) {
              pending.erase(0, end + 4);
              if (write(fd, response_.data(), response_.size()) < 0) break;
            }
          }
          close(fd);
        });
      }
      for (auto& c : conns) c.join();
    });
  }

  tw::SystemClock clock_;
  std::filesystem::path dir_, file_, sock_;
  std::unique_ptr<tw::SegmentWriter> writer_;
  std::mutex mu_;
  std::atomic<bool> rotating_{false};
  std::atomic<std::uint64_t> rotations_{0};
  std::thread rotator_;
  int listen_fd_ = -1;
  std::atomic<bool> server_stop_{false};
  std::thread server_;
  std::string response_;
};

void segment_read(benchmark::State& state, bool rotating) {
  World& w = World::get();
  if (state.thread_index() == 0) w.rotate(rotating);
  tokenwell* tw = nullptr;
  if (tokenwell_open(w.dir().c_str(), &tw) != TOKENWELL_OK) {
    state.SkipWithError("cannot open the segment");
    return;
  }
  char token[4096];
  char user[TOKENWELL_USERNAME_MAX + 1];
  std::size_t bad = 0;
  for (auto _ : state) {
    tokenwell_entry e{};
    e.struct_size = sizeof e;
    e.secret = token;
    e.secret_size = sizeof token;
    e.username = user;
    e.username_size = sizeof user;
    int rc = tokenwell_read_entry(tw, "redis", TOKENWELL_KIND_CREDENTIAL, &e);
    bad += (rc != TOKENWELL_OK || e.secret_len != kTokenSize);
    benchmark::DoNotOptimize(token);
  }
  tokenwell_close(tw);
  if (bad) state.SkipWithError("a read failed");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kTokenSize));
  if (state.thread_index() == 0 && rotating) w.rotate(false);
}

void BM_SegmentRead(benchmark::State& state) { segment_read(state, false); }
void BM_SegmentReadWhileRotating1kHz(benchmark::State& state) { segment_read(state, true); }

void BM_UnixSocketRequest(benchmark::State& state) {
  World& w = World::get();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, w.socket_path().c_str(), sizeof addr.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    state.SkipWithError("cannot connect");
    return;
  }
  const std::string request = "GET /v1/credentials/redis HTTP/1.1\r\nHost: tokenwell\r\n\r\n";
  std::vector<char> buf(8192);
  std::size_t bad = 0;
  for (auto _ : state) {
    if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) ++bad;
    // Read the headers and exactly Content-Length body bytes.
    std::size_t got = 0, need = 0, header_end = 0;
    while (need == 0 || got < header_end + need) {
      ssize_t n = read(fd, buf.data() + got, buf.size() - got);
      if (n <= 0) {
        ++bad;
        break;
      }
      got += static_cast<std::size_t>(n);
      if (need == 0) {
        const std::string_view view(buf.data(), got);
        const auto end = view.find("\r\n\r\n");
        if (end == std::string_view::npos) continue;
        header_end = end + 4;
        const auto cl = view.find("Content-Length: ");
        need = std::strtoul(buf.data() + cl + 16, nullptr, 10);
      }
    }
    bad += (need != kTokenSize);
    benchmark::DoNotOptimize(buf.data());
  }
  close(fd);
  if (bad) state.SkipWithError("a request failed");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kTokenSize));
}

void BM_FileReread(benchmark::State& state) {
  World& w = World::get();
  char buf[4096];
  std::size_t bad = 0;
  for (auto _ : state) {
    int fd = open(w.token_file().c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    bad += (n != static_cast<ssize_t>(kTokenSize));
    benchmark::DoNotOptimize(buf);
  }
  if (bad) state.SkipWithError("a read failed");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kTokenSize));
}

BENCHMARK(BM_SegmentRead)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_SegmentReadWhileRotating1kHz)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_UnixSocketRequest)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_FileReread)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
