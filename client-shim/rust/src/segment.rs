//! One mapping of one segment file, and the latch read of a slot.
//!
//! The layout is docs/segment-format.md (client-shim/src/segment_format.h in
//! C). Everything read from the mapping goes through relaxed atomic loads:
//! the agent writes the same words concurrently, so a plain load (or a `&[u8]`
//! over the mapping) would be a data race in Rust's memory model. Atomic loads
//! of read-only memory are allowed for sizes the platform loads natively
//! (std::sync::atomic, "Atomic accesses to read-only memory"); on x86-64 and
//! arm64 they are ordinary loads.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use crate::error::{Error, Result};

pub(crate) const MAGIC: u32 = 0x4C57_4B54; // the bytes "TKWL"
pub(crate) const ABI_VERSION: u16 = 1;
pub(crate) const HEADER_SIZE: usize = 128;
pub(crate) const SLOT_HEADER_SIZE: usize = 64;
pub(crate) const COPY_HEADER_SIZE: usize = 64;
pub(crate) const MAX_SLOTS: u32 = 1 << 16;
pub(crate) const MAX_COPY_SIZE: u32 = 64 << 20;
pub(crate) const READ_RETRIES: usize = 1000;
/// Longest entry name, in bytes.
pub const NAME_MAX: usize = 64;
/// Longest username, in bytes.
pub const USERNAME_MAX: usize = 256;

pub(crate) const FLAG_REPLACED: u32 = 1;
pub(crate) const COPY_HAS_VALUE: u32 = 1;
pub(crate) const KIND_FREE: u32 = 0;
pub(crate) const KIND_CREDENTIAL: u32 = 1;
pub(crate) const KIND_KEYSET: u32 = 2;

// Header offsets.
const H_MAGIC: usize = 0;
const H_VERSIONS: usize = 4; // abi_version | compat_version << 16
const H_HEADER_SIZE: usize = 8;
const H_SLOT_COUNT: usize = 12;
const H_SLOT_SIZE: usize = 16;
const H_COPY_SIZE: usize = 20;
const H_FLAGS: usize = 32;
const H_WRITER_PID: usize = 36;
const H_HEARTBEAT_MS: usize = 40;
const H_CHANGE_SEQ: usize = 56;
// Slot header offsets.
const S_SEQ: usize = 0;
const S_GEN_FUTEX: usize = 4;
const S_NAME_HASH: usize = 16;

pub(crate) fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

/// FNV-1a 64 of a name, 0 stored as 1 (0 marks a free slot).
pub(crate) fn name_hash(name: &[u8]) -> u64 {
    let mut h: u64 = 14_695_981_039_346_656_037;
    for &b in name {
        h ^= u64::from(b);
        h = h.wrapping_mul(1_099_511_628_211);
    }
    if h == 0 { 1 } else { h }
}

/// What backs a mapping: the agent's file, or an image in memory.
enum Backing {
    Mmap,
    Heap(#[allow(dead_code)] Vec<u64>), // kept alive; read through `base`
}

/// One mapping of one segment file. Immutable after creation; the sizes are
/// read once, validated against the mapped size, and never read again.
pub(crate) struct Mapping {
    base: *const u8,
    size: usize,
    slot_count: u32,
    slot_size: u32,
    copy_size: u32,
    backing: Backing,
    /// The mapped file, to tell whether `segment` now names another one.
    pub(crate) file_id: Option<(u64, u64)>,
}

// The mapping is only ever read, with atomic loads.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Backing::Mmap = self.backing {
            unsafe { libc::munmap(self.base as *mut libc::c_void, self.size) };
        }
    }
}

/// The decoded copy header of one consistent snapshot.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct CopyHeader {
    pub generation: u64,
    pub expires_at: i64,
    pub kind: u32,
    pub flags: u32,
    pub name_len: u64,
    pub username_len: u64,
    pub secret_len: u64,
    pub public_len: u64,
}

/// Bytes that may hold a secret: zeroed (whole capacity) when dropped, so a
/// read that copied a secret and then failed leaves none of it behind.
#[derive(Default)]
pub(crate) struct SecretBytes(pub Vec<u8>);

impl Drop for SecretBytes {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

pub(crate) fn wipe(v: &mut Vec<u8>) {
    let p = v.as_mut_ptr();
    for i in 0..v.capacity() {
        unsafe { std::ptr::write_volatile(p.add(i), 0) };
    }
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// Which data fields a read copies out (the name always is).
#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub username: bool,
    pub secret: bool,
    pub public: bool,
}

impl Fields {
    pub const NONE: Fields = Fields {
        username: false,
        secret: false,
        public: false,
    };
}

/// One consistent read of a slot's current copy.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub hdr: CopyHeader,
    pub name: Vec<u8>,
    pub username: Vec<u8>,
    pub secret: SecretBytes,
    pub public: Vec<u8>,
}

