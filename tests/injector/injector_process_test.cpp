// The real tokenwell-injector binary as a child process, over real TLS:
// the serving certificate replaced on disk (the kubelet's atomic swap, and
// two plain renames) is presented from the next handshake on while requests
// keep flowing without one failure; bad requests over the wire; SIGTERM
// drains; start-up errors; no pod content in the log.
//
// Waiting is bounded (pidfd polls of 10 ms, request deadlines), never a sleep.
#include <signal.h>

#include <atomic>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "agent/sources/entra/entra_test_support.hpp"
#include "https_test_client.hpp"
#include "injector_test_support.hpp"
#include "support/test_util.hpp"
#include "support/child_process.hpp"

namespace tw::injector::test {
namespace {

namespace fs = std::filesystem;
using tw::test::Child;
using tw::test::read_file;

// A metric's value in a scrape (-1 when absent).
double metric(const std::string& scrape, const std::string& series) {
  std::istringstream in(scrape);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

class InjectorProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(dir_ / "tls");
    first_ = tw::test::make_test_certificate(2048, 3600, "EC");
    tls_.write({{"tls.crt", first_.cert_pem}, {"tls.key", first_.key_pem}});
  }

  fs::path err() const { return dir_ / "err"; }

  // Starts the injector on a free port; false (with the reason) if it did not come up.
  bool start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {TOKENWELL_INJECTOR, "--sidecar-spec", (test_dir() / "sidecar-spec.json").string(),
                                     "--tls-cert", tls_.path("tls.crt").string(), "--tls-key",
                                     tls_.path("tls.key").string(), "--listen", "127.0.0.1:0", "--drain-seconds", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    injector_ = std::make_unique<Child>(args, dir_ / "out", err());
    const std::regex serving(R"re("msg":"tokenwell-injector serving".*"port":(\d+))re");
    for (int i = 0; i < 1000; ++i) {  // 10 ms per look, 10 s at most
      std::smatch m;
      const std::string log = read_file(err());
      if (std::regex_search(log, m, serving)) {
        port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
        return true;
      }
      if (injector_->wait_exit(10) >= 0) break;
    }
    ADD_FAILURE() << "the injector did not start; stderr:\n" << read_file(err());
    return false;
  }

  HttpsTestClient client() {
    std::string why;
    auto c = HttpsTestClient::connect(port_, &why);
    if (!c) throw std::runtime_error("connect: " + why);
    return std::move(*c);
  }

  std::string scrape() {
    auto reply = client().request(http::verb::get, "/metrics");
    return reply ? reply->body() : "";
  }

