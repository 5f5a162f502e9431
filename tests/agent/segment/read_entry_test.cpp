// The reader's contract (tokenwell.h): tokenwell_read_entry() and its simple
// forms over segments the real writer made; which buffer was too small;
// that a failed read leaves no byte of any value in any caller buffer, on
// every error path; tokenwell_open_v2() and its flags; the code ranges.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "internal.h"
#include "support/test_util.hpp"
#include "segment_format.h"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

using test::TempDir;

constexpr char kFill = '\xAA';  // what caller buffers hold before a read

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A caller buffer, pre-filled so that anything a read leaves in it shows.
struct Buffer {
  explicit Buffer(std::size_t size) : bytes(size, kFill) {}
  char* data() { return bytes.data(); }
  std::size_t size() const { return bytes.size(); }
  std::string str() const { return bytes.data(); }
  // After a failed read: "" and not one byte of any value (only the fill
  // pattern, or zeros where the library wiped what it had written).
  bool empty_and_clean() const {
    return bytes.empty() || (bytes[0] == '\0' && std::all_of(bytes.begin(), bytes.end(), [](char c) {
                               return c == kFill || c == '\0';
                             }));
  }
  std::vector<char> bytes;
};

tokenwell_entry entry_with(Buffer* secret, Buffer* username, Buffer* public_data) {
  tokenwell_entry e{};
  e.struct_size = sizeof e;
  if (secret) e.secret = secret->data(), e.secret_size = secret->size();
  if (username) e.username = username->data(), e.username_size = username->size();
  if (public_data) e.public_data = public_data->data(), e.public_size = public_data->size();
  return e;
}

class ReadEntryTest : public ::testing::Test {
 protected:
  const std::string token = "token-" + std::string(200, 't');
  const std::string jwks = R"({"keys":[{"kty":"EC","kid":"k1"}]})";
  const std::string private_jwk = R"({"kty":"EC","kid":"k1","d":"PRIVATE-KEY-BYTES"})";

  TempDir dir;
  SystemClock clock;
  std::unique_ptr<SegmentWriter> writer;
  tokenwell* tw = nullptr;

  void SetUp() override { writer = open_writer({4, 1024}); }
  void TearDown() override { tokenwell_close(tw); }

  std::unique_ptr<SegmentWriter> open_writer(SegmentLayout layout) {
    auto w = SegmentWriter::open(dir.path(), layout, clock);
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
    return w.ok() ? std::move(*w) : nullptr;
  }
  std::uint64_t publish_credential(std::string_view name, std::int64_t expires_at) {
    SlotValue v;
    v.username = "oid-1";
    v.secret = token;
    v.expires_at = expires_at;
    auto g = writer->publish(name, v);
    EXPECT_TRUE(g.ok());
    return g.ok() ? *g : 0;
  }
  std::uint64_t publish_keyset(std::string_view name) {
    SlotValue v;
    v.kind = SlotKind::keyset;
    v.public_data = jwks;
    v.secret = private_jwk;
    auto g = writer->publish(name, v);
    EXPECT_TRUE(g.ok());
    return g.ok() ? *g : 0;
  }
  void open() { ASSERT_EQ(tokenwell_open(dir.path().c_str(), &tw), TOKENWELL_OK); }
};

// ---- the struct read ------------------------------------------------------------

