// tw::Client, the C++ wrapper in tokenwell.hpp, over a real segment.
#include <type_traits>

#include "cli/cli_test_util.hpp"
#include "tokenwell/tokenwell.hpp"

namespace tw::test {
namespace {

static_assert(!std::is_copy_constructible_v<Client> && !std::is_copy_assignable_v<Client>);
static_assert(std::is_nothrow_move_constructible_v<Client> &&
              std::is_nothrow_move_assignable_v<Client>);

class ClientTest : public CliTest {
 protected:
  Client open() {
    auto client = Client::open(dir.path().string());
    if (!client) throw std::runtime_error(client.error().message());
    return std::move(client).value();
  }
};

TEST_F(ClientTest, OpenWithoutSegmentReportsTheCode) {
  const auto client = Client::open(dir.path().string());
  ASSERT_FALSE(client);
  EXPECT_EQ(client.code(), TOKENWELL_EUNAVAILABLE);
  EXPECT_EQ(client.error(), ClientError(TOKENWELL_EUNAVAILABLE));
  EXPECT_STREQ(client.error().message(), tokenwell_strerror(TOKENWELL_EUNAVAILABLE));
}

TEST_F(ClientTest, GetReturnsEveryField) {
  const std::int64_t expires = now_s() + 600;
  const std::uint64_t gen = publish("redis", credential("oid-1", "token-1", expires));
  const auto c = open().get("redis");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c.code(), TOKENWELL_OK);
  EXPECT_EQ(c->username, "oid-1");
  EXPECT_EQ(c->token, "token-1");
  EXPECT_EQ(c->expires_at, expires);
  EXPECT_EQ(c->generation, gen);
}

TEST_F(ClientTest, GetGrowsItsBufferForLargeTokens) {
  const std::string token(100000, 't');
  publish("redis", credential("oid-1", token));
  const auto c = open().get("redis");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->token, token);
}

TEST_F(ClientTest, GetGrowsTheUsernameAndTokenTogether) {
  const std::string user(TOKENWELL_USERNAME_MAX, 'u');
  const std::string token(5000, 't');
  publish("redis", credential(user, token));
  const auto c = open().get("redis");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->username, user);
  EXPECT_EQ(c->token, token);
}

TEST_F(ClientTest, GetOfAKeysetIsNotFound) {
  SlotValue keys;
  keys.kind = SlotKind::keyset;
  keys.secret = R"({"d":"private"})";
  keys.public_data = "{}";
  publish("sessions", keys);
  EXPECT_EQ(open().get("sessions").code(), TOKENWELL_ENOTFOUND);
}

TEST_F(ClientTest, OpenWithMissingOkWorksBeforeTheSegmentExists) {
  const auto client = Client::open(dir.path().string(), TOKENWELL_OPEN_MISSING_OK);
  ASSERT_TRUE(client) << client.error().message();
  EXPECT_EQ(client->get("redis").code(), TOKENWELL_EUNAVAILABLE);
  EXPECT_EQ(client->stat("redis").code(), TOKENWELL_EUNAVAILABLE);
  publish("redis", credential("oid-1", "token-1"));
  EXPECT_EQ(client->get("redis")->token, "token-1");
  EXPECT_EQ(Client::open(dir.path().string(), 0x100).code(), TOKENWELL_EINVAL);
}

TEST_F(ClientTest, GetReportsUnknownAndInvalidNames) {
  publish("redis", credential("oid-1", "token-1"));
  const Client client = open();
  EXPECT_EQ(client.get("nope").code(), TOKENWELL_ENOTFOUND);
  EXPECT_EQ(client.get("").code(), TOKENWELL_EINVAL);
  EXPECT_EQ(client.get(std::string(TOKENWELL_NAME_MAX + 1, 'a')).code(), TOKENWELL_EINVAL);
  // An embedded NUL must not turn "redis\0x" into "redis".
  EXPECT_EQ(client.get(std::string_view("redis\0x", 7)).code(), TOKENWELL_EINVAL);
}

TEST_F(ClientTest, StatTellsValidExpiredAndPending) {
  const std::uint64_t valid = publish("redis", credential("oid-1", "token-1"));
  publish("old", credential("oid-1", "token-1", now_s() - 5));
  SlotValue pending = credential("oid-1", "");
  pending.has_value = false;
  publish("new", pending);
  SlotValue keys;
  keys.kind = SlotKind::keyset;
  keys.public_data = "{}";
  publish("sessions", keys);
  const Client client = open();
  const auto info = client.stat("redis");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->state, EntryState::valid);
  EXPECT_EQ(info->kind, EntryKind::credential);
  EXPECT_EQ(info->generation, valid);
  EXPECT_GT(info->updated_ms, (now_s() - 3600) * 1000);
  EXPECT_EQ(client.stat("old")->state, EntryState::expired);
  EXPECT_EQ(client.get("old").code(), TOKENWELL_ENOVALUE);
  EXPECT_EQ(client.stat("new")->state, EntryState::pending);
  EXPECT_EQ(client.stat("sessions")->kind, EntryKind::keyset);
  EXPECT_EQ(client.stat("nope").code(), TOKENWELL_ENOTFOUND);
}

TEST_F(ClientTest, ReadPublicReturnsAKeysetsPublicPart) {
  const std::string jwks = R"({"keys":[{"kty":"EC","crv":"P-256"}]})" + std::string(5000, ' ');
  SlotValue keys;
  keys.kind = SlotKind::keyset;
  keys.secret = "private";
  keys.public_data = jwks;
  const std::uint64_t gen = publish("sessions", keys);
  const auto pub = open().read_public("sessions");
  ASSERT_TRUE(pub) << pub.error().message();
  EXPECT_EQ(pub->data, jwks);
  EXPECT_EQ(pub->generation, gen);
}

TEST_F(ClientTest, ListReturnsEveryName) {
  writer();
  EXPECT_EQ(*open().list(), std::vector<std::string>{});
  for (const char* name : {"a", "redis", "sessions"}) publish(name, credential("u", "t"));
  auto names = *open().list();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "redis", "sessions"}));
}

TEST_F(ClientTest, WaitReturnsANewerGenerationOrTimesOut) {
  const std::uint64_t gen = publish("redis", credential("oid-1", "token-1"));
  const Client client = open();
  EXPECT_EQ(*client.wait("redis", gen - 1), gen);
  EXPECT_EQ(client.wait("redis", gen, std::chrono::milliseconds(0)).code(), TOKENWELL_ETIMEOUT);
  EXPECT_EQ(client.wait("redis", gen, std::chrono::milliseconds(-5)).code(), TOKENWELL_ETIMEOUT);
}

TEST_F(ClientTest, MovedFromClientAnswersEinval) {
  publish("redis", credential("oid-1", "token-1"));
  Client a = open();
  Client b = std::move(a);
  EXPECT_EQ(a.get("redis").code(), TOKENWELL_EINVAL);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.native_handle(), nullptr);
  EXPECT_TRUE(b.get("redis"));
  a = std::move(b);
  EXPECT_TRUE(a.get("redis"));
}

}  // namespace
}  // namespace tw::test