  std::string der_of(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    std::string der(static_cast<std::size_t>(i2d_X509(x, nullptr)), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(x, &p);
    X509_free(x);
    return der;
  }

  tw::test::TempDir dir_;
  tw::test::ProjectedVolume tls_{dir_ / "tls"};
  tw::test::TestCertificate first_;
  std::unique_ptr<Child> injector_;
  std::uint16_t port_ = 0;
};

TEST_F(InjectorProcess, ReplacedCertificateIsPresentedFromTheNextHandshakeAndNoRequestFails) {
  ASSERT_TRUE(start());
  EXPECT_EQ(client().peer_certificate_der(), first_.der);

  // Requests on fresh connections (a handshake each) and on one kept-alive
  // connection, all the time the files change underneath.
  const std::string body = admission_review(load_pod("deployment-pod.json")).dump();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::vector<std::string> failures;
  std::thread traffic([&] {
    std::string why;
    auto kept = HttpsTestClient::connect(port_, &why);
    if (!kept) failures.push_back("connect: " + why);
    while (!stop && kept) {
      for (HttpsTestClient* c : {&*kept, static_cast<HttpsTestClient*>(nullptr)}) {
        std::optional<HttpsTestClient> fresh;
        if (c == nullptr) {
          fresh = HttpsTestClient::connect(port_, &why);
          if (!fresh) {
            failures.push_back("handshake: " + why);
            continue;
          }
          c = &*fresh;
        }
        auto reply = c->request(http::verb::post, "/mutate", body, &why);
        if (!reply) failures.push_back("request: " + why);
        else if (reply->result_int() != 200 || reply->body().find("\"patch\"") == std::string::npos)
          failures.push_back("answer " + std::to_string(reply->result_int()) + ": " + reply->body());
        else ++ok;
      }
    }
  });
  const auto wait_for_traffic = [&](int at_least) {
    for (int i = 0; i < 1000 && ok < at_least; ++i) injector_->wait_exit(10);
  };
  wait_for_traffic(20);

  // 1. The kubelet's way: both files change at once (..data swap).
  const auto second = tw::test::make_test_certificate(2048, 7200, "EC");
  tls_.write({{"tls.crt", second.cert_pem}, {"tls.key", second.key_pem}});
  EXPECT_EQ(client().peer_certificate_der(), second.der) << "the next handshake after the swap";
  wait_for_traffic(ok + 20);

  // 2. Two plain renames: between them the key does not match the
  // certificate; that pair is refused and the previous one keeps serving.
  const auto third = tw::test::make_test_certificate(2048, 10800, "EC");
  tw::test::write_file(dir_ / "cert.pem", third.cert_pem);
  tw::test::write_file(dir_ / "key.pem", third.key_pem);
  fs::rename(dir_ / "cert.pem", tls_.path("tls.crt"));  // replaces the symlink
  EXPECT_EQ(client().peer_certificate_der(), second.der) << "half a rotation: the previous pair serves";
  wait_for_traffic(ok + 20);
  fs::rename(dir_ / "key.pem", tls_.path("tls.key"));
  EXPECT_EQ(client().peer_certificate_der(), third.der) << "the next handshake after both renames";
  wait_for_traffic(ok + 20);

  // 3. A file that is not a certificate: refused, the third keeps serving.
  tw::test::write_file(tls_.path("tls.crt"), "-----BEGIN CERTIFICATE-----\nnot base64\n");
  EXPECT_EQ(client().peer_certificate_der(), third.der);
  wait_for_traffic(ok + 20);

  stop = true;
  traffic.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_GE(ok, 100);

  const std::string metrics = scrape();
  EXPECT_EQ(metric(metrics, "tokenwell_injector_tls_reloads_total{result=\"success\"}"), 2) << metrics;
  EXPECT_EQ(metric(metrics, "tokenwell_injector_tls_reloads_total{result=\"failure\"}"), 2) << metrics;
  EXPECT_EQ(metric(metrics, "tokenwell_injector_admission_requests_total{result=\"patched\"}"), ok.load());
  const std::string log = read_file(err());
  EXPECT_NE(log.find("TLS certificate not reloaded; the previous one keeps serving"), std::string::npos) << log;
  EXPECT_EQ(log.find("BEGIN"), std::string::npos) << "no certificate or key content in the log";
}

TEST_F(InjectorProcess, BadRequestsOverTheWire) {
  ASSERT_TRUE(start());
  // 3 MiB: answered 400 by the listener before the body is read; the
  // client still reads the answer (the injector drains, then closes).
  std::string why;
  auto big = client().request(http::verb::post, "/mutate", std::string(3 * 1024 * 1024, '{'), &why);
  ASSERT_TRUE(big) << why;
  EXPECT_EQ(big->result_int(), 400);
  EXPECT_NE(big->body().find("request body larger than 2097152 bytes"), std::string::npos) << big->body();

  auto malformed = client().request(http::verb::post, "/mutate", "{\"apiVersion\": ", &why);
  ASSERT_TRUE(malformed) << why;
  EXPECT_EQ(malformed->result_int(), 400);
  EXPECT_NE(malformed->body().find("not valid JSON"), std::string::npos);

  auto not_http = client().raw("\x16\x03\x01 this is not HTTP\r\n\r\n", &why);
  ASSERT_TRUE(not_http) << why;
  EXPECT_EQ(not_http->result_int(), 400);

  HttpsTestClient c = client();  // one kept-alive connection for the rest
  EXPECT_EQ(c.request(http::verb::get, "/mutate")->result_int(), 405);
  EXPECT_EQ(c.request(http::verb::get, "/v1/credentials/redis")->result_int(), 404);
  EXPECT_EQ(c.request(http::verb::get, "/healthz")->body(), "ok\n");
  EXPECT_EQ(c.request(http::verb::get, "/readyz")->result_int(), 200);
  json pod = load_pod("job-pod.json");
  pod["metadata"]["annotations"]["tokenwell.io/sidecar-mode"] = "classic";
  pod["spec"]["containers"][0]["env"] = json::array({{{"name", "API_KEY"}, {"value", "s3cr3t-in-the-pod"}}});
  auto refused = c.request(http::verb::post, "/mutate", admission_review(pod).dump());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->result_int(), 200);
  EXPECT_NE(refused->body().find("\"allowed\":false"), std::string::npos) << refused->body();