TEST_F(ReadEntryTest, CopiesEveryFieldOfACredentialInOneSnapshot) {
  const std::int64_t before = now_ms();
  const std::uint64_t gen = publish_credential("redis", now_s() + 3600);
  const std::int64_t after = now_ms();
  open();
  Buffer secret(4096), user(TOKENWELL_USERNAME_MAX + 1), pub(64);
  tokenwell_entry e = entry_with(&secret, &user, &pub);
  ASSERT_EQ(tokenwell_read_entry(tw, "redis", TOKENWELL_KIND_CREDENTIAL, &e), TOKENWELL_OK);
  EXPECT_EQ(secret.str(), token);
  EXPECT_EQ(user.str(), "oid-1");
  EXPECT_EQ(pub.str(), "");  // a credential has no public data
  EXPECT_EQ(e.kind, TOKENWELL_KIND_CREDENTIAL);
  EXPECT_EQ(e.has_value, 1);
  EXPECT_EQ(e.too_small, 0u);
  EXPECT_EQ(e.secret_len, token.size());
  EXPECT_EQ(e.username_len, 5u);
  EXPECT_EQ(e.public_len, 0u);
  EXPECT_GT(e.expires_at, now_s());
  EXPECT_EQ(e.generation, gen);
  EXPECT_GE(e.updated_ms, before);
  EXPECT_LE(e.updated_ms, after);
}

TEST_F(ReadEntryTest, ReadsAKeysetsJwksAndPrivateKeyAsKindKeysetOrAny) {
  const std::uint64_t gen = publish_keyset("sessions");
  open();
  for (int kind : {int{TOKENWELL_KIND_KEYSET}, 0}) {
    Buffer key(256), pub(256);
    tokenwell_entry e = entry_with(&key, nullptr, &pub);
    ASSERT_EQ(tokenwell_read_entry(tw, "sessions", kind, &e), TOKENWELL_OK) << kind;
    EXPECT_EQ(key.str(), private_jwk);
    EXPECT_EQ(pub.str(), jwks);
    EXPECT_EQ(e.kind, TOKENWELL_KIND_KEYSET);
    EXPECT_EQ(e.generation, gen);
    EXPECT_EQ(e.expires_at, 0);
  }
}

TEST_F(ReadEntryTest, MetadataOnlyWithoutBuffers) {
  const std::uint64_t gen = publish_credential("redis", 0);
  open();
  tokenwell_entry e = entry_with(nullptr, nullptr, nullptr);
  ASSERT_EQ(tokenwell_read_entry(tw, "redis", 0, &e), TOKENWELL_OK);
  EXPECT_EQ(e.kind, TOKENWELL_KIND_CREDENTIAL);
  EXPECT_EQ(e.secret_len, token.size());
  EXPECT_EQ(e.generation, gen);
  EXPECT_EQ(e.expires_at, 0);
}

TEST_F(ReadEntryTest, AnotherKindIsNotFoundButNamesItsKind) {
  publish_keyset("sessions");
  publish_credential("redis", 0);
  open();
  Buffer secret(4096);
  tokenwell_entry e = entry_with(&secret, nullptr, nullptr);
  EXPECT_EQ(tokenwell_read_entry(tw, "sessions", TOKENWELL_KIND_CREDENTIAL, &e), TOKENWELL_ENOTFOUND);
  EXPECT_EQ(e.kind, TOKENWELL_KIND_KEYSET);
  EXPECT_EQ(e.generation, 0u);
  EXPECT_EQ(e.secret_len, 0u) << "not even the private key's length";
  EXPECT_TRUE(secret.empty_and_clean());

  e = entry_with(&secret, nullptr, nullptr);
  EXPECT_EQ(tokenwell_read_entry(tw, "redis", TOKENWELL_KIND_KEYSET, &e), TOKENWELL_ENOTFOUND);
  EXPECT_EQ(e.kind, TOKENWELL_KIND_CREDENTIAL);
  EXPECT_TRUE(secret.empty_and_clean());

  e = entry_with(&secret, nullptr, nullptr);
  EXPECT_EQ(tokenwell_read_entry(tw, "nobody", 0, &e), TOKENWELL_ENOTFOUND);
  EXPECT_EQ(e.kind, 0);
}

