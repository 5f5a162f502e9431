// segment_writer.cpp -- publishes values into the segment (latch protocol).
//
// Writer side of the protocol, per slot:
//   seq.store(s + 1, relaxed); fence(release);   // readers move to copy 1
//   relaxed word stores into copy 0;
//   seq.store(s + 2, release);                   // readers move to copy 0
//   relaxed word stores into copy 1;
// Whatever instant the writer dies at, the copy the sequence selects is whole.
// A writer that adopts a segment first makes both copies equal to the stable
// one, so the next publish never exposes a copy a dead writer left torn.
#include "tokenwell/agent/segment/segment_writer.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <unordered_map>

#include "tokenwell/agent/common/credential_text.hpp"
#include "tokenwell/agent/common/temporary_file.hpp"

extern "C" {
#include "internal.h"  // tw_validate_header: one check of a header, shared with the reader
#include "segment_format.h"
}

namespace tw {
namespace {

constexpr std::size_t kMaxFieldBytes = 1u << 20;  // per secret / public value

std::string errno_text(std::string_view what, const std::filesystem::path& p) {
  return std::string(what) + " " + p.string() + ": " + std::strerror(errno);
}

// The lock, a segment to adopt: a regular file of the agent's own, never
// through a symlink -- a file someone else made there would otherwise
// receive every secret, or let them hold the lock.
Result<void> check_own_file(int fd, const std::filesystem::path& p) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return make_error(errno_text("cannot stat", p));
  if (!S_ISREG(st.st_mode)) return make_error(p.string() + " is not a regular file");
  if (st.st_uid != ::geteuid())
    return make_error(p.string() + " is owned by uid " + std::to_string(st.st_uid) + ", not by the agent (uid " +
                      std::to_string(::geteuid()) + "); remove it");
  return {};
}

// Gives an open segment file its group and mode, checking each call.
Result<void> apply_access(int fd, const SegmentAccess& access, const std::filesystem::path& p) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return make_error(errno_text("cannot stat", p));
  if (access.group && st.st_gid != *access.group && ::fchown(fd, static_cast<uid_t>(-1), *access.group) != 0) {
    const std::string why = std::strerror(errno);
    return make_error("cannot give " + p.string() + " group " + std::to_string(*access.group) + ": " + why +
                      (errno == EPERM ? " (the agent is not a member of that group)" : ""));
  }
  if (::fchmod(fd, access.mode) != 0) return make_error(errno_text("cannot chmod", p));
  return {};
}

template <typename T>
std::atomic_ref<T> shared(void* p) {
  return std::atomic_ref<T>(*static_cast<T*>(p));
}
template <typename T>
T load_relaxed(const void* p) {
  return std::atomic_ref<T>(*static_cast<T*>(const_cast<void*>(p))).load(std::memory_order_relaxed);
}