  const std::string metrics = scrape();
  EXPECT_EQ(metric(metrics, "tokenwell_injector_admission_requests_total{result=\"invalid\"}"), 2) << metrics;
  EXPECT_EQ(metric(metrics, "tokenwell_injector_admission_requests_total{result=\"refused\"}"), 1) << metrics;
  EXPECT_EQ(metric(metrics, "tokenwell_injector_ready"), 1);
  EXPECT_EQ(metric(metrics, "tokenwell_build_info{version=\"0.1.0\"}"), 1);
  const std::string log = read_file(err());
  EXPECT_NE(log.find("pod refused"), std::string::npos) << log;
  EXPECT_EQ(log.find("s3cr3t-in-the-pod"), std::string::npos) << "pod content in the log:\n" << log;
  EXPECT_TRUE(injector_->running());
}

TEST_F(InjectorProcess, SigtermDrainsThenExits) {
  ASSERT_TRUE(start());
  HttpsTestClient kept = client();
  ASSERT_EQ(kept.request(http::verb::get, "/readyz")->result_int(), 200);
  injector_->kill(SIGTERM);
  // Not ready at once, yet still answering (the Service is still sending).
  std::optional<Reply> ready;
  for (int i = 0; i < 100; ++i) {
    ready = client().request(http::verb::get, "/readyz");
    if (ready && ready->result_int() == 503) break;
    injector_->wait_exit(10);
  }
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->result_int(), 503);
  auto during = kept.request(http::verb::post, "/mutate", admission_review(load_pod("job-pod.json")).dump());
  ASSERT_TRUE(during);
  EXPECT_EQ(during->result_int(), 200);
  EXPECT_EQ(metric(scrape(), "tokenwell_injector_ready"), 0);
  EXPECT_EQ(injector_->wait_exit(10000), 0) << read_file(err());
  EXPECT_NE(read_file(err()).find("tokenwell-injector stopped"), std::string::npos);
}

TEST_F(InjectorProcess, StartupErrorsNameTheFile) {
  const auto other = tw::test::make_test_certificate(2048, 3600, "EC");
  tls_.write({{"tls.crt", first_.cert_pem}, {"tls.key", other.key_pem}});
  Child mismatched({TOKENWELL_INJECTOR, "--sidecar-spec", (test_dir() / "sidecar-spec.json").string(), "--tls-cert",
                    tls_.path("tls.crt").string(), "--tls-key", tls_.path("tls.key").string(), "--listen",
                    "127.0.0.1:0"},
                   dir_ / "out", err());
  EXPECT_EQ(mismatched.wait_exit(10000), 1);
  EXPECT_NE(read_file(err()).find("does not belong to certificate"), std::string::npos) << read_file(err());

  Child no_spec({TOKENWELL_INJECTOR, "--sidecar-spec", (dir_ / "missing.json").string(), "--tls-cert",
                 tls_.path("tls.crt").string(), "--tls-key", tls_.path("tls.key").string()},
                dir_ / "out", dir_ / "err2");
  EXPECT_EQ(no_spec.wait_exit(10000), 1);
  EXPECT_NE(read_file(dir_ / "err2").find("missing.json: not readable"), std::string::npos);

  Child no_tls({TOKENWELL_INJECTOR, "--sidecar-spec", (test_dir() / "sidecar-spec.json").string()}, dir_ / "out",
               dir_ / "err3");
  EXPECT_EQ(no_tls.wait_exit(10000), 2);
  EXPECT_NE(read_file(dir_ / "err3").find("HTTPS only"), std::string::npos);

  Child check({TOKENWELL_INJECTOR, "--sidecar-spec", (test_dir() / "sidecar-spec.json").string(), "--check"},
              dir_ / "out4", dir_ / "err4");
  EXPECT_EQ(check.wait_exit(10000), 0) << read_file(dir_ / "err4");
  EXPECT_NE(read_file(dir_ / "out4").find("sidecar spec ok"), std::string::npos);
}

}  // namespace
}  // namespace tw::injector::test