TEST_F(ReadEntryTest, TooSmallNamesEveryBufferThatDidNotFitAndTheLengths) {
  publish_keyset("sessions");
  open();
  Buffer key(8), pub(8);
  tokenwell_entry e = entry_with(&key, nullptr, &pub);
  EXPECT_EQ(tokenwell_read_entry(tw, "sessions", 0, &e), TOKENWELL_ETOOSMALL);
  EXPECT_EQ(e.too_small, unsigned{TOKENWELL_FIELD_SECRET | TOKENWELL_FIELD_PUBLIC});
  EXPECT_EQ(e.secret_len, private_jwk.size());
  EXPECT_EQ(e.public_len, jwks.size());
  EXPECT_TRUE(key.empty_and_clean());
  EXPECT_TRUE(pub.empty_and_clean());

  // Only the JWKS too small: the key would fit, and is still not copied.
  Buffer big_key(4096), small_pub(jwks.size());  // no room for the NUL
  e = entry_with(&big_key, nullptr, &small_pub);
  EXPECT_EQ(tokenwell_read_entry(tw, "sessions", 0, &e), TOKENWELL_ETOOSMALL);
  EXPECT_EQ(e.too_small, unsigned{TOKENWELL_FIELD_PUBLIC});
  EXPECT_TRUE(big_key.empty_and_clean());

  // Sized as reported (len + 1): fits.
  Buffer key_ok(e.secret_len + 1), pub_ok(e.public_len + 1);
  e = entry_with(&key_ok, nullptr, &pub_ok);
  EXPECT_EQ(tokenwell_read_entry(tw, "sessions", 0, &e), TOKENWELL_OK);
  EXPECT_EQ(key_ok.str(), private_jwk);
}

TEST_F(ReadEntryTest, ExpiredOrPendingIsNoValueWithItsMetadata) {
  const std::uint64_t gen = publish_credential("old", now_s() - 1);
  SlotValue pending;
  pending.has_value = false;
  ASSERT_TRUE(writer->publish("later", pending).ok());
  open();
  Buffer secret(4096);
  tokenwell_entry e = entry_with(&secret, nullptr, nullptr);
  EXPECT_EQ(tokenwell_read_entry(tw, "old", 0, &e), TOKENWELL_ENOVALUE);
  EXPECT_EQ(e.has_value, 1) << "expired";
  EXPECT_EQ(e.generation, gen);
  EXPECT_LT(e.expires_at, now_s());
  EXPECT_TRUE(secret.empty_and_clean());
  e = entry_with(&secret, nullptr, nullptr);
  EXPECT_EQ(tokenwell_read_entry(tw, "later", 0, &e), TOKENWELL_ENOVALUE);
  EXPECT_EQ(e.has_value, 0) << "pending";
  EXPECT_EQ(e.kind, TOKENWELL_KIND_CREDENTIAL);
}

TEST_F(ReadEntryTest, BadArgumentsAreInvalid) {
  publish_credential("redis", 0);
  open();
  tokenwell_entry e = entry_with(nullptr, nullptr, nullptr);
  EXPECT_EQ(tokenwell_read_entry(nullptr, "redis", 0, &e), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_read_entry(tw, nullptr, 0, &e), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_read_entry(tw, "", 0, &e), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_read_entry(tw, std::string(65, 'n').c_str(), 0, &e), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_read_entry(tw, "redis", 0, nullptr), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_read_entry(tw, "redis", 3, &e), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_read_entry(tw, "redis", -1, &e), TOKENWELL_EINVAL);
  e.struct_size = sizeof e - 1;
  EXPECT_EQ(tokenwell_read_entry(tw, "redis", 0, &e), TOKENWELL_EINVAL);
  e = entry_with(nullptr, nullptr, nullptr);
  e.secret_size = 10;  // NULL buffer with a size
  EXPECT_EQ(tokenwell_read_entry(tw, "redis", 0, &e), TOKENWELL_EINVAL);
}

