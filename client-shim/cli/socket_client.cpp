// socket_client.cpp -- see socket_client.hpp.
#include "socket_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace tw::cli {
namespace {

// The agent answers at once; a stuck agent must not hang a probe.
constexpr int kSocketTimeoutMs = 5000;
constexpr std::size_t kMaxResponseBytes = 8 << 20;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool wait_ready(int fd, short events) {
  pollfd p{fd, events, 0};
  int rc;
  do rc = ::poll(&p, 1, kSocketTimeoutMs);
  while (rc < 0 && errno == EINTR);
  return rc > 0;
}

}  // namespace

std::string SocketAnswer::error_text() const {
  const nlohmann::json e = nlohmann::json::parse(body, nullptr, false);
  if (!e.is_object() || !e.contains("error") || !e["error"].is_string()) return "";
  return e["error"].get<std::string>().substr(0, 200);
}

SocketAnswer socket_request(const std::string& socket_path, std::string_view method, std::string_view target,
                            std::string_view body) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) throw SocketError{"socket path too long"};
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw SocketError{std::string("socket: ") + std::strerror(errno)};
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw SocketError{std::string("connect: ") + std::strerror(errno)};

  std::string request = std::string(method) + " " + std::string(target) +
                        " HTTP/1.1\r\nHost: tokenwell\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST")
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n";
  request += body;
  for (std::size_t sent = 0; sent < request.size();) {
    if (!wait_ready(fd.get(), POLLOUT)) throw SocketError{"timed out sending the request"};
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SocketError{std::string("send: ") + std::strerror(errno)};
    sent += static_cast<std::size_t>(n);
  }

  std::string response;
  char buffer[16384];
  for (;;) {
    if (!wait_ready(fd.get(), POLLIN)) throw SocketError{"no answer within 5 s"};
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SocketError{std::string("recv: ") + std::strerror(errno)};
    if (n == 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
    if (response.size() > kMaxResponseBytes) throw SocketError{"answer too large"};
  }

  const std::size_t head_end = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.") || head_end == std::string::npos || response.size() < 12)
    throw SocketError{"not an HTTP answer"};
  SocketAnswer answer;
  const std::string code = response.substr(9, 3);
  for (const char c : code) {
    if (c < '0' || c > '9') throw SocketError{"not an HTTP answer"};
    answer.status = answer.status * 10 + (c - '0');
  }
  answer.body = response.substr(head_end + 4);
  return answer;
}

std::string socket_get(const std::string& socket_path, std::string_view target) {
  SocketAnswer a = socket_request(socket_path, "GET", target);
  if (a.status != 200) {
    const std::string why = a.error_text();
    throw SocketError{"HTTP " + std::to_string(a.status) + (why.empty() ? "" : ": " + quote(why))};
  }
  return std::move(a.body);
}

}  // namespace tw::cli
