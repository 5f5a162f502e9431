package tokenwell

// The reader side of the shared-memory segment, ABI 1 (docs/segment-format.md;
// client-shim/src/tokenwell.c is the reference reader this mirrors).
//
// Every load from the mapping is a sync/atomic load: the latch's sequence
// counter and the copies' words alike. Go's atomics are sequentially
// consistent, which is stronger than the relaxed loads + acquire fence the
// format asks for, and correct. Lengths from shared memory are checked
// against the copy's capacity before a byte is copied, so a torn or hostile
// segment can make a read fail but never read outside the mapping.

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Layout constants of ABI 1.
const (
	segMagic          = 0x4C574B54 // the bytes "TKWL"
	segABIVersion     = 1
	segHeaderSize     = 128
	slotHeaderSize    = 64
	copyHeaderSize    = 64
	maxSlots          = 1 << 16
	maxCopySize       = 64 << 20
	readRetries       = 1000 // latch attempts per read, then EBUSY
	segFlagReplaced   = 1
	copyFlagHasValue  = 1
	kindFree          = 0
	segmentFileName   = "segment"
	defaultRuntimeDir = "/run/tokenwell"
)

// Header offsets.
const (
	offMagic      = 0
	offVersions   = 4 // abi_version u16 | compat_version u16 << 16
	offHeaderSize = 8
	offSlotCount  = 12
	offSlotSize   = 16
	offCopySize   = 20
	offFlags      = 32
	offWriterPID  = 36
	offHeartbeat  = 40
	offChangeSeq  = 56
)

// Slot header offsets.
const (
	offSlotSeq      = 0
	offSlotGenFutex = 4
	offSlotNameHash = 16
)

// Limits of the values (tokenwell.h TOKENWELL_NAME_MAX, TOKENWELL_USERNAME_MAX).
const (
	NameMax     = 64
	UsernameMax = 256
)

// Kind of an entry, as Stat reports it (TOKENWELL_KIND_*).
type Kind uint32

const (
	KindCredential Kind = 1
	KindKeyset     Kind = 2
)

// mapping is one read-only mapping of one segment file. Immutable after
// creation; the sizes are read once, here, and never again from shared memory.
type mapping struct {
	data                          []byte
	slotCount, slotSize, copySize uint32
	dev, ino                      uint64
}

func (m *mapping) load32(off uint64) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&m.data[off])))
}

func (m *mapping) load64(off uint64) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&m.data[off])))
}

func (m *mapping) slotOffset(i uint32) uint64 {
	return segHeaderSize + uint64(i)*uint64(m.slotSize)
}

func (m *mapping) copyOffset(i, which uint32) uint64 {
	return m.slotOffset(i) + slotHeaderSize + uint64(which)*uint64(m.copySize)
}

// copyWords copies n bytes at off (8-aligned) into a new slice with atomic
// word loads. The last word is read whole: fields are padded to 8 bytes and
// the caller checked that the padded length fits in the copy.
func (m *mapping) copyWords(off uint64, n uint64) []byte {
	out := make([]byte, (n+7)&^7)
	for i := uint64(0); i < n; i += 8 {
		binary.LittleEndian.PutUint64(out[i:], m.load64(off+i))
	}
	return out[:n]
}

// validateHeader checks the fixed header of a segment image of size bytes
// (from fstat, never from the header's file_size).
func validateHeader(m *mapping) Code {
	size := uint64(len(m.data))
	if size < segHeaderSize {
		return EFORMAT
	}
	if m.load32(offMagic) != segMagic {
		return EFORMAT
	}
	if compat := m.load32(offVersions) >> 16; compat > segABIVersion {
		return EVERSION
	}
	headerSize := uint64(m.load32(offHeaderSize))
	slotCount := uint64(m.load32(offSlotCount))
	slotSize := uint64(m.load32(offSlotSize))
	copySize := uint64(m.load32(offCopySize))
	switch {
	case headerSize != segHeaderSize,
		slotCount == 0 || slotCount > maxSlots,
		copySize < copyHeaderSize+8 || copySize > maxCopySize || copySize%8 != 0,
		slotSize%8 != 0 || slotSize < slotHeaderSize+2*copySize,
		headerSize+slotCount*slotSize > size:
		return EFORMAT
	}
	m.slotCount, m.slotSize, m.copySize = uint32(slotCount), uint32(slotSize), uint32(copySize)
	return OK
}