TEST_F(ReadEntryTest, ACallerWithALargerStructFromANewerHeaderWorks) {
  publish_credential("redis", 0);
  open();
  // A newer header appended members: this library fills what it knows and
  // leaves the rest untouched.
  struct Newer {
    tokenwell_entry v1;
    std::int64_t appended;
  } newer{};
  newer.v1.struct_size = sizeof newer;
  newer.appended = 12345;
  ASSERT_EQ(tokenwell_read_entry(tw, "redis", 0, &newer.v1), TOKENWELL_OK);
  EXPECT_EQ(newer.v1.kind, TOKENWELL_KIND_CREDENTIAL);
  EXPECT_EQ(newer.appended, 12345);
}

// ---- no secret byte after a failed read, on every error path ------------------

TEST_F(ReadEntryTest, ReadOfAKeysetNameLeavesNoPrivateKeyInTheTokenBuffer) {
  publish_keyset("sessions");
  open();
  Buffer buf(4096), user(TOKENWELL_USERNAME_MAX + 1);
  std::size_t len = 99;
  EXPECT_EQ(tokenwell_read(tw, "sessions", buf.data(), buf.size(), &len, user.data(), user.size(),
                           nullptr, nullptr),
            TOKENWELL_ENOTFOUND);
  EXPECT_TRUE(buf.empty_and_clean()) << "the keyset's private JWK leaked into the token buffer";
  EXPECT_TRUE(user.empty_and_clean());
}

TEST_F(ReadEntryTest, ExpiredReadLeavesNoByteOfTheOldToken) {
  publish_credential("redis", now_s() - 1);
  open();
  Buffer buf(4096), user(TOKENWELL_USERNAME_MAX + 1);
  EXPECT_EQ(tokenwell_read(tw, "redis", buf.data(), buf.size(), nullptr, user.data(), user.size(),
                           nullptr, nullptr),
            TOKENWELL_ENOVALUE);
  EXPECT_TRUE(buf.empty_and_clean()) << "bytes after the first of an expired token stayed";
  EXPECT_TRUE(user.empty_and_clean());
}

TEST_F(ReadEntryTest, TooSmallUsernameLeavesNoByteOfTheTokenThatFit) {
  publish_credential("redis", 0);
  open();
  Buffer buf(4096), user(3);
  std::size_t len = 0;
  EXPECT_EQ(tokenwell_read(tw, "redis", buf.data(), buf.size(), &len, user.data(), user.size(),
                           nullptr, nullptr),
            TOKENWELL_ETOOSMALL);
  EXPECT_EQ(len, token.size());
  EXPECT_TRUE(buf.empty_and_clean());
  EXPECT_TRUE(user.empty_and_clean());
}

TEST_F(ReadEntryTest, KeysetWithTooSmallJwksBufferLeavesNoByteOfThePrivateKey) {
  publish_keyset("sessions");
  open();
  Buffer pub(8), key(4096);
  std::size_t jwks_len = 0, key_len = 0;
  EXPECT_EQ(tokenwell_read_keyset(tw, "sessions", pub.data(), pub.size(), &jwks_len, key.data(),
                                  key.size(), &key_len, nullptr),
            TOKENWELL_ETOOSMALL);
  EXPECT_EQ(jwks_len, jwks.size());
  EXPECT_EQ(key_len, private_jwk.size());
  EXPECT_TRUE(key.empty_and_clean()) << "the private key was left behind";
}

