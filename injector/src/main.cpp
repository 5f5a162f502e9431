// main.cpp -- tokenwell-injector's command line (docs/injector.md):
//   tokenwell-injector --sidecar-spec FILE --tls-cert FILE --tls-key FILE [options]
#include <signal.h>

#include <charconv>
#include <functional>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/injector/admission.hpp"
#include "tokenwell/injector/certificate_store.hpp"
#include "tokenwell/injector/https_server.hpp"
#include "tokenwell/injector/injector_metrics.hpp"
#include "tokenwell/injector/injector_routes.hpp"
#include "tokenwell/injector/sidecar_spec.hpp"
#include "tokenwell/version.h"
#include "tokenwell/tokenwell.h"

namespace {

constexpr const char* kUsage =
    "usage: tokenwell-injector --sidecar-spec FILE --tls-cert FILE --tls-key FILE [options]\n"
    "  --sidecar-spec FILE   the sidecar the chart rendered (sidecar.json of the injector's ConfigMap)\n"
    "  --tls-cert FILE       the serving certificate (PEM, with intermediates); re-read when it changes\n"
    "  --tls-key FILE        its private key (PEM)\n"
    "  --listen HOST:PORT    HTTPS address for /mutate, /healthz, /readyz, /metrics (default 0.0.0.0:8443)\n"
    "  --threads N           threads serving connections (default 2)\n"
    "  --drain-seconds S     after SIGTERM, answer /readyz 503 but keep serving for S seconds,\n"
    "                        so the Service stops sending before the listener closes (default 5)\n"
    "  --log-level LEVEL     trace, debug, info, warn or error (default info)\n"
    "  --log-format FORMAT   json or text (default json)\n"
    "  --check               load the spec (and the TLS pair, if given), print what is wrong, exit 0 or 1\n"
    "  --version, --help\n";

int usage_error(const std::string& what) {
  std::cerr << "tokenwell-injector: " << what << "\n" << kUsage;
  return 2;
}

bool parse_count(std::string_view text, int lo, int hi, int& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= lo && out <= hi;
}

}  // namespace