// mapFile maps path read-only and validates it.
func mapFile(path string) (*mapping, Code, error) {
	// Non-blocking: a FIFO planted under the name must not hang the caller.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, EUNAVAILABLE, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, ESYSTEM, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < segHeaderSize {
		return nil, EFORMAT, nil
	}
	data, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, ESYSTEM, err
	}
	_ = unix.Madvise(data, unix.MADV_DONTDUMP) // tokens stay out of core dumps
	m := &mapping{data: data, dev: uint64(st.Dev), ino: st.Ino}
	if code := validateHeader(m); code != OK {
		_ = unix.Munmap(data)
		return nil, code, nil
	}
	return m, OK, nil
}

func (m *mapping) unmap() {
	if m.data != nil {
		_ = unix.Munmap(m.data)
		m.data = nil
	}
}

// copyHeader is a copy header as loaded in one snapshot.
type copyHeader struct {
	generation  uint64
	expiresAt   int64
	kind        uint32
	flags       uint32
	nameLen     uint64
	usernameLen uint64
	secretLen   uint64
	publicLen   uint64
}

func decodeCopyHeader(w *[8]uint64) copyHeader {
	return copyHeader{
		generation:  w[0],
		expiresAt:   int64(w[1]),
		kind:        uint32(w[3]),
		flags:       uint32(w[3] >> 32),
		nameLen:     w[4] & 0xffff,
		usernameLen: (w[4] >> 16) & 0xffff,
		secretLen:   w[4] >> 32,
		publicLen:   w[5] & 0xffffffff,
	}
}

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// Which data fields a read copies out besides the name.
type fieldSet uint8

const (
	wantUsername fieldSet = 1 << iota
	wantSecret
	wantPublic
)

// snapshot is one consistent read of a slot's copy.
type snapshot struct {
	hdr                      copyHeader
	name                     string
	username, secret, public []byte
}

// readSlot reads slot i's current copy with the latch protocol. OK, EBUSY
// (retries exhausted) or EFORMAT (a stable copy whose lengths do not fit).
func (m *mapping) readSlot(i uint32, want fieldSet) (snapshot, Code) {
	seqOff := m.slotOffset(i) + offSlotSeq
	capacity := uint64(m.copySize) - copyHeaderSize
	for attempt := 0; attempt < readRetries; attempt++ {
		seq := m.load32(seqOff)
		copyOff := m.copyOffset(i, seq&1)
		var words [8]uint64
		for w := range words {
			words[w] = m.load64(copyOff + uint64(w)*8)
		}
		var s snapshot
		s.hdr = decodeCopyHeader(&words)
		lens := [4]uint64{s.hdr.nameLen, s.hdr.usernameLen, s.hdr.secretLen, s.hdr.publicLen}
		var offs [4]uint64
		end := uint64(0)
		for f, n := range lens {
			offs[f] = end
			end += align8(n)
		}
		sane := end <= capacity && lens[0] <= NameMax && lens[1] <= UsernameMax
		if sane {
			data := copyOff + copyHeaderSize
			s.name = string(m.copyWords(data+offs[0], lens[0]))
			if want&wantUsername != 0 {
				s.username = m.copyWords(data+offs[1], lens[1])
			}
			if want&wantSecret != 0 {
				s.secret = m.copyWords(data+offs[2], lens[2])
			}
			if want&wantPublic != 0 {
				s.public = m.copyWords(data+offs[3], lens[3])
			}
		}
		if m.load32(seqOff) != seq {
			clear(s.secret) // torn: drop what was copied, try again
			continue
		}
		if !sane {
			return snapshot{}, EFORMAT
		}
		return s, OK
	}
	return snapshot{}, EBUSY
}

// nameHash is FNV-1a 64 of the name; 0 is stored as 1 (0 marks a free slot).
func nameHash(name string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	if h == 0 {
		return 1
	}
	return h
}

// find reads the slot holding entry name. ENOTFOUND when no slot holds a
// copy of that name with a kind; EBUSY/EFORMAT when the only candidates
// could not be read.
func (m *mapping) find(name string, want fieldSet) (snapshot, uint32, Code) {
	hash := nameHash(name)
	miss := ENOTFOUND
	for i := uint32(0); i < m.slotCount; i++ {
		if m.load64(m.slotOffset(i)+offSlotNameHash) != hash {
			continue
		}
		s, code := m.readSlot(i, want)
		if code != OK {
			miss = code
			continue
		}
		if s.hdr.kind == kindFree || s.name != name {
			clear(s.secret)
			continue // a hash collision, or the slot changed hands meanwhile
		}
		return s, i, OK
	}
	return snapshot{}, 0, miss
}

func (m *mapping) replaced() bool { return m.load32(offFlags)&segFlagReplaced != 0 }