// A writable, page-aligned in-memory copy of the segment file, read through
// tw_open_buffer(): for what a healthy writer never does.
struct Image {
  explicit Image(const std::filesystem::path& file) {
    const std::string bytes = test::read_file(file);
    size = bytes.size();
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap");
    std::memcpy(p, bytes.data(), size);
    base_ = static_cast<unsigned char*>(p);
  }
  ~Image() { munmap(base_, size); }
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;
  unsigned char* base() { return base_; }
  const tw_seg_header* header() const { return reinterpret_cast<const tw_seg_header*>(base_); }
  tw_seg_slot_header* slot(std::uint32_t i) {
    return reinterpret_cast<tw_seg_slot_header*>(base_ + TW_SEG_HEADER_SIZE +
                                                 static_cast<std::size_t>(i) * header()->slot_size);
  }
  // The slot holding `name` (by hash).
  tw_seg_slot_header* slot_of(std::string_view name) {
    for (std::uint32_t i = 0; i < header()->slot_count; ++i)
      if (slot(i)->name_hash == tw_seg_name_hash(name.data(), name.size())) return slot(i);
    return nullptr;
  }
  // Where the secret of the copy a slot's sequence selects begins.
  unsigned char* secret_of(tw_seg_slot_header* s) {
    unsigned char* copy = reinterpret_cast<unsigned char*>(s) + TW_SEG_SLOT_HEADER_SIZE +
                          (s->seq & 1u) * header()->copy_size;
    const auto* h = reinterpret_cast<const tw_seg_copy_header*>(copy);
    return copy + TW_SEG_COPY_HEADER_SIZE + TW_SEG_ALIGN8(h->name_len) + TW_SEG_ALIGN8(h->username_len);
  }
  std::size_t size = 0;

 private:
  unsigned char* base_ = nullptr;
};

TEST_F(ReadEntryTest, HashCollisionWithAnotherEntryLeavesNoByteOfItsToken) {
  publish_credential("a", 0);
  Image img(dir / "segment");
  // Slot "a" claims the hash of "b": a lookup of "b" reads it, finds the
  // name differs, and must not have copied "a"'s token meanwhile.
  tw_seg_slot_header* a = img.slot_of("a");
  ASSERT_NE(a, nullptr);
  a->name_hash = tw_seg_name_hash("b", 1);
  ASSERT_EQ(tw_open_buffer(img.base(), img.size, &tw), TOKENWELL_OK);
  Buffer buf(4096);
  EXPECT_EQ(tokenwell_read(tw, "b", buf.data(), buf.size(), nullptr, nullptr, 0, nullptr, nullptr),
            TOKENWELL_ENOTFOUND);
  EXPECT_TRUE(buf.empty_and_clean()) << "another entry's token leaked";
}

// Two pages inside a value that a read keeps faulting on: whichever it
// touches is made readable and the other unreadable, and the slot's latch
// sequence is bumped, as a writer republishing would.
struct FaultingPages {
  unsigned char* first;
  unsigned char* second;
  std::size_t page;
  tw_seg_slot_header* slot;
};
FaultingPages g_faulting;

void on_fault(int, siginfo_t* info, void*) {
  auto* at = static_cast<unsigned char*>(info->si_addr);
  const FaultingPages& f = g_faulting;
  unsigned char* hit = at >= f.first && at < f.first + f.page     ? f.first
                       : at >= f.second && at < f.second + f.page ? f.second
                                                                  : nullptr;
  if (hit == nullptr) {  // a real crash: let it be one
    signal(SIGSEGV, SIG_DFL);
    return;
  }
  mprotect(hit, f.page, PROT_READ | PROT_WRITE);
  mprotect(hit == f.first ? f.second : f.first, f.page, PROT_NONE);
  __atomic_fetch_add(&f.slot->seq, 2, __ATOMIC_RELAXED);  // same copy, new sequence
}

