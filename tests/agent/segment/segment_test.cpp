// Segment writer + libtokenwell reader, in one process: the contract of
// publish/read/list/wait, expiry, growth with remapping, and adoption.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <set>
#include <cstring>
#include <thread>

#include "support/test_util.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

using namespace std::chrono_literals;

using test::TempDir;

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Reader {
  tokenwell* tw = nullptr;
  explicit Reader(const std::filesystem::path& dir) {
    EXPECT_EQ(tokenwell_open(dir.c_str(), &tw), TOKENWELL_OK);
  }
  ~Reader() { tokenwell_close(tw); }
  int read(const char* name, std::string* token, std::string* user = nullptr,
           std::uint64_t* gen = nullptr, std::int64_t* exp = nullptr) {
    char buf[65536], ubuf[TOKENWELL_USERNAME_MAX + 1];
    size_t len = 0;
    int rc = tokenwell_read(tw, name, buf, sizeof buf, &len, ubuf, sizeof ubuf, exp, gen);
    if (rc == TOKENWELL_OK) {
      if (token) *token = std::string(buf, len);
      if (user) *user = ubuf;
    }
    return rc;
  }
};

class SegmentTest : public ::testing::Test {
 protected:
  TempDir dir;
  SystemClock clock;
  std::unique_ptr<SegmentWriter> open_writer(SegmentLayout layout = {4, 1024}) {
    auto w = SegmentWriter::open(dir.path(), layout, clock);
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
    return w.ok() ? std::move(*w) : nullptr;
  }
  SlotValue cred(std::string_view user, std::string_view secret, std::int64_t exp = 0) {
    SlotValue v;
    v.username = user;
    v.secret = secret;
    v.expires_at = exp == 0 ? now_s() + 3600 : exp;
    return v;
  }
};

TEST_F(SegmentTest, OpenWithoutSegmentIsUnavailable) {
  tokenwell* tw = reinterpret_cast<tokenwell*>(0x1);
  EXPECT_EQ(tokenwell_open(dir.path().c_str(), &tw), TOKENWELL_EUNAVAILABLE);
  EXPECT_EQ(tw, nullptr);
  tokenwell_close(nullptr);  // harmless
}

TEST_F(SegmentTest, PublishedValueIsReadBack) {
  auto w = open_writer();
  auto gen = w->publish("redis", cred("oid-1", "token-1"));
  ASSERT_TRUE(gen.ok());
  Reader r(dir.path());
  std::string token, user;
  std::uint64_t g = 0;
  ASSERT_EQ(r.read("redis", &token, &user, &g), TOKENWELL_OK);
  EXPECT_EQ(token, "token-1");
  EXPECT_EQ(user, "oid-1");
  EXPECT_EQ(g, *gen);
}

TEST_F(SegmentTest, InvalidNamesAreRefusedByTheWriter) {
  auto w = open_writer();
  EXPECT_FALSE(w->publish("", cred("u", "t")).ok());
  EXPECT_FALSE(w->publish("has space", cred("u", "t")).ok());
  EXPECT_FALSE(w->publish(std::string(65, 'n'), cred("u", "t")).ok());
  EXPECT_TRUE(w->publish(std::string(64, 'n'), cred("u", "t")).ok());
  EXPECT_TRUE(w->publish("redis-prod_1.a", cred("u", "t")).ok());
}

TEST_F(SegmentTest, GenerationIncreasesOnEveryPublish) {
  auto w = open_writer();
  auto g1 = w->publish("a", cred("u", "1"));
  auto g2 = w->publish("b", cred("u", "2"));
  auto g3 = w->publish("a", cred("u", "3"));
  ASSERT_TRUE(g1.ok() && g2.ok() && g3.ok());
  EXPECT_LT(*g1, *g2);
  EXPECT_LT(*g2, *g3);
}

// Issue 13: republishing the value a slot already holds (a restarted agent
// re-reading an unchanged file) keeps its generation and wakes nobody.
TEST_F(SegmentTest, ByteIdenticalValueKeepsItsGenerationAnyChangeBumpsIt) {
  auto w = open_writer();
  const std::int64_t exp = now_s() + 3600;
  auto g1 = w->publish("a", cred("u", "same", exp));
  ASSERT_TRUE(g1.ok());
  auto again = w->publish("a", cred("u", "same", exp));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *g1);
  Reader r(dir.path());
  std::uint64_t woke = 0;
  EXPECT_EQ(tokenwell_wait(r.tw, "a", *g1, 0, &woke), TOKENWELL_ETIMEOUT);
  std::uint64_t last = *g1;
  for (const SlotValue& changed : {cred("u", "other", exp), cred("v", "other", exp), cred("v", "other", exp + 1)}) {
    auto g = w->publish("a", changed);
    ASSERT_TRUE(g.ok());
    EXPECT_GT(*g, last);
    last = *g;
  }
}

