// The one scrubber (common/redaction.hpp): each form in which the agent sends
// a secret -- computed here the way the agent and other encoders produce it,
// not by the scrubber's own code -- and a secret cut short are gone, JWT
// shapes are gone, ordinary text is left alone.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/redaction.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/jose/jose.hpp"

namespace tw {
namespace {

// Letters, digits and the characters form encoding and JSON escape.
const std::string kSecret = "Qx9~Zk2.Lm7_Pw4-Rt8 Vb3+Nc6/Hd5=Jf1&Gs0\"Yq\\e\xc3\xa9";

std::string lower_hex(std::string s) {
  for (std::size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] == '%') {
      s[i + 1] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + 1])));
      s[i + 2] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + 2])));
    }
  }
  return s;
}

std::string plus_for_space(std::string s) {
  for (std::size_t pos; (pos = s.find("%20")) != std::string::npos;) s.replace(pos, 3, "+");
  return s;
}

std::string json_escaped(const std::string& s, bool ascii) {
  const std::string quoted = nlohmann::json(s).dump(-1, ' ', ascii);
  return quoted.substr(1, quoted.size() - 2);
}

// The secret as the agent's request body carries it, and as the IdP may echo it.
std::vector<std::pair<std::string, std::string>> encodings() {
  const std::string form(form_encode({{"client_secret", kSecret}}).reveal().substr(std::string("client_secret=").size()));
  return {
      {"raw", kSecret},
      {"form-encoded", form},
      {"form-encoded, lower-case hex", lower_hex(form)},
      {"form-encoded, + for space", plus_for_space(form)},
      {"base64", jose::base64_encode(kSecret)},
      {"base64url", jose::base64url_encode(kSecret)},
      {"JSON-escaped", json_escaped(kSecret, false)},
      {"JSON-escaped, ASCII", json_escaped(kSecret, true)},
  };
}

TEST(Redaction, EveryFormOfASecretIsRedacted) {
  for (const auto& [name, encoded] : encodings()) {
    SCOPED_TRACE(name);
    ASSERT_GE(encoded.size(), kShortestSecretPiece);
    const std::string text = "AADSTS7000215: request was client_id=a&client_secret=" + encoded + "&scope=x end";
    const std::string out = scrub_secrets(text, {kSecret});
    EXPECT_EQ(out, "AADSTS7000215: request was client_id=a&client_secret=[redacted]&scope=x end");
  }
}

TEST(Redaction, ASecretInsideALongerBase64BlobIsRedacted) {
  // A Basic header's "client:secret" puts the secret at every alignment.
  for (const std::string prefix : {"", "c", "cl", "cli"}) {
    for (const bool url : {false, true}) {
      SCOPED_TRACE(prefix + (url ? " base64url" : " base64"));
      const std::string blob = url ? jose::base64url_encode(prefix + ":" + kSecret) : jose::base64_encode(prefix + ":" + kSecret);
      const std::string out = scrub_secrets("Authorization: Basic " + blob, {kSecret});
      // Left of the blob: "prefix:"'s own characters, and at the end at most
      // one character holding a few of the secret's last bits, and padding.
      const std::size_t own = (8 * (prefix.size() + 1) + 5) / 6;
      EXPECT_LE(out.size(), std::string("Authorization: Basic [redacted]").size() + own + 3) << out;
      EXPECT_NE(out.find("[redacted]"), std::string::npos) << out;
    }
  }
}

TEST(Redaction, APieceOfASecretIsRedacted) {
  for (const auto& [name, encoded] : encodings()) {
    SCOPED_TRACE(name);
    // Cut by the IdP at the end of its text: kShortestSecret bytes are enough.
    EXPECT_EQ(scrub_secrets("secret=" + encoded.substr(0, kShortestSecret), {kSecret}), "secret=[redacted]");
    // Cut, then more text: kShortestSecretPiece bytes are a piece.
    EXPECT_EQ(scrub_secrets("secret=" + encoded.substr(0, kShortestSecretPiece) + "... (truncated)", {kSecret}),
              "secret=[redacted]... (truncated)");
  }
}

TEST(Redaction, AnExcerptIsScrubbedBeforeItIsCut) {
  const std::string form = encodings()[1].second;
  // The secret straddles the cut at every position.
  for (std::size_t at = 150; at < 200; ++at) {
    const std::string text = std::string(at, 'x') + "&client_secret=" + form + "&scope=" + std::string(300, 'y');
    const std::string out = scrubbed_excerpt(text, 200, {kSecret});
    EXPECT_LE(out.size(), 200u + kRedacted.size());
    EXPECT_TRUE(out.ends_with("...")) << out;
    // Not even the secret's first few characters are left.
    EXPECT_EQ(out.find(kSecret.substr(0, 3)), std::string::npos) << at << ": " << out;
  }
  // A text cut by the IdP before it reached the agent, then cut again here.
  const std::string cut_by_idp = "client_secret=" + form.substr(0, 6);
  EXPECT_EQ(scrubbed_excerpt(cut_by_idp, 200, {kSecret}), "client_secret=[redacted]");
}

TEST(Redaction, JwtShapesAreRedactedNamedOrNot) {
  const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
  EXPECT_EQ(scrub_secrets("assertion " + jwt + " refused"), "assertion [redacted] refused");
  // A named JWT, cut: its start is not a JWT shape long enough, but a piece of a secret.
  EXPECT_EQ(scrub_secrets("assertion=" + jwt.substr(0, 12), {jwt}), "assertion=[redacted]");
}

TEST(Redaction, OrdinaryTextAndShortSecretsAreLeftAlone) {
  const std::string text = "AADSTS7000215: Invalid client secret provided. Trace ID: 1f2e";
  EXPECT_EQ(scrub_secrets(text, {kSecret}), text);
  EXPECT_EQ(scrub_secrets(text, {"ID"}), text) << "shorter than kShortestSecret";
  EXPECT_EQ(scrubbed_excerpt("line one\r\nline two\n", 200), "line one line two");
}

}  // namespace
}  // namespace tw