impl Mapping {
    /// Maps `path` read-only and validates its header.
    pub(crate) fn map_file(path: &Path) -> Result<Mapping> {
        // Non-blocking: a FIFO planted under the name must not hang the caller.
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|_| Error::EUnavailable)?;
        let meta = file.metadata().map_err(|_| Error::ESystem)?;
        if !meta.file_type().is_file() || meta.len() < HEADER_SIZE as u64 {
            return Err(Error::EFormat);
        }
        let size = usize::try_from(meta.len()).map_err(|_| Error::EFormat)?;
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::ESystem);
        }
        // Tokens stay out of core dumps.
        unsafe { libc::madvise(base, size, libc::MADV_DONTDUMP) };
        let mut m = Mapping {
            base: base as *const u8,
            size,
            slot_count: 0,
            slot_size: 0,
            copy_size: 0,
            backing: Backing::Mmap,
            file_id: Some((meta.dev(), meta.ino())),
        };
        m.validate()?; // drops (unmaps) on error
        Ok(m)
    }

    /// A private copy of a segment image (tests, fuzzing, post-mortems).
    pub(crate) fn from_bytes(image: &[u8]) -> Result<Mapping> {
        let mut words = vec![0u64; image.len().div_ceil(8)];
        for (w, chunk) in words.iter_mut().zip(image.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_le_bytes(b);
        }
        let mut m = Mapping {
            base: words.as_ptr() as *const u8,
            size: image.len(),
            slot_count: 0,
            slot_size: 0,
            copy_size: 0,
            backing: Backing::Heap(words),
            file_id: None,
        };
        m.validate()?;
        Ok(m)
    }

    /// Checks the header against the mapped size (docs: "Sizes a reader
    /// accepts") and records the sizes.
    fn validate(&mut self) -> Result<()> {
        if self.size < HEADER_SIZE || self.load32(H_MAGIC) != MAGIC {
            return Err(Error::EFormat);
        }
        let compat = (self.load32(H_VERSIONS) >> 16) as u16;
        if compat > ABI_VERSION {
            return Err(Error::EVersion);
        }
        let header_size = self.load32(H_HEADER_SIZE);
        let slot_count = self.load32(H_SLOT_COUNT);
        let slot_size = self.load32(H_SLOT_SIZE);
        let copy_size = self.load32(H_COPY_SIZE);
        if header_size as usize != HEADER_SIZE
            || slot_count == 0
            || slot_count > MAX_SLOTS
            || copy_size < COPY_HEADER_SIZE as u32 + 8
            || copy_size > MAX_COPY_SIZE
            || !copy_size.is_multiple_of(8)
            || !slot_size.is_multiple_of(8)
            || u64::from(slot_size) < SLOT_HEADER_SIZE as u64 + 2 * u64::from(copy_size)
        {
            return Err(Error::EFormat);
        }
        let need = HEADER_SIZE as u64 + u64::from(slot_count) * u64::from(slot_size);
        if need > self.size as u64 {
            return Err(Error::EFormat);
        }
        self.slot_count = slot_count;
        self.slot_size = slot_size;
        self.copy_size = copy_size;
        Ok(())
    }

    // ---- atomic loads at offsets (all offsets are naturally aligned and
    // inside the validated size) ----

    fn atomic32(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off.is_multiple_of(4) && off + 4 <= self.size);
        unsafe { &*(self.base.add(off) as *const AtomicU32) }
    }

    fn atomic64(&self, off: usize) -> &AtomicU64 {
        debug_assert!(off.is_multiple_of(8) && off + 8 <= self.size);
        unsafe { &*(self.base.add(off) as *const AtomicU64) }
    }

    fn load32(&self, off: usize) -> u32 {
        self.atomic32(off).load(Ordering::Relaxed)
    }

    fn load64(&self, off: usize) -> u64 {
        self.atomic64(off).load(Ordering::Relaxed)
    }

    pub(crate) fn slot_count(&self) -> u32 {
        self.slot_count
    }

    pub(crate) fn flags(&self) -> u32 {
        self.load32(H_FLAGS)
    }

    pub(crate) fn writer_pid(&self) -> i32 {
        self.load32(H_WRITER_PID) as i32
    }

    pub(crate) fn heartbeat_ms(&self) -> i64 {
        self.load64(H_HEARTBEAT_MS) as i64
    }

    /// The header's futex word, bumped on every publish.
    pub(crate) fn change_seq(&self) -> &AtomicU32 {
        self.atomic32(H_CHANGE_SEQ)
    }

    fn slot_offset(&self, i: u32) -> usize {
        HEADER_SIZE + i as usize * self.slot_size as usize
    }

    /// Slot `i`'s futex word: the low 32 bits of its generation.
    pub(crate) fn gen_futex(&self, i: u32) -> &AtomicU32 {
        self.atomic32(self.slot_offset(i) + S_GEN_FUTEX)
    }

    pub(crate) fn slot_name_hash(&self, i: u32) -> u64 {
        self.load64(self.slot_offset(i) + S_NAME_HASH)
    }

    /// Appends `len` bytes at `off` (8-aligned) with relaxed word loads. The
    /// last word may reach up to align8(len): the caller checked that the
    /// aligned lengths fit in the copy.
    fn copy_words(&self, off: usize, len: usize, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(len);
        let mut i = 0;
        while i < len {
            let w = self.load64(off + i).to_le_bytes();
            let n = (len - i).min(8);
            out.extend_from_slice(&w[..n]);
            i += 8;
        }
    }

    fn copy_header(&self, copy: usize) -> CopyHeader {
        let w = |k: usize| self.load64(copy + 8 * k);
        let (w3, w4, w5) = (w(3), w(4), w(5));
        CopyHeader {
            generation: w(0),
            expires_at: w(1) as i64,
            kind: w3 as u32,
            flags: (w3 >> 32) as u32,
            name_len: w4 & 0xffff,
            username_len: (w4 >> 16) & 0xffff,
            secret_len: w4 >> 32,
            public_len: w5 & 0xffff_ffff,
        }
    }

    /// Reads slot `i`'s current copy consistently (the latch protocol):
    /// acquire load of `seq`, relaxed loads of the copy it selects, acquire
    /// fence, `seq` again. Lengths are checked on the snapshot before a byte
    /// is copied. `EBUSY` after 1,000 attempts; `EFORMAT` for a stable copy
    /// whose lengths do not fit.
    pub(crate) fn read_slot(&self, i: u32, fields: Fields, snap: &mut Snapshot) -> Result<()> {
        let slot = self.slot_offset(i);
        let seq_word = self.atomic32(slot + S_SEQ);
        let cap = u64::from(self.copy_size) - COPY_HEADER_SIZE as u64;
        for _ in 0..READ_RETRIES {
            let seq = seq_word.load(Ordering::Acquire);
            let copy = slot + SLOT_HEADER_SIZE + (seq & 1) as usize * self.copy_size as usize;
            let h = self.copy_header(copy);
            let lens = [h.name_len, h.username_len, h.secret_len, h.public_len];
            let total: u64 = lens.iter().map(|&l| align8(l)).sum();
            let sane = total <= cap && h.name_len <= NAME_MAX as u64 && h.username_len <= USERNAME_MAX as u64;
            if sane {
                let data = copy + COPY_HEADER_SIZE;
                let mut off = data;
                let wanted = [true, fields.username, fields.secret, fields.public];
                for (f, &len) in lens.iter().enumerate() {
                    if wanted[f] {
                        let out = match f {
                            0 => &mut snap.name,
                            1 => &mut snap.username,
                            2 => &mut snap.secret.0,
                            _ => &mut snap.public,
                        };
                        self.copy_words(off, len as usize, out);
                    }
                    off += align8(len) as usize;
                }
            }
            fence(Ordering::Acquire);
            if seq_word.load(Ordering::Relaxed) != seq {
                continue;
            }
            if !sane {
                return Err(Error::EFormat);
            }
            snap.hdr = h;
            return Ok(());
        }
        Err(Error::EBusy)
    }

    /// Finds entry `name` and reads it: the slot index on success. Keeps
    /// scanning past a hash match whose copy holds another name (a collision,
    /// or the slot changed hands). `ENOTFOUND` when no slot holds it, else
    /// the last error a matching slot gave.
    pub(crate) fn find_and_read(&self, name: &[u8], fields: Fields, snap: &mut Snapshot) -> Result<u32> {
        let hash = name_hash(name);
        let mut err = Error::ENotFound;
        for i in 0..self.slot_count {
            if self.slot_name_hash(i) != hash {
                continue;
            }
            if let Err(e) = self.read_slot(i, fields, snap) {
                err = e;
                continue;
            }
            if snap.hdr.kind == KIND_FREE || snap.name != name {
                continue;
            }
            return Ok(i);
        }
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hash_is_fnv1a_64() {
        // Published FNV-1a 64 test values.
        assert_eq!(name_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(name_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn align8_rounds_up() {
        assert_eq!((align8(0), align8(1), align8(8), align8(9)), (0, 8, 8, 16));
    }
}