TEST_F(SegmentTest, UnknownNameIsNotFound) {
  auto w = open_writer();
  ASSERT_TRUE(w->publish("redis", cred("u", "t")).ok());
  Reader r(dir.path());
  std::string token;
  EXPECT_EQ(r.read("other", &token), TOKENWELL_ENOTFOUND);
  EXPECT_EQ(r.read("", &token), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_read(r.tw, nullptr, nullptr, 0, nullptr, nullptr, 0, nullptr, nullptr),
            TOKENWELL_EINVAL);
}

TEST_F(SegmentTest, ExpiredValueIsNoValueAndNeverCopied) {
  auto w = open_writer();
  ASSERT_TRUE(w->publish("redis", cred("u", "old-token", now_s() - 1)).ok());
  Reader r(dir.path());
  char buf[64] = "sentinel";
  std::int64_t exp = 0;
  EXPECT_EQ(tokenwell_read(r.tw, "redis", buf, sizeof buf, nullptr, nullptr, 0, &exp, nullptr),
            TOKENWELL_ENOVALUE);
  EXPECT_STREQ(buf, "");
  EXPECT_LT(exp, now_s());
}

TEST_F(SegmentTest, KnownEntryWithoutValueIsNoValue) {
  auto w = open_writer();
  SlotValue pending;
  pending.has_value = false;
  ASSERT_TRUE(w->publish("redis", pending).ok());
  Reader r(dir.path());
  std::string token;
  EXPECT_EQ(r.read("redis", &token), TOKENWELL_ENOVALUE);
}

TEST_F(SegmentTest, SmallBufferReportsNeededLength) {
  auto w = open_writer();
  ASSERT_TRUE(w->publish("redis", cred("u", std::string(100, 'x'))).ok());
  Reader r(dir.path());
  char buf[100];
  size_t len = 0;
  EXPECT_EQ(tokenwell_read(r.tw, "redis", buf, sizeof buf, &len, nullptr, 0, nullptr, nullptr),
            TOKENWELL_ETOOSMALL);
  EXPECT_EQ(len, 100u);  // needs 101 with the NUL
  char big[101];
  EXPECT_EQ(tokenwell_read(r.tw, "redis", big, sizeof big, &len, nullptr, 0, nullptr, nullptr),
            TOKENWELL_OK);
}

TEST_F(SegmentTest, MetadataOnlyReadCopiesNoSecret) {
  auto w = open_writer();
  ASSERT_TRUE(w->publish("redis", cred("u", "t")).ok());
  Reader r(dir.path());
  int kind = 0;
  std::uint64_t gen = 0;
  EXPECT_EQ(tokenwell_stat(r.tw, "redis", &kind, nullptr, &gen), TOKENWELL_OK);
  EXPECT_EQ(kind, TOKENWELL_KIND_CREDENTIAL);
  EXPECT_GT(gen, 0u);
}

TEST_F(SegmentTest, KeysetPublicDataIsReadable) {
  auto w = open_writer();
  SlotValue ks;
  ks.kind = SlotKind::keyset;
  ks.public_data = R"({"keys":[]})";
  ASSERT_TRUE(w->publish("sessions", ks).ok());
  Reader r(dir.path());
  char buf[64];
  size_t len = 0;
  ASSERT_EQ(tokenwell_read_public(r.tw, "sessions", buf, sizeof buf, &len, nullptr), TOKENWELL_OK);
  EXPECT_EQ(std::string(buf, len), R"({"keys":[]})");
  std::string token;
  EXPECT_EQ(r.read("sessions", &token), TOKENWELL_ENOTFOUND) << "a keyset is not a credential";
}

TEST_F(SegmentTest, ListNamesEveryEntry) {
  auto w = open_writer();
  ASSERT_TRUE(w->publish("a", cred("u", "1")).ok());
  ASSERT_TRUE(w->publish("bb", cred("u", "2")).ok());
  Reader r(dir.path());
  char names[64];
  size_t len = 0;
  ASSERT_EQ(tokenwell_list(r.tw, names, sizeof names, &len), TOKENWELL_OK);
  std::set<std::string> got;
  for (const char* p = names; *p; p += std::strlen(p) + 1) got.insert(p);
  EXPECT_EQ(got, (std::set<std::string>{"a", "bb"}));
  EXPECT_EQ(len, 2u + 3u + 1u);
  char tiny[3];
  EXPECT_EQ(tokenwell_list(r.tw, tiny, sizeof tiny, &len), TOKENWELL_ETOOSMALL);
}

TEST_F(SegmentTest, RemovedEntryIsNotFound) {
  auto w = open_writer();
  ASSERT_TRUE(w->publish("a", cred("u", "1")).ok());
  Reader r(dir.path());
  ASSERT_TRUE(w->remove("a").ok());
  std::string token;
  EXPECT_EQ(r.read("a", &token), TOKENWELL_ENOTFOUND);
}