void futex_wake_all(void* word) {
  syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

std::uint32_t next_pow2(std::uint64_t n) {
  std::uint64_t p = 1024;
  while (p < n) p <<= 1;
  return static_cast<std::uint32_t>(p);
}

std::uint64_t data_size(std::size_t name, std::size_t user, std::size_t secret,
                        std::size_t pub) {
  return TW_SEG_ALIGN8(name) + TW_SEG_ALIGN8(user) + TW_SEG_ALIGN8(secret) + TW_SEG_ALIGN8(pub);
}

// A read-write mapping of one segment file.
struct Mapping {
  int fd = -1;  // kept open: set_access() changes the file it maps
  unsigned char* base = nullptr;
  std::size_t size = 0;
  std::uint32_t slot_count = 0;
  std::uint32_t slot_size = 0;
  std::uint32_t copy_size = 0;

  tw_seg_header* header() const { return reinterpret_cast<tw_seg_header*>(base); }
  unsigned char* slot(std::uint32_t i) const {
    return base + TW_SEG_HEADER_SIZE + static_cast<std::size_t>(i) * slot_size;
  }
  tw_seg_slot_header* slot_header(std::uint32_t i) const {
    return reinterpret_cast<tw_seg_slot_header*>(slot(i));
  }
  unsigned char* copy(std::uint32_t i, std::uint32_t which) const {
    return slot(i) + TW_SEG_SLOT_HEADER_SIZE + static_cast<std::size_t>(which) * copy_size;
  }
  std::uint32_t capacity() const { return copy_size - TW_SEG_COPY_HEADER_SIZE; }
  // The copy readers currently select. Only the (single) writer calls this,
  // so the copy cannot change underneath it.
  unsigned char* stable_copy(std::uint32_t i) const {
    return copy(i, load_relaxed<std::uint32_t>(&slot_header(i)->seq) & 1u);
  }
  void unmap() {
    if (base != nullptr) munmap(base, size);
    base = nullptr;
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// Stores `bytes` (a multiple of 8) into shared memory with relaxed word
// stores; calls `midway` after the first half (test hook).
void store_words(unsigned char* dst, const std::uint64_t* src, std::size_t words,
                 const std::function<void()>& midway) {
  const std::size_t half = words / 2;
  for (std::size_t i = 0; i < words; ++i) {
    if (i == half && midway) midway();
    shared<std::uint64_t>(dst + i * 8).store(src[i], std::memory_order_relaxed);
  }
}

// A whole copy image (header + data) composed in private memory.
struct CopyImage {
  std::vector<std::uint64_t> words;
  ~CopyImage() { explicit_bzero(words.data(), words.size() * 8); }

  static CopyImage compose(std::string_view name, const SlotValue& v, std::uint64_t generation,
                           std::int64_t now_ms) {
    CopyImage img;
    const std::uint64_t data =
        data_size(name.size(), v.username.size(), v.secret.size(), v.public_data.size());
    img.words.assign((TW_SEG_COPY_HEADER_SIZE + data) / 8, 0);
    auto* bytes = reinterpret_cast<unsigned char*>(img.words.data());
    tw_seg_copy_header h{};
    h.generation = generation;
    h.expires_at = v.expires_at;
    h.updated_ms = now_ms;
    h.kind = static_cast<std::uint32_t>(v.kind);
    h.flags = v.has_value ? TW_SEG_COPY_HAS_VALUE : 0;
    h.name_len = static_cast<std::uint16_t>(name.size());
    h.username_len = static_cast<std::uint16_t>(v.username.size());
    h.secret_len = static_cast<std::uint32_t>(v.secret.size());
    h.public_len = static_cast<std::uint32_t>(v.public_data.size());
    std::memcpy(bytes, &h, sizeof h);
    std::size_t off = TW_SEG_COPY_HEADER_SIZE;
    for (std::string_view field : {name, v.username, v.secret, v.public_data}) {
      if (!field.empty()) std::memcpy(bytes + off, field.data(), field.size());
      off += TW_SEG_ALIGN8(field.size());
    }
    return img;
  }

  // The stable copy of a slot, as is (used when moving slots to a new file).
  static CopyImage snapshot(const Mapping& m, std::uint32_t slot) {
    CopyImage img;
    const unsigned char* src = m.stable_copy(slot);
    tw_seg_copy_header h;
    for (std::size_t i = 0; i < sizeof h / 8; ++i) {
      const auto w = load_relaxed<std::uint64_t>(src + i * 8);
      std::memcpy(reinterpret_cast<unsigned char*>(&h) + i * 8, &w, 8);
    }
    const std::uint64_t data = data_size(h.name_len, h.username_len, h.secret_len, h.public_len);
    if (data > m.capacity() || h.name_len > TOKENWELL_NAME_MAX ||
        h.username_len > TOKENWELL_USERNAME_MAX) {
      // Not a copy this code wrote: treat the slot as free.
      img.words.assign(TW_SEG_COPY_HEADER_SIZE / 8, 0);
      return img;
    }
    img.words.resize((TW_SEG_COPY_HEADER_SIZE + data) / 8);
    for (std::size_t i = 0; i < img.words.size(); ++i)
      img.words[i] = load_relaxed<std::uint64_t>(src + i * 8);
    return img;
  }

  const tw_seg_copy_header& header() const {
    return *reinterpret_cast<const tw_seg_copy_header*>(words.data());
  }
  std::string_view field(int index) const {
    const auto& h = header();
    const std::size_t lens[4] = {h.name_len, h.username_len, h.secret_len, h.public_len};
    std::size_t off = TW_SEG_COPY_HEADER_SIZE;
    for (int i = 0; i < index; ++i) off += TW_SEG_ALIGN8(lens[i]);
    return {reinterpret_cast<const char*>(words.data()) + off, lens[index]};
  }
};

SlotInfo info_of(const CopyImage& img) {
  const auto& h = img.header();
  return SlotInfo{std::string(img.field(0)), static_cast<SlotKind>(h.kind),
                  std::string(img.field(1)), h.expires_at, h.generation, h.updated_ms,
                  (h.flags & TW_SEG_COPY_HAS_VALUE) != 0};
}

}  // namespace

static_assert(kMaxEntryNameBytes == TOKENWELL_NAME_MAX, "entry names fit a slot's name field");
static_assert(kMaxUsernameBytes == TOKENWELL_USERNAME_MAX, "usernames fit a slot's username field");

struct SegmentWriter::Impl {
  std::filesystem::path dir;
  std::filesystem::path path;
  const Clock& clock;
  SegmentAccess access;
  int lock_fd = -1;
  Mapping map;
  std::unordered_map<std::string, std::uint32_t> slots;  // name -> slot index
  WriteHook hook;

  Impl(std::filesystem::path d, const Clock& c, SegmentAccess a)
      : dir(std::move(d)), path(dir / "segment"), clock(c), access(a) {}
  ~Impl() {
    map.unmap();
    if (lock_fd >= 0) close(lock_fd);
  }

  // The current copy of `name`'s slot, read back from the mapping.
  std::optional<CopyImage> copy_of(std::string_view name) const {
    auto it = slots.find(std::string(name));
    if (it == slots.end()) return std::nullopt;
    return CopyImage::snapshot(map, it->second);
  }

  void heartbeat_now() {
    shared<std::uint64_t>(&map.header()->heartbeat_ms)
        .store(static_cast<std::uint64_t>(clock.unix_millis()), std::memory_order_relaxed);
  }

  Result<void> lock() {
    const auto lock_path = dir / "segment.lock";
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock_fd < 0) return make_error(errno_text("cannot open", lock_path));
    if (auto own = check_own_file(lock_fd, lock_path); !own) return own;
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return make_error("another tokenwell-agent holds " + lock_path.string());
      return make_error(errno_text("cannot lock", lock_path));
    }
    return {};
  }

  // Maps `fd` (and takes it over: the Mapping closes it).
  static Result<Mapping> map_rw(int fd, std::size_t size, const std::filesystem::path& p) {
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
      const auto err = errno_text("cannot map", p);
      ::close(fd);
      return make_error(err);
    }
    madvise(base, size, MADV_DONTDUMP);  // secrets stay out of core dumps
    Mapping m;
    m.fd = fd;
    m.base = static_cast<unsigned char*>(base);
    m.size = size;
    return m;
  }

  // Adopts an existing segment written by ABI 1, or returns an error saying
  // why it cannot (then a fresh file replaces it).
  Result<void> adopt() {
    int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return make_error(errno_text("cannot open", path));
    if (auto own = check_own_file(fd, path); !own) {
      ::close(fd);
      return own;
    }
    struct stat st{};
    if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(TW_SEG_HEADER_SIZE)) {
      close(fd);
      return make_error("segment too small: " + path.string());
    }
    if (auto set = apply_access(fd, access, path); !set) {
      ::close(fd);
      return set;
    }
    auto m = map_rw(fd, static_cast<std::size_t>(st.st_size), path);
    if (!m) return m.error();
    if (tw_validate_header(m->base, m->size) != TOKENWELL_OK ||
        m->header()->abi_version != TW_SEG_ABI_VERSION) {
      m->unmap();
      return make_error("segment format not adoptable: " + path.string());
    }
    m->slot_count = m->header()->slot_count;
    m->slot_size = m->header()->slot_size;
    m->copy_size = m->header()->copy_size;
    map = *m;
    for (std::uint32_t i = 0; i < map.slot_count; ++i) {
      stabilize(i);
      if (load_relaxed<std::uint64_t>(&map.slot_header(i)->name_hash) == 0) continue;
      CopyImage img = CopyImage::snapshot(map, i);
      if (img.header().kind == TW_SEG_KIND_FREE) continue;
      slots.emplace(std::string(img.field(0)), i);
    }
    shared<std::uint32_t>(&map.header()->writer_pid).store(static_cast<std::uint32_t>(getpid()));
    return {};
  }

  // Makes both copies of slot i equal to the one readers select now, so the
  // latch invariant holds again after a writer died mid-publish.
  void stabilize(std::uint32_t i) {
    auto* sh = map.slot_header(i);
    std::uint32_t seq = load_relaxed<std::uint32_t>(&sh->seq);
    CopyImage img = CopyImage::snapshot(map, i);
    if (seq & 1u) {  // readers use copy 1; copy 0 may be torn
      store_words(map.copy(i, 0), img.words.data(), img.words.size(), {});
      shared<std::uint32_t>(&sh->seq).store(seq + 1, std::memory_order_release);
    }
    // Now readers use copy 0; copy 1 may be torn.
    store_words(map.copy(i, 1), img.words.data(), img.words.size(), {});
  }

  // Creates a file with `layout`, moves every live slot into it (same
  // generations) and renames it over `segment`; the old file, if any, is
  // flagged REPLACED and its waiters woken.
  Result<void> create(SegmentLayout layout) {
    const std::uint32_t copy_size = TW_SEG_COPY_HEADER_SIZE + static_cast<std::uint32_t>(TW_SEG_ALIGN8(layout.data_capacity));
    const std::uint32_t slot_size = TW_SEG_SLOT_HEADER_SIZE + 2 * copy_size;
    const std::uint64_t size = TW_SEG_HEADER_SIZE + static_cast<std::uint64_t>(layout.slot_count) * slot_size;
    // An unpredictable name, created 0600 (private until apply_access sets
    // group and mode): nobody else can have planted a link or a file under it.
    auto created = create_temporary_file(dir, "segment.tmp.");
    if (!created) return created.error();
    const std::filesystem::path tmp = created->path;
    const int fd = created->fd;
    // Group and mode first (the umask must not widen or narrow the mode),
    // then the size: nothing is written to a file readers could not be
    // allowed to read.
    auto prepared = apply_access(fd, access, tmp);
    if (prepared && ::ftruncate(fd, static_cast<off_t>(size)) != 0)
      prepared = make_error(errno_text("cannot size", tmp));
    if (!prepared) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return prepared;
    }
    auto fresh = map_rw(fd, size, tmp);
    if (!fresh) {
      unlink(tmp.c_str());
      return fresh.error();
    }
    Mapping m = *fresh;
    m.slot_count = layout.slot_count;
    m.slot_size = slot_size;
    m.copy_size = copy_size;
    tw_seg_header h{};
    h.magic = TW_SEG_MAGIC;
    h.abi_version = TW_SEG_ABI_VERSION;
    h.compat_version = TW_SEG_COMPAT_VERSION;
    h.header_size = TW_SEG_HEADER_SIZE;
    h.slot_count = layout.slot_count;
    h.slot_size = slot_size;
    h.copy_size = copy_size;
    h.file_size = size;
    h.writer_pid = static_cast<std::uint32_t>(getpid());
    h.heartbeat_ms = static_cast<std::uint64_t>(clock.unix_millis());
    h.created_ms = h.heartbeat_ms;
    std::unordered_map<std::string, std::uint32_t> moved;
    if (map.base != nullptr) {
      h.last_generation = load_relaxed<std::uint64_t>(&map.header()->last_generation);
      std::uint32_t next = 0;
      for (const auto& [name, old_slot] : slots) {
        CopyImage img = CopyImage::snapshot(map, old_slot);
        store_words(m.copy(next, 0), img.words.data(), img.words.size(), {});
        store_words(m.copy(next, 1), img.words.data(), img.words.size(), {});
        auto* sh = m.slot_header(next);
        sh->generation = img.header().generation;
        sh->gen_futex = static_cast<std::uint32_t>(img.header().generation);
        sh->name_hash = tw_seg_name_hash(name.data(), name.size());
        moved.emplace(name, next++);
      }
    }
    std::memcpy(m.base, &h, sizeof h);
    if (rename(tmp.c_str(), path.c_str()) != 0) {
      const auto err = errno_text("cannot rename over", path);
      m.unmap();
      unlink(tmp.c_str());
      return make_error(err);
    }
    if (map.base != nullptr) retire(map);
    map = m;
    slots = std::move(moved);
    return {};
  }

  // Tells readers of an old mapping to remap, then unmaps it.
  static void retire(Mapping& old) {
    auto* h = old.header();
    shared<std::uint32_t>(&h->flags).fetch_or(TW_SEG_FLAG_REPLACED, std::memory_order_release);
    shared<std::uint32_t>(&h->change_seq).fetch_add(1, std::memory_order_release);
    futex_wake_all(&h->change_seq);
    for (std::uint32_t i = 0; i < old.slot_count; ++i) {
      auto* sh = old.slot_header(i);
      shared<std::uint32_t>(&sh->gen_futex).fetch_add(1, std::memory_order_release);
      futex_wake_all(&sh->gen_futex);
    }
    old.unmap();
  }

  Result<void> ensure_room(std::uint64_t data_needed, bool new_slot) {
    SegmentLayout want{map.slot_count, map.capacity()};
    if (data_needed > want.data_capacity) want.data_capacity = next_pow2(data_needed);
    if (new_slot && slots.size() >= map.slot_count) want.slot_count = map.slot_count * 2;
    if (want.slot_count == map.slot_count && want.data_capacity == map.capacity()) return {};
    return create(want);
  }

  std::uint32_t free_slot() const {
    std::vector<bool> used(map.slot_count, false);
    for (const auto& [name, i] : slots) used[i] = true;
    for (std::uint32_t i = 0; i < map.slot_count; ++i)
      if (!used[i]) return i;
    return map.slot_count;  // unreachable after ensure_room
  }

  // The latch write of one slot, then the wake-ups.
  void write_slot(std::uint32_t i, const CopyImage& img, std::uint64_t name_hash) {
    auto* sh = map.slot_header(i);
    auto seq = shared<std::uint32_t>(&sh->seq);
    const std::uint32_t s = seq.load(std::memory_order_relaxed);
    seq.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    store_words(map.copy(i, 0), img.words.data(), img.words.size(), [&] {
      if (hook) hook(WritePhase::first_copy_half_written);
    });
    seq.store(s + 2, std::memory_order_release);
    store_words(map.copy(i, 1), img.words.data(), img.words.size(), [&] {
      if (hook) hook(WritePhase::second_copy_half_written);
    });
    const std::uint64_t gen = img.header().generation;
    shared<std::uint64_t>(&sh->generation).store(gen, std::memory_order_release);
    shared<std::uint64_t>(&sh->name_hash).store(name_hash, std::memory_order_release);
    shared<std::uint32_t>(&sh->gen_futex).store(static_cast<std::uint32_t>(gen), std::memory_order_release);
    futex_wake_all(&sh->gen_futex);
    auto* h = map.header();
    shared<std::uint32_t>(&h->change_seq).fetch_add(1, std::memory_order_release);
    futex_wake_all(&h->change_seq);
  }

  std::uint64_t next_generation() {
    auto last = shared<std::uint64_t>(&map.header()->last_generation);
    const std::uint64_t gen = last.load(std::memory_order_relaxed) + 1;
    last.store(gen, std::memory_order_relaxed);
    return gen;
  }
};

