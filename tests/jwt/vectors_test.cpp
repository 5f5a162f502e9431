// The example signatures of RFC 7515 (appendix A.1-A.3), RFC 7520 (4.1, 4.4)
// and RFC 8037 (A.4) verify, at the time the examples were written.
#include <gtest/gtest.h>

#include "tokenwell/jose/jose.hpp"
#include "tokenwell/jwt.h"

namespace tw::jose {
namespace {

// RFC 7515 A.1-A.3 sign this payload, with CR LF inside the JSON.
constexpr std::string_view kRfc7515Claims =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
constexpr std::string_view kRfc7515Payload =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::int64_t kBeforeExp = 1300819380 - 3600;

std::string verify_at(const std::string& jwks, const std::string& token, std::int64_t now) {
  return verify_jwt(KeySet::parse(jwks), token, {.now = now});
}

TEST(Rfc7515, A1Hs256) {
  const std::string jwk =
      R"({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})";
  const std::string token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." +
                            std::string(kRfc7515Payload) +
                            ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  EXPECT_EQ(verify_at(jwk, token, kBeforeExp), kRfc7515Claims);
  // The same token an hour after exp: expired, not "bad signature".
  try {
    verify_at(jwk, token, 1300819380 + 3600);
    FAIL() << "expired token accepted";
  } catch (const Rejection& r) {
    EXPECT_EQ(r.code, TOKENWELL_JWT_EEXPIRED);
  }
}

const std::string kRfc7515RsaN =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-"
    "yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-"
    "KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

TEST(Rfc7515, A2Rs256) {
  const std::string jwk = R"({"kty":"RSA","e":"AQAB","n":")" + kRfc7515RsaN + "\"}";
  const std::string token =
      "eyJhbGciOiJSUzI1NiJ9." + std::string(kRfc7515Payload) +
      ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_"
      "O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_"
      "eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_"
      "IoypGlUPQGe77Rw";
  EXPECT_EQ(verify_at(jwk, token, kBeforeExp), kRfc7515Claims);
}

TEST(Rfc7515, A3Es256) {
  const std::string jwk =
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";
  const std::string token =
      "eyJhbGciOiJFUzI1NiJ9." + std::string(kRfc7515Payload) +
      ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  EXPECT_EQ(verify_at(jwk, token, kBeforeExp), kRfc7515Claims);
}

// RFC 7520 section 4 signs a text, not JWT claims: verify_jws checks only the
// signature and header.
constexpr std::string_view kRfc7520Payload =
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUg"
    "cm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0"
    "IGJlIHN3ZXB0IG9mZiB0by4";
constexpr std::string_view kRfc7520Text =
    "It\xe2\x80\x99s a dangerous business, Frodo, going out your door. You step onto the road, and if you "
    "don't keep your feet, there\xe2\x80\x99s no knowing where you might be swept off to.";

TEST(Rfc7520, Section41Rs256) {
  const std::string jwks = R"({"keys":[{"kty":"RSA","kid":"bilbo.baggins@hobbiton.example","use":"sig",)"
                           R"("n":"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw",)"
                           R"("e":"AQAB"}]})";
  const std::string token =
      "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." +
      std::string(kRfc7520Payload) +
      ".MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-"
      "BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_"
      "de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg";
  EXPECT_EQ(verify_jws(KeySet::parse(jwks), token), kRfc7520Text);
}

TEST(Rfc7520, Section44Hs256) {
  const std::string jwks =
      R"({"keys":[{"kty":"oct","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037","use":"sig","alg":"HS256",)"
      R"("k":"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}]})";
  const std::string token =
      "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9." +
      std::string(kRfc7520Payload) + ".s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0";
  EXPECT_EQ(verify_jws(KeySet::parse(jwks), token), kRfc7520Text);
}

TEST(Rfc8037, A4Ed25519) {
  const std::string jwk =
      R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
  const std::string token =
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  EXPECT_EQ(verify_jws(KeySet::parse(jwk), token), "Example of Ed25519 signing");
}

// RFC 8037 A.4 signs deterministically: the private key gives the same bytes.
TEST(Rfc8037, A4Ed25519SignsTheSameSignature) {
  const Key key = Key::parse_private(
      R"({"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})");
  EXPECT_EQ(base64url_encode(key.sign("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc")),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
}

TEST(Base64url, CanonicalOnly) {
  EXPECT_EQ(base64url_decode("Zm9v"), "foo");
  EXPECT_EQ(base64url_decode("Zm8"), "fo");
  EXPECT_EQ(base64url_decode("Zg"), "f");
  EXPECT_FALSE(base64url_decode("Zg=="));  // padded
  EXPECT_FALSE(base64url_decode("Zh"));    // non-zero trailing bits: "Zg" is the only spelling
  EXPECT_FALSE(base64url_decode("Z"));     // 6 bits
  EXPECT_FALSE(base64url_decode("Zm+v"));  // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm9 v"));
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

}  // namespace
}  // namespace tw::jose