TEST_F(SegmentTest, GrowingRemapsReadersTransparently) {
  auto w = open_writer({2, 1024});
  ASSERT_TRUE(w->publish("a", cred("u", "1")).ok());
  Reader r(dir.path());
  // More entries than slots and a value larger than the capacity.
  ASSERT_TRUE(w->publish("b", cred("u", "2")).ok());
  ASSERT_TRUE(w->publish("c", cred("u", "3")).ok());
  const std::string big(5000, 'z');
  ASSERT_TRUE(w->publish("big", cred("u", big)).ok());
  EXPECT_GE(w->layout().slot_count, 4u);
  EXPECT_GE(w->layout().data_capacity, 5000u);
  std::string token;
  ASSERT_EQ(r.read("big", &token), TOKENWELL_OK);
  EXPECT_EQ(token, big);
  ASSERT_EQ(r.read("a", &token), TOKENWELL_OK);
  EXPECT_EQ(token, "1");
}

TEST_F(SegmentTest, SecondWriterIsRefused) {
  auto w = open_writer();
  auto second = SegmentWriter::open(dir.path(), {4, 1024}, clock);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("another tokenwell-agent"), std::string::npos);
}

TEST_F(SegmentTest, RestartAdoptsValuesAndContinuesGenerations) {
  std::uint64_t before = 0;
  {
    auto w = open_writer();
    auto g = w->publish("redis", cred("u", "kept"));
    ASSERT_TRUE(g.ok());
    before = *g;
  }
  Reader r(dir.path());  // attached across the restart
  auto w = open_writer();
  std::string token;
  ASSERT_EQ(r.read("redis", &token), TOKENWELL_OK);
  EXPECT_EQ(token, "kept");
  ASSERT_EQ(w->entries().size(), 1u);
  auto g = w->publish("redis", cred("u", "new"));
  ASSERT_TRUE(g.ok());
  EXPECT_GT(*g, before);
  std::uint64_t seen = 0;
  ASSERT_EQ(r.read("redis", &token, nullptr, &seen), TOKENWELL_OK);
  EXPECT_EQ(token, "new");
  EXPECT_EQ(seen, *g);
}

TEST_F(SegmentTest, WaitReturnsOnPublish) {
  auto w = open_writer();
  auto g = w->publish("redis", cred("u", "1"));
  ASSERT_TRUE(g.ok());
  Reader r(dir.path());
  std::uint64_t got = 0;
  std::thread waiter([&] {
    EXPECT_EQ(tokenwell_wait(r.tw, "redis", *g, 10000, &got), TOKENWELL_OK);
  });
  auto g2 = w->publish("redis", cred("u", "2"));
  waiter.join();
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ(got, *g2);
}

TEST_F(SegmentTest, WaitReturnsAtOnceWhenAlreadyNewer) {
  auto w = open_writer();
  auto g = w->publish("redis", cred("u", "1"));
  ASSERT_TRUE(g.ok());
  Reader r(dir.path());
  std::uint64_t got = 0;
  EXPECT_EQ(tokenwell_wait(r.tw, "redis", 0, 0, &got), TOKENWELL_OK);
  EXPECT_EQ(got, *g);
}

TEST_F(SegmentTest, WaitTimesOut) {
  auto w = open_writer();
  auto g = w->publish("redis", cred("u", "1"));
  ASSERT_TRUE(g.ok());
  Reader r(dir.path());
  EXPECT_EQ(tokenwell_wait(r.tw, "redis", *g, 10, nullptr), TOKENWELL_ETIMEOUT);
}

TEST_F(SegmentTest, WaitForNameNotYetPublished) {
  auto w = open_writer();
  ASSERT_TRUE(w->publish("other", cred("u", "1")).ok());
  Reader r(dir.path());
  std::uint64_t got = 0;
  std::thread waiter([&] {
    EXPECT_EQ(tokenwell_wait(r.tw, "late", 0, 10000, &got), TOKENWELL_OK);
  });
  auto g = w->publish("late", cred("u", "2"));
  waiter.join();
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(got, *g);
}

TEST_F(SegmentTest, WaitSurvivesSegmentReplacement) {
  auto w = open_writer({1, 1024});
  auto g = w->publish("a", cred("u", "1"));
  ASSERT_TRUE(g.ok());
  Reader r(dir.path());
  std::uint64_t got = 0;
  std::thread waiter([&] { EXPECT_EQ(tokenwell_wait(r.tw, "b", 0, 10000, &got), TOKENWELL_OK); });
  auto g2 = w->publish("b", cred("u", "2"));  // needs a second slot: new file
  waiter.join();
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ(got, *g2);
}

