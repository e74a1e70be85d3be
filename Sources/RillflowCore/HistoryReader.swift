#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// A read-only memory mapping of a segment file's first `length` bytes.
final class SegmentMapping {
    let base: UnsafeRawPointer
    let length: Int

    init?(fd: Int32, length: Int) {
        guard length > 0, let mapped = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED else { return nil }
        base = UnsafeRawPointer(mapped)
        self.length = length
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }
}

/// Reads one run's event records from its segment files, in seq order, from a given seq.
///
/// Records are returned as pointers into mappings of the files, valid until
/// `releaseViews()` (mappings replaced meanwhile are held until then). Damaged bytes are
/// reported once each, as a `corrupt` error naming the file and offset, and skipped (the
/// reader finds the next intact record); a gap in the seqs is reported once, as
/// `sequenceUnavailable`. What no intact record follows at the end of a segment (a record cut
/// short, or zeros) is a write in progress (the segment a live run is writing) or a torn tail
/// (then it is counted and the history ends before it); a record whose length runs past the
/// end while intact records follow it is damage.
final class HistoryReader {
    let store: HistoryStore
    let runId: UInt64
    /// The run is being written: the last segment may grow and new ones may appear.
    let live: Bool
    private(set) var sources: [UInt32: RunIdentity] = [:]
    private(set) var corruptRecords: UInt64 = 0
    private(set) var tornBytes: UInt64 = 0
    private(set) var segmentsRead: UInt64 = 0
    private(set) var bytesRead: UInt64 = 0

    private var segments: [HistoryStore.SegmentName]
    private var index: Int
    private var fd: Int32 = -1
    private var mapping: SegmentMapping?
    private var offset = 0
    /// The current segment's header has been checked (records start after it).
    private var headerChecked = false
    private var held: [SegmentMapping] = []
    /// The last seq returned (or the one before the first wanted).
    private var lastSeq: UInt64
    /// A damaged region was just skipped: the next record's seq is taken as it comes.
    private var resynced = false
    /// A segment was found deleted, which reported its events unavailable: the gap before the
    /// next record is not reported again.
    private var gapReported = false

    /// Starts at `startSeq` (or the oldest record when 0). Throws `notFound` when the run has
    /// no history, `sequenceUnavailable` when `startSeq` is older than its oldest segment.
    init(store: HistoryStore, runId: UInt64, startSeq: UInt64, live: Bool) throws(RillflowError) {
        self.store = store
        self.runId = runId
        self.live = live
        guard let segments = store.segments(ofRun: runId), !segments.isEmpty else {
            throw RillflowError(.notFound, "run \(runId) has no durable history in \(store.options.directory) (a sub-workflow's events are in its root run's history)")
        }
        self.segments = segments
        if startSeq == 0 {
            index = 0
            lastSeq = 0
            resynced = true
        } else {
            guard let found = segments.lastIndex(where: { $0.firstSeq <= startSeq }) else {
                throw RillflowError(.sequenceUnavailable, "seq \(startSeq) of run \(runId) is no longer in the durable history; its oldest seq is \(segments[0].firstSeq)")
            }
            index = found
            lastSeq = startSeq - 1
        }
        try open(index)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The identity behind a record's source index (the run itself when unknown).
    func identity(_ source: UInt32, fallback: RunIdentity) -> RunIdentity { sources[source] ?? fallback }

    /// Views returned so far may now be invalidated.
    func releaseViews() { held.removeAll(keepingCapacity: true) }

    /// The next event record after the last one returned, or nil when none is there (yet).
    /// `first`: nothing was returned since the last `releaseViews`, so an error may be thrown
    /// now; otherwise damage is left for the next call that is first.
    func next(first: Bool) throws(RillflowError) -> UnsafeRawPointer? {
        while true {
            guard let mapping, mapping.length >= HistoryFormat.segmentHeaderSize || headerChecked else {
                if try moveOn(first: first) { continue }
                return nil
            }
            if !headerChecked {
                if let problem = HistoryFormat.headerProblem(mapping.base, length: mapping.length, runId: runId) {
                    guard first else { return nil }
                    corruptRecords += 1
                    offset = mapping.length
                    headerChecked = true
                    resynced = true
                    throw RillflowError(.corrupt, "run \(runId)'s history segment \(segments[index].path) is unreadable: \(problem)")
                }
                headerChecked = true
                offset = HistoryFormat.segmentHeaderSize
            }
            let record = mapping.base + offset
            switch HistoryFormat.check(record, available: mapping.length - offset) {
            case .valid(let length):
                let kind = record.load(fromByteOffset: EventRecord.kindOffset, as: UInt16.self)
                if kind == HistoryFormat.identityKind {
                    if let (source, identity) = HistoryFormat.readIdentityRecord(record) { sources[source] = identity }
                    offset += length
                    continue
                }
                let seq = record.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self)
                // Written again after a failed write (or found again after damage): seen already.
                // Never back: seqs a reader gets only go up.
                if seq <= lastSeq {
                    offset += length
                    continue
                }
                if seq > lastSeq + 1 && !resynced && !gapReported {
                    guard first else { return nil }
                    let missing = "seqs \(lastSeq + 1) to \(seq - 1)"
                    lastSeq = seq - 1
                    throw RillflowError(.sequenceUnavailable, "\(missing) of run \(runId) are missing from its durable history (deleted, or never written), before segment \(segments[index].path) goes on")
                }
                resynced = false
                gapReported = false
                offset += length
                lastSeq = seq
                bytesRead += UInt64(length)
                return record
            case .incomplete:
                // Cut short where the writer may still be writing, or at a torn tail; unless an
                // intact record follows: then its length field is what is damaged.
                let resume = isWriteInProgressPossible ? mapping.length : resumeOffset(after: offset, in: mapping)
                if resume < mapping.length {
                    guard first else { return nil }
                    throw skipDamage(upTo: resume, reason: "its length runs past the end of the segment")
                }
                if try moveOn(first: first) { continue }
                return nil
            case .corrupt(let reason):
                let resume = resumeOffset(after: offset, in: mapping)
                // Zeros up to the end: space a crash left allocated but unwritten, a torn tail.
                if resume == mapping.length, !isWriteInProgressPossible, isZero(from: offset, in: mapping) {
                    tornBytes += UInt64(mapping.length - offset)
                    offset = mapping.length
                    if try moveOn(first: first) { continue }
                    return nil
                }
                guard first else { return nil }
                throw skipDamage(upTo: resume, reason: reason)
            }
        }
    }