TEST_F(ReadEntryTest, BusyReadLeavesNoByteOfTheToken) {
  // Every attempt at copying the value touches both pages, so it faults at
  // least once and sees the sequence change: after TW_SEG_READ_RETRIES
  // attempts, each of which copied the token, the read is EBUSY. No timing.
  writer.reset();
  writer = open_writer({2, 70 * 1024});
  const std::string big(64 * 1024, 's');
  SlotValue v;
  v.secret = big;
  ASSERT_TRUE(writer->publish("redis", v).ok());
  Image img(dir / "segment");
  tw_seg_slot_header* slot = img.slot_of("redis");
  ASSERT_NE(slot, nullptr);
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const auto secret = reinterpret_cast<std::uintptr_t>(img.secret_of(slot));
  auto* first = reinterpret_cast<unsigned char*>((secret + page - 1) / page * page);
  g_faulting = {first, first + page, page, slot};
  ASSERT_LE(first + 2 * page, img.secret_of(slot) + big.size());
  ASSERT_EQ(tw_open_buffer(img.base(), img.size, &tw), TOKENWELL_OK);

  struct sigaction action {};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO;
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGSEGV, &action, &previous), 0);
  ASSERT_EQ(mprotect(first, page, PROT_NONE), 0);
  Buffer buf(big.size() + 1);
  const std::uint32_t seq_before = slot->seq;  // no fault: slot header is not protected
  const int rc =
      tokenwell_read(tw, "redis", buf.data(), buf.size(), nullptr, nullptr, 0, nullptr, nullptr);
  mprotect(first, 2 * page, PROT_READ | PROT_WRITE);
  sigaction(SIGSEGV, &previous, nullptr);
  EXPECT_EQ(rc, TOKENWELL_EBUSY);
  EXPECT_GE((slot->seq - seq_before) / 2, std::uint32_t{TW_SEG_READ_RETRIES});
  EXPECT_TRUE(buf.empty_and_clean()) << "a busy read left the token behind";
}

// ---- the simple forms are the struct read ---------------------------------------

TEST_F(ReadEntryTest, SimpleFormsReportWhatTheStructReadReports) {
  const std::uint64_t gen = publish_keyset("sessions");
  publish_credential("redis", now_s() + 600);
  open();
  int kind = 0;
  std::int64_t exp = -1;
  std::uint64_t g = 0;
  EXPECT_EQ(tokenwell_stat(tw, "sessions", &kind, &exp, &g), TOKENWELL_OK);
  EXPECT_EQ(kind, TOKENWELL_KIND_KEYSET);
  EXPECT_EQ(exp, 0);
  EXPECT_EQ(g, gen);
  Buffer pub(256);
  std::size_t len = 0;
  EXPECT_EQ(tokenwell_read_public(tw, "sessions", pub.data(), pub.size(), &len, &g), TOKENWELL_OK);
  EXPECT_EQ(pub.str(), jwks);
  Buffer key(256), pub2(256);
  std::size_t key_len = 0;
  EXPECT_EQ(tokenwell_read_keyset(tw, "sessions", pub2.data(), pub2.size(), &len, key.data(),
                                  key.size(), &key_len, &g),
            TOKENWELL_OK);
  EXPECT_EQ(key.str(), private_jwk);
  EXPECT_EQ(key_len, private_jwk.size());
  EXPECT_EQ(tokenwell_read_keyset(tw, "redis", nullptr, 0, nullptr, nullptr, 0, nullptr, nullptr),
            TOKENWELL_ENOTFOUND);
  Buffer tok(4096);
  std::size_t tok_len = 0;
  EXPECT_EQ(tokenwell_read(tw, "redis", tok.data(), tok.size(), &tok_len, nullptr, 0, &exp, &g),
            TOKENWELL_OK);
  EXPECT_EQ(tok.str(), token);
  EXPECT_GT(exp, now_s());
}

// ---- tokenwell_open_v2 ------------------------------------------------------------

TEST(OpenV2, ReservedFlagBitsAreInvalid) {
  TempDir dir;
  tokenwell* tw = reinterpret_cast<tokenwell*>(0x1);
  EXPECT_EQ(tokenwell_open_v2(dir.path().c_str(), 2, &tw), TOKENWELL_EINVAL);
  EXPECT_EQ(tw, nullptr);
  EXPECT_EQ(tokenwell_open_v2(dir.path().c_str(), 0x80000000u | TOKENWELL_OPEN_MISSING_OK, &tw),
            TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_open_v2(dir.path().c_str(), 0, nullptr), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_open_v2(dir.path().c_str(), 0, &tw), TOKENWELL_EUNAVAILABLE);
}