TEST_F(SegmentTest, VersionMacrosMatchRuntime) {
  EXPECT_EQ(tokenwell_version_number(), TOKENWELL_VERSION_NUMBER);
  EXPECT_STREQ(tokenwell_version(), TOKENWELL_VERSION_STRING);
  for (int code = 0; code <= TOKENWELL_ESYSTEM; ++code)
    EXPECT_STRNE(tokenwell_strerror(code), "unknown error code") << code;
  EXPECT_STREQ(tokenwell_strerror(999), "unknown error code");
}

// --- the files in the runtime directory --------------------------------------
// Another user who can write in the runtime directory (an emptyDir is 0777)
// plants links where the agent writes. None may receive a byte.

std::string contents(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Old code: `segment.tmp.PID` opened with O_CREAT|O_TRUNC through the link,
// so the victim file got the whole segment and `segment` became the link.
TEST_F(SegmentTest, APlantedTempFileLinkIsNeverFollowed) {
  const auto victim = dir / "victim";
  std::ofstream(victim) << "attacker's";
  for (const auto& name : {"segment.tmp." + std::to_string(getpid()), std::string("segment.tmp")})
    std::filesystem::create_symlink(victim, dir / name);
  auto w = open_writer();
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->publish("redis", cred("default", "tmp-link-secret")).ok());
  EXPECT_EQ(contents(victim), "attacker's");
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "segment"));
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "segment"));
  // A resize writes a new temporary file too.
  ASSERT_TRUE(w->resize({16, 4096}).ok());
  EXPECT_EQ(contents(victim), "attacker's");
  // No temporary file is left behind, and the links planted are untouched.
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    const auto name = e.path().filename().string();
    if (name.starts_with("segment.tmp")) {
      EXPECT_TRUE(std::filesystem::is_symlink(e.path())) << name;
    }
  }
}

// Old code: the lock was opened through the link (and created the target).
TEST_F(SegmentTest, APlantedLockLinkIsRefused) {
  std::filesystem::create_symlink(dir / "elsewhere", dir / "segment.lock");
  auto w = SegmentWriter::open(dir.path(), {4, 1024}, clock);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("segment.lock"), std::string::npos) << w.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir / "elsewhere"));
}

// Old code: adoption opened `segment` through the link O_RDWR.
TEST_F(SegmentTest, APlantedSegmentLinkIsReplacedNotAdopted) {
  const auto victim = dir / "victim";
  std::ofstream(victim) << std::string(8192, 'x');
  std::filesystem::create_symlink(victim, dir / "segment");
  auto w = open_writer();
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->publish("redis", cred("default", "segment-link-secret")).ok());
  EXPECT_EQ(contents(victim), std::string(8192, 'x'));
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "segment"));
  Reader r(dir.path());
  std::string token;
  ASSERT_EQ(r.read("redis", &token), TOKENWELL_OK);
  EXPECT_EQ(token, "segment-link-secret");
}

// Old code: a directory every user may write, without the sticky bit, was
// used as is.
TEST_F(SegmentTest, ARuntimeDirectoryOthersMayWriteNeedsTheStickyBit) {
  const auto run = dir / "run";
  std::filesystem::create_directory(run);
  ASSERT_EQ(::chmod(run.c_str(), 0777), 0);
  auto refused = SegmentWriter::open(run, {4, 1024}, clock);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("is writable by every user (mode 0777) and has no sticky bit"),
            std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(std::filesystem::exists(run / "segment"));
  EXPECT_FALSE(std::filesystem::exists(run / "segment.lock"));
  // The config says no one else can write it (every other mount read-only).
  EXPECT_TRUE(SegmentWriter::open(run, {4, 1024}, clock, {.runtime_dir = {.read_only_for_others = true}}).ok());
  // Or the sticky bit: only an entry's owner may rename or remove it.
  ASSERT_EQ(::chmod(run.c_str(), 01777), 0);
  EXPECT_TRUE(SegmentWriter::open(run, {4, 1024}, clock).ok());
}

TEST_F(SegmentTest, TheSegmentGetsTheGroupAndModeOfAllow) {
  const gid_t own = ::getegid();
  auto w = SegmentWriter::open(dir.path(), {4, 1024}, clock, {.access = {own, 0640}});
  ASSERT_TRUE(w.ok()) << w.error().message;
  struct stat st{};
  ASSERT_EQ(::stat((dir / "segment").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_gid, own);
  ASSERT_TRUE((*w)->set_access({std::nullopt, 0600}).ok());
  ASSERT_EQ(::stat((dir / "segment").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Every later file (a resize writes one) keeps it.
  ASSERT_TRUE((*w)->resize({32, 4096}).ok());
  ASSERT_EQ(::stat((dir / "segment").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

}  // namespace
}  // namespace tw