int main(int argc, char** argv) {
  namespace inj = tw::injector;
  std::string spec_path, cert_path, key_path, listen = "0.0.0.0:8443", log_level = "info", log_format = "json";
  int threads = 2, drain_seconds = 5;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string number;
    if (a == "--sidecar-spec") {
      if (!value(spec_path)) return usage_error("--sidecar-spec needs a FILE");
    } else if (a == "--tls-cert") {
      if (!value(cert_path)) return usage_error("--tls-cert needs a FILE");
    } else if (a == "--tls-key") {
      if (!value(key_path)) return usage_error("--tls-key needs a FILE");
    } else if (a == "--listen") {
      if (!value(listen)) return usage_error("--listen needs HOST:PORT");
    } else if (a == "--threads") {
      if (!value(number) || !parse_count(number, 1, 64, threads))
        return usage_error("--threads needs a number from 1 to 64");
    } else if (a == "--drain-seconds") {
      if (!value(number) || !parse_count(number, 0, 300, drain_seconds))
        return usage_error("--drain-seconds needs a number from 0 to 300");
    } else if (a == "--log-level") {
      if (!value(log_level)) return usage_error("--log-level needs a LEVEL");
    } else if (a == "--log-format") {
      if (!value(log_format)) return usage_error("--log-format needs json or text");
    } else if (a == "--check") {
      check = true;
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--version") {
      std::cout << "tokenwell-injector " << TOKENWELL_VERSION_STRING << "\n";
      return 0;
    } else {
      return usage_error("unknown argument '" + std::string(a) + "'");
    }
  }
  if (log_level != "trace" && log_level != "debug" && log_level != "info" && log_level != "warn" &&
      log_level != "error")
    return usage_error("unknown log level '" + log_level + "'");
  if (log_format != "json" && log_format != "text") return usage_error("unknown log format '" + log_format + "'");
  if (spec_path.empty()) return usage_error("--sidecar-spec FILE is required");
  if (!check && (cert_path.empty() || key_path.empty()))
    return usage_error("--tls-cert and --tls-key are required: the API server calls webhooks over HTTPS only");
  if (cert_path.empty() != key_path.empty()) return usage_error("--tls-cert and --tls-key go together");
  tw::log::init({.format = log_format, .level = log_level});

  auto spec = inj::load_sidecar_spec(spec_path);
  if (!spec) {
    std::cerr << "tokenwell-injector: sidecar spec " << spec.error().message << "\n";
    return 1;
  }
  inj::InjectorMetrics metrics(TOKENWELL_VERSION_STRING);
  auto certificates = inj::CertificateStore::open(
      {cert_path, key_path}, [&metrics](const inj::CertificateLoad& load) {
        metrics.tls_reload(load.ok);
        if (load.ok) {
          metrics.tls_certificate_expires(static_cast<double>(load.not_after));
          tw::log::info("TLS certificate reloaded", {{"subject", load.subject}, {"not_after", load.not_after}});
        } else {
          tw::log::warn("TLS certificate not reloaded; the previous one keeps serving", {{"error", load.error}});
        }
      });
  if (check) {
    if (!cert_path.empty() && !certificates) {
      std::cerr << "tokenwell-injector: " << certificates.error().message << "\n";
      return 1;
    }
    std::cout << "tokenwell-injector: sidecar spec ok (" << inj::to_string(spec->default_mode())
              << " by default, container '" << spec->container_name() << "')\n";
    return 0;
  }
  if (!certificates) {
    std::cerr << "tokenwell-injector: " << certificates.error().message << "\n";
    return 1;
  }
  const inj::CertificateLoad first = (*certificates)->in_use();
  metrics.tls_certificate_expires(static_cast<double>(first.not_after));

  boost::asio::io_context io(threads);
  inj::InjectorRoutes routes(*spec, metrics);
  inj::HttpsServerOptions options;
  options.listen = listen;
  options.limits.max_body_bytes = inj::kMaxReviewBytes;
  options.limits.max_connections = 1024;
  // Longer than the API server's idle timeout for webhook connections
  // (90 s), so it is the client that closes an idle connection, never the
  // injector while a request may be on its way.
  options.limits.idle_timeout = std::chrono::seconds(120);
  auto server = inj::HttpsServer::open(io, options, **certificates, routes);
  if (!server) {
    std::cerr << "tokenwell-injector: " << server.error().message << "\n";
    return 1;
  }
  tw::log::info("tokenwell-injector serving",
                {{"version", TOKENWELL_VERSION_STRING}, {"listen", listen}, {"port", (*server)->port()},
                 {"default_mode", inj::to_string(spec->default_mode())}, {"threads", threads},
                 {"certificate", first.subject}, {"not_after", first.not_after}});

  // SIGTERM: not ready at once (the endpoints controller takes the pod out
  // of the Service), keep serving for the drain time, then stop. A second
  // signal stops without waiting.
  // Both on one strand: a signal and the drain timer never race.
  auto control = boost::asio::make_strand(io);
  boost::asio::signal_set signals(control, SIGTERM, SIGINT);
  boost::asio::steady_timer drain(control);
  bool stopping = false;
  const auto stop = [&] {
    (*server)->stop([&] {
      signals.cancel();
      io.stop();
    });
  };
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (stopping) {
          tw::log::info("second signal; stopping now", {{"signal", signal}});
          drain.cancel();
          stop();
          return;
        }
        stopping = true;
        routes.set_ready(false);
        tw::log::info("draining before exit", {{"signal", signal}, {"drain_seconds", drain_seconds}});
        drain.expires_after(std::chrono::seconds(drain_seconds));
        drain.async_wait([&](const boost::system::error_code& wait_ec) {
          if (!wait_ec) stop();
        });
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& w : workers) w.join();
  tw::log::info("tokenwell-injector stopped");
  return 0;
}