SegmentWriter::SegmentWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SegmentWriter::~SegmentWriter() = default;

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::open(const std::filesystem::path& dir,
                                                           SegmentLayout layout,
                                                           const Clock& clock,
                                                           SegmentOptions options) {
  if (layout.slot_count == 0 || layout.data_capacity == 0)
    return make_error("segment layout needs at least one slot and some capacity");
  if (auto prepared = prepare_runtime_dir(dir, options.runtime_dir); !prepared) return prepared.error();
  auto impl = std::make_unique<Impl>(dir, clock, options.access);
  if (auto locked = impl->lock(); !locked) return locked.error();
  if (auto adopted = impl->adopt(); adopted) {
    SegmentLayout want{std::max(layout.slot_count, impl->map.slot_count),
                       std::max(layout.data_capacity, impl->map.capacity())};
    if (want.slot_count != impl->map.slot_count || want.data_capacity != impl->map.capacity()) {
      if (auto grown = impl->create(want); !grown) return grown.error();
    }
  } else if (auto created = impl->create(layout); !created) {
    return created.error();
  }
  impl->heartbeat_now();
  return std::unique_ptr<SegmentWriter>(new SegmentWriter(std::move(impl)));
}

Result<std::uint64_t> SegmentWriter::publish(std::string_view name, const SlotValue& value) {
  if (!valid_entry_name(name))
    return make_error("name '" + std::string(name.substr(0, TOKENWELL_NAME_MAX)) +
                      "' must be 1 to " + std::to_string(TOKENWELL_NAME_MAX) +
                      " characters of [A-Za-z0-9._-]");
  if (value.username.size() > TOKENWELL_USERNAME_MAX)
    return make_error("username of '" + std::string(name) + "' longer than " +
                      std::to_string(TOKENWELL_USERNAME_MAX) + " bytes");
  if (value.secret.size() > kMaxFieldBytes || value.public_data.size() > kMaxFieldBytes)
    return make_error("value of '" + std::string(name) + "' larger than the segment allows");
  auto& d = *impl_;
  auto it = d.slots.find(std::string(name));
  if (it != d.slots.end()) {
    // The same image with the slot's generation and time: equal words mean
    // an equal value.
    const CopyImage current = CopyImage::snapshot(d.map, it->second);
    const auto& h = current.header();
    if (CopyImage::compose(name, value, h.generation, h.updated_ms).words == current.words)
      return h.generation;
  }
  const std::uint64_t needed =
      data_size(name.size(), value.username.size(), value.secret.size(), value.public_data.size());
  if (auto room = d.ensure_room(needed, it == d.slots.end()); !room) return room.error();
  it = d.slots.find(std::string(name));  // slots move when the file grows
  const std::uint32_t slot = it != d.slots.end() ? it->second : d.free_slot();
  const std::uint64_t gen = d.next_generation();
  CopyImage img = CopyImage::compose(name, value, gen, d.clock.unix_millis());
  d.write_slot(slot, img, tw_seg_name_hash(name.data(), name.size()));
  d.slots.emplace(std::string(name), slot);
  return gen;
}

