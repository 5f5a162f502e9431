// api_test_support.cpp -- see api_test_support.hpp.
#include "api_test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>
#include <stdexcept>

#include <boost/asio/buffer.hpp>
#include <nlohmann/json.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

namespace tw::testing {

namespace http = boost::beast::http;

// --- FakeBackend

std::uint64_t FakeBackend::publish(const std::string& name, const std::string& token,
                                   std::int64_t expires_at, const std::string& username) {
  std::lock_guard lock(mutex_);
  Item& item = items_[name];
  item.entry.name = name;
  item.entry.kind = Kind::credential;
  item.entry.username = username;
  item.entry.state = State::valid;
  item.entry.expires_at = expires_at;
  item.entry.source = "entra";
  ++item.entry.generation;
  item.token = Secret(token);
  return item.entry.generation;
}

void FakeBackend::add_pending(const std::string& name) {
  std::lock_guard lock(mutex_);
  Item& item = items_[name];
  item.entry = Entry{.name = name, .kind = Kind::credential, .state = State::pending,
                     .source = "entra"};
}

void FakeBackend::expire(const std::string& name) {
  std::lock_guard lock(mutex_);
  items_.at(name).entry.state = State::expired;
}

void FakeBackend::set_refresh_status(const std::string& name, std::int64_t last_refresh,
                                     const std::string& last_error, unsigned consecutive_failures,
                                     std::int64_t next_attempt) {
  std::lock_guard lock(mutex_);
  Entry& e = items_.at(name).entry;
  e.last_refresh = last_refresh;
  e.last_error = last_error;
  e.consecutive_failures = consecutive_failures;
  e.next_attempt = next_attempt;
}

void FakeBackend::add_keyset(const std::string& name, std::optional<std::string> jwks) {
  std::lock_guard lock(mutex_);
  Item& item = items_[name];
  item.entry = Entry{.name = name, .kind = Kind::keyset,
                     .state = jwks ? State::valid : State::pending, .generation = jwks ? 1u : 0u,
                     .source = "jwks"};
  item.jwks = std::move(jwks);
}

void FakeBackend::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  items_.erase(name);
}

void FakeBackend::set_refresh_reply(RefreshReply reply) {
  std::lock_guard lock(mutex_);
  refresh_reply_ = reply;
}

void FakeBackend::set_readiness(Readiness readiness) {
  std::lock_guard lock(mutex_);
  readiness_ = std::move(readiness);
}

bool FakeBackend::wait_for_lookups(const std::string& name, unsigned count,
                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return lookups_changed_.wait_for(lock, timeout, [&] {
    auto it = lookups_.find(name);
    return it != lookups_.end() && it->second >= count;
  });
}

std::vector<ApiBackend::Entry> FakeBackend::entries() const {
  std::lock_guard lock(mutex_);
  std::vector<Entry> out;
  for (const auto& [name, item] : items_) out.push_back(item.entry);
  return out;
}

ApiBackend::Lookup<ApiBackend::CredentialValue> FakeBackend::credential(
    std::string_view name) const {
  std::lock_guard lock(mutex_);
  ++lookups_[std::string(name)];
  lookups_changed_.notify_all();
  auto it = items_.find(name);
  if (it == items_.end() || it->second.entry.kind != Kind::credential) return Missing::unknown_name;
  const Item& item = it->second;
  if (item.entry.state != State::valid) return Missing::no_valid_value;
  return CredentialValue{.username = item.entry.username, .token = item.token,
                         .expires_at = item.entry.expires_at,
                         .generation = item.entry.generation};
}

ApiBackend::Lookup<std::string> FakeBackend::jwks(std::string_view keyset) const {
  std::lock_guard lock(mutex_);
  auto it = items_.find(keyset);
  if (it == items_.end() || it->second.entry.kind != Kind::keyset) return Missing::unknown_name;
  if (!it->second.jwks) return Missing::no_valid_value;
  return *it->second.jwks;
}

ApiBackend::RefreshReply FakeBackend::request_keyset_refresh(std::string_view keyset) {
  std::lock_guard lock(mutex_);
  auto it = items_.find(keyset);
  if (it == items_.end() || it->second.entry.kind != Kind::keyset)
    return {.answer = RefreshAnswer::unknown_name};
  return refresh_reply_;
}

void FakeBackend::set_sign_reply(SignAnswer answer, std::string token_or_error) {
  std::lock_guard lock(mutex_);
  sign_answer_ = answer;
  sign_text_ = std::move(token_or_error);
}

std::pair<std::string, std::int64_t> FakeBackend::last_sign_request() const {
  std::lock_guard lock(mutex_);
  return last_sign_;
}

ApiBackend::SignReply FakeBackend::sign(std::string_view keyset, std::string_view claims_json,
                                        std::int64_t ttl_seconds) {
  std::lock_guard lock(mutex_);
  auto it = items_.find(keyset);
  if (it == items_.end() || it->second.entry.kind != Kind::keyset) return {.answer = SignAnswer::unknown_name};
  last_sign_ = {std::string(claims_json), ttl_seconds};
  if (sign_answer_ == SignAnswer::signed_token) return {.answer = sign_answer_, .token = Secret(sign_text_)};
  return {.answer = sign_answer_, .error = sign_text_};
}

void FakeBackend::throw_on_readiness() {
  std::lock_guard lock(mutex_);
  throw_on_readiness_ = true;
}

ApiBackend::Readiness FakeBackend::readiness() const {
  std::lock_guard lock(mutex_);
  if (throw_on_readiness_) throw std::runtime_error("backend broke");
  return readiness_;
}