    /// The segment a live run's writer is appending to: bytes at its end may be a record that
    /// is still being written.
    private var isWriteInProgressPossible: Bool { live && index + 1 >= segments.count }

    /// Counts the damaged bytes from the current offset, moves past them, and returns the
    /// error that reports them.
    private func skipDamage(upTo resume: Int, reason: String) -> RillflowError {
        let start = offset
        offset = resume
        corruptRecords += 1
        resynced = true
        return RillflowError(.corrupt, "run \(runId)'s history segment \(segments[index].path) is damaged at offset \(start) (\(reason)), after seq \(lastSeq); \(resume - start) bytes skipped")
    }

    private func isZero(from start: Int, in mapping: SegmentMapping) -> Bool {
        UnsafeRawBufferPointer(start: mapping.base + start, count: mapping.length - start).allSatisfy { $0 == 0 }
    }

    /// The next offset after `start` where an intact record begins, or the end of the mapping
    /// when none does. Checksums are tried only where the bytes look like a record, and only
    /// up to `resyncChecksumBytes` in all: a crafted file of record-like bytes makes the rest
    /// of its segment damage, not hours of checksumming.
    private func resumeOffset(after start: Int, in mapping: SegmentMapping) -> Int {
        var candidate = start + 8
        var budget = Self.resyncChecksumBytes
        while candidate + 12 <= mapping.length {
            let record = mapping.base + candidate
            if case .valid(let length) = HistoryFormat.shape(record, available: mapping.length - candidate) {
                guard length <= budget else { return mapping.length }
                budget -= length
                if HistoryFormat.checksumMatches(record, length: length) { return candidate }
            }
            candidate += 8
        }
        return mapping.length
    }

    /// Enough for the largest record several times over (a real damaged region is followed
    /// by a real record, found at the first or second try); a fraction of a second of work.
    static let resyncChecksumBytes = 4 * HistoryFormat.maximumRecordLength

    /// At the end of the current mapping: maps what the file has grown by, or moves to the
    /// next segment; false when there is nothing more to read now.
    private func moveOn(first: Bool) throws(RillflowError) -> Bool {
        if remapIfGrown() { return true }
        if index + 1 >= segments.count && live {
            // The writer creates the next segment only after finishing this one, so if one
            // exists now, this file's final size is what a fresh look shows.
            // Found by seq, not by name: retention may have deleted the file being read.
            if let listed = store.segments(ofRun: runId) {
                let current = segments[index]
                segments = [current] + listed.filter { current < $0 }
                index = 0
            }
            if index + 1 >= segments.count { return false }
            if remapIfGrown() { return true }
        }
        let remaining = (mapping?.length ?? 0) - (headerChecked ? offset : 0)
        guard index + 1 < segments.count else {
            if !live && remaining > 0 && fd >= 0 {
                tornBytes += UInt64(remaining)  // a torn tail: the history ends before it
                offset += remaining
            }
            return false
        }
        guard first else { return false }  // opening can fail: only where an error may be thrown
        if remaining > 0 { tornBytes += UInt64(remaining) }
        index += 1
        try open(index)
        return true
    }

    private func remapIfGrown() -> Bool {
        guard live, fd >= 0 else { return false }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) > (mapping?.length ?? 0) else { return false }
        guard let grown = SegmentMapping(fd: fd, length: Int(info.st_size)) else { return false }
        if let mapping { held.append(mapping) }
        mapping = grown
        return true
    }

    /// Opens segment `index`; its header is checked once it is mapped whole.
    private func open(_ index: Int) throws(RillflowError) {
        if let mapping { held.append(mapping) }
        mapping = nil
        headerChecked = false
        offset = 0
        if fd >= 0 { close(fd) }
        let path = segments[index].path
        // Non-blocking: a FIFO put in the directory must fail the read, not hang it.
        fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = rf_sys_errno()
            guard code == ENOENT else { throw Files.failure("cannot open", path, errno: code) }
            gapReported = true
            throw RillflowError(.sequenceUnavailable, "run \(runId)'s history segment \(path) is gone (deleted by retention?)")
        }
        segmentsRead += 1
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Files.failure("cannot stat", path) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw RillflowError(.system, "run \(runId)'s history segment \(path) is not a regular file")
        }
        mapping = SegmentMapping(fd: fd, length: Int(info.st_size))
        // Empty (a segment just created) maps nothing; anything else must map.
        if mapping == nil && info.st_size > 0 { throw Files.failure("cannot map", path) }
    }
}