Result<void> SegmentWriter::remove(std::string_view name) {
  auto& d = *impl_;
  auto it = d.slots.find(std::string(name));
  if (it == d.slots.end()) return {};
  SlotValue empty;
  empty.has_value = false;
  CopyImage img = CopyImage::compose({}, empty, d.next_generation(), d.clock.unix_millis());
  auto& h = *reinterpret_cast<tw_seg_copy_header*>(img.words.data());
  h.kind = TW_SEG_KIND_FREE;
  d.write_slot(it->second, img, 0);
  d.slots.erase(it);
  return {};
}

Result<void> SegmentWriter::resize(SegmentLayout layout) {
  auto& d = *impl_;
  std::uint64_t largest = 0;
  for (const auto& [name, i] : d.slots) {
    const CopyImage img = CopyImage::snapshot(d.map, i);
    const auto& h = img.header();
    largest = std::max(largest, data_size(h.name_len, h.username_len, h.secret_len, h.public_len));
  }
  layout.slot_count = std::max<std::uint32_t>({layout.slot_count, 1u,
                                               static_cast<std::uint32_t>(d.slots.size())});
  if (layout.data_capacity < largest) layout.data_capacity = next_pow2(largest);
  return d.create(layout);
}

Result<void> SegmentWriter::set_access(SegmentAccess access) {
  if (auto r = apply_access(impl_->map.fd, access, impl_->path); !r) return r;
  impl_->access = access;
  return {};
}