// --- LoopThread

LoopThread::LoopThread() : work_(io.get_executor()), thread_([this] { io.run(); }) {}

LoopThread::~LoopThread() { stop(); }

void LoopThread::wait(std::future<void>& finished) {
  if (finished.wait_for(10s) != std::future_status::ready) std::abort();
}

void LoopThread::stop() {
  work_.reset();
  io.stop();
  if (thread_.joinable()) thread_.join();
}

// --- TestClient

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(left.count(), 0));
}

}  // namespace

TestClient TestClient::unix_socket(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path.string();
  std::copy(p.begin(), p.end(), addr.sun_path);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0)
    return TestClient(fd);
  if (fd >= 0) ::close(fd);
  return TestClient(-1);
}

TestClient TestClient::tcp(const std::string& host, std::uint16_t port) {
  sockaddr_storage storage{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return TestClient(-1);
  }
  const int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&storage), len) == 0)
    return TestClient(fd);
  if (fd >= 0) ::close(fd);
  return TestClient(-1);
}

TestClient::TestClient(TestClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), pending_(std::move(other.pending_)) {}

TestClient& TestClient::operator=(TestClient&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    pending_ = std::move(other.pending_);
  }
  return *this;
}

TestClient::~TestClient() { close(); }

void TestClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool TestClient::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<Reply> TestClient::read_reply(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(16 * 1024 * 1024);
  char buf[4096];
  for (;;) {
    while (!pending_.empty()) {
      boost::system::error_code ec;
      const std::size_t used = parser.put(boost::asio::buffer(pending_), ec);
      pending_.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) return std::nullopt;
      if (parser.is_done()) return parser.release();
      if (used == 0) break;
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready <= 0) return std::nullopt;  // timed out
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Closed before a byte of an answer: no answer. (Beast's put_eof on a
      // parser that got nothing reports no error and leaves a default
      // response, a 200, which once made a refused probe look answered.)
      if (!parser.got_some()) return std::nullopt;
      boost::system::error_code ec;
      parser.put_eof(ec);
      if (!ec && parser.is_done()) return parser.release();
      return std::nullopt;
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<Reply> TestClient::request(std::string_view method, std::string_view target,
                                         std::chrono::milliseconds timeout,
                                         std::string_view extra_headers) {
  std::string text;
  text.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: tokenwell\r\n");
  if (!extra_headers.empty()) text.append(extra_headers).append("\r\n");
  text.append("\r\n");
  if (!send(text)) return std::nullopt;
  return read_reply(timeout);
}

bool TestClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready <= 0) return false;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
    if (n > 0) pending_.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<Reply> parse_reply(std::string_view raw) {
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(raw.data(), raw.size()), ec);
  if (!parser.got_some()) return std::nullopt;  // see read_reply()
  if (!parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return std::nullopt;
  return parser.release();
}

std::optional<Reply> get_unix(const std::filesystem::path& path, std::string_view target,
                              std::string_view method) {
  TestClient c = TestClient::unix_socket(path);
  if (!c.connected()) return std::nullopt;
  return c.request(method, target);
}

// --- odds and ends

TempDir::TempDir() {
  char templ[] = "/tmp/tw-api-XXXXXX";
  if (::mkdtemp(templ) == nullptr) std::abort();
  ::chmod(templ, 0755);
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::optional<double> metric_value(const std::string& scrape, std::string_view series) {
  std::istringstream in(scrape);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

LogCapture::LogCapture() {
  log::Options o;
  o.format = "json";
  o.level = "info";
  o.sink = [this](std::string_view line) {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(line);
  };
  log::init(o);
}

LogCapture::~LogCapture() { log::init({}); }

std::vector<std::string> LogCapture::json_lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

std::string LogCapture::text() const {
  std::string text;
  for (const auto& raw : json_lines()) {
    const auto j = nlohmann::ordered_json::parse(raw, nullptr, false);
    if (j.is_discarded()) {
      text += "(not JSON) " + raw + "\n";
      continue;
    }
    std::string line = j.value("level", "?") + " " + j.value("msg", "?");
    for (const auto& [key, value] : j.items()) {
      if (key == "ts" || key == "level" || key == "msg") continue;
      line += " " + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
    }
    text += line + "\n";
  }
  return text;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);  // polling a condition, not waiting out a time
  }
  return true;
}

bool ensure_open_files(std::size_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= needed) return true;
  if (limit.rlim_max < needed && limit.rlim_max != RLIM_INFINITY) {
    limit.rlim_max = needed;  // root may raise the hard limit too
  }
  limit.rlim_cur = needed;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

TestClient slowloris(const std::filesystem::path& socket) {
  TestClient c = TestClient::unix_socket(socket);
  c.send("GET /v1/credentials/redis HTTP/1.1\r\nX-Slow: a");
  return c;
}

// --- SocketApiTest

SocketApiOptions SocketApiTest::options() {
  SocketApiOptions o;
  o.path = socket_path();
  return o;
}

void SocketApiTest::open(SocketApiOptions o) {
  loop.run([&] { api.reset(); });
  auto opened = loop.run([&] { return SocketApi::open(loop.io, o, backend, metrics, time); });
  ASSERT_TRUE(opened) << opened.error().message;
  api = std::move(*opened);
}

void SocketApiTest::TearDown() {
  loop.stop();
  api.reset();  // the loop no longer runs: safe from this thread
}

}  // namespace tw::testing