TEST(OpenV2, MissingOkOpensBeforeTheAgentAndReadsOnceItPublishes) {
  TempDir dir;
  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open_v2(dir.path().c_str(), TOKENWELL_OPEN_MISSING_OK, &tw), TOKENWELL_OK);
  tokenwell_entry e{};
  e.struct_size = sizeof e;
  EXPECT_EQ(tokenwell_read_entry(tw, "redis", 0, &e), TOKENWELL_EUNAVAILABLE);
  char names[16];
  EXPECT_EQ(tokenwell_list(tw, names, sizeof names, nullptr), TOKENWELL_EUNAVAILABLE);
  EXPECT_EQ(tokenwell_agent_info(tw, nullptr, nullptr), TOKENWELL_EUNAVAILABLE);
  EXPECT_EQ(tokenwell_wait(tw, "redis", 0, 0, nullptr), TOKENWELL_ETIMEOUT);

  SystemClock clock;
  auto w = SegmentWriter::open(dir.path(), {4, 1024}, clock);
  ASSERT_TRUE(w.ok());
  SlotValue v;
  v.username = "u";
  v.secret = "t";
  ASSERT_TRUE((*w)->publish("redis", v).ok());
  EXPECT_EQ(tokenwell_read_entry(tw, "redis", 0, &e), TOKENWELL_OK);
  EXPECT_EQ(tokenwell_list(tw, names, sizeof names, nullptr), TOKENWELL_OK);
  tokenwell_close(tw);
}

TEST(OpenV2, WaitOnAMissingSegmentReturnsWhenTheAgentPublishes) {
  TempDir dir;
  const auto run_dir = dir / "run";  // not even the directory exists yet
  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open_v2(run_dir.c_str(), TOKENWELL_OPEN_MISSING_OK, &tw), TOKENWELL_OK);
  std::uint64_t got = 0;
  int rc = -1;
  std::thread waiter([&] { rc = tokenwell_wait(tw, "redis", 0, 30000, &got); });
  SystemClock clock;
  std::filesystem::create_directory(run_dir);
  auto w = SegmentWriter::open(run_dir, {4, 1024}, clock);
  ASSERT_TRUE(w.ok());
  SlotValue v;
  v.secret = "t";
  auto g = (*w)->publish("redis", v);
  ASSERT_TRUE(g.ok());
  waiter.join();
  EXPECT_EQ(rc, TOKENWELL_OK);
  EXPECT_EQ(got, *g);
  tokenwell_close(tw);
}

TEST(OpenV2, MissingOkStillFailsOnASegmentThatIsThereButBroken) {
  TempDir dir;
  std::ofstream(dir / "segment") << "not a segment";
  tokenwell* tw = nullptr;
  EXPECT_EQ(tokenwell_open_v2(dir.path().c_str(), TOKENWELL_OPEN_MISSING_OK, &tw), TOKENWELL_EFORMAT);
  EXPECT_EQ(tw, nullptr);
}

// ---- codes and versions --------------------------------------------------------

TEST(Codes, StrerrorPointsOtherHeadersRangesToTheirOwnText) {
  for (int code = TOKENWELL_OK; code <= TOKENWELL_ESYSTEM; ++code)
    EXPECT_STRNE(tokenwell_strerror(code), "unknown error code") << code;
  EXPECT_NE(std::string(tokenwell_strerror(100)).find("tokenwell_jwt_strerror"), std::string::npos);
  EXPECT_NE(std::string(tokenwell_strerror(199)).find("tokenwell_jwt_strerror"), std::string::npos);
  EXPECT_NE(std::string(tokenwell_strerror(200)).find("tokenwell_hiredis_strerror"), std::string::npos);
  EXPECT_STREQ(tokenwell_strerror(99), "unknown error code");
  EXPECT_STREQ(tokenwell_strerror(300), "unknown error code");
  EXPECT_STREQ(tokenwell_strerror(-1), "unknown error code");
}

}  // namespace
}  // namespace tw