void SegmentWriter::heartbeat() { impl_->heartbeat_now(); }

std::vector<SlotInfo> SegmentWriter::entries() const {
  std::vector<SlotInfo> out;
  for (const auto& [name, i] : impl_->slots) out.push_back(info_of(CopyImage::snapshot(impl_->map, i)));
  return out;
}

std::optional<SlotInfo> SegmentWriter::entry(std::string_view name) const {
  const auto img = impl_->copy_of(name);
  if (!img) return std::nullopt;
  return info_of(*img);
}

std::optional<StoredKeyset> SegmentWriter::keyset(std::string_view name) const {
  const auto img = impl_->copy_of(name);
  if (!img) return std::nullopt;
  const auto& h = img->header();
  if (h.kind != TW_SEG_KIND_KEYSET || !(h.flags & TW_SEG_COPY_HAS_VALUE)) return std::nullopt;
  return StoredKeyset{std::string(img->field(3)), Secret(img->field(2))};
}

std::optional<StoredCredential> SegmentWriter::credential(std::string_view name) const {
  const auto img = impl_->copy_of(name);
  if (!img) return std::nullopt;
  const auto& h = img->header();
  if (h.kind != TW_SEG_KIND_CREDENTIAL || !(h.flags & TW_SEG_COPY_HAS_VALUE)) return std::nullopt;
  return StoredCredential{std::string(img->field(1)), Secret(img->field(2)), h.expires_at, h.updated_ms,
                          h.generation};
}

SegmentLayout SegmentWriter::layout() const {
  return {impl_->map.slot_count, impl_->map.capacity()};
}
const std::filesystem::path& SegmentWriter::path() const { return impl_->path; }
void SegmentWriter::set_write_hook(WriteHook hook) { impl_->hook = std::move(hook); }

}  // namespace tw
