#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// Writes every root run's events into its durable history: the engine's own sink, so it runs
/// on the sink thread, in seq order, holding producers at the log's bound if the disk is slow.
///
/// Records are copied into a buffer, sealed (checksum), and written with few large writes; the
/// fsync policy decides when they are synced. A batch that fails to write is offered again by
/// the dispatcher; its records are then written to a fresh segment (what the failed write left
/// in the old one is a torn tail there, and readers skip records they have already seen). The
/// fresh segment is named to sort after every segment before it, even one the failed batch
/// started with a later first seq: a reader looking for a seq opens the last segment named at
/// or below it and reads on, so a segment sorting before a stale one would be passed over.
final class HistoryWriter: SinkTarget, @unchecked Sendable {
    // @unchecked: everything mutable is used only on the sink thread, one call at a time.
    private let store: HistoryStore
    private var files: [UInt64: RunFile] = [:]
    private var buffer: UnsafeMutableRawPointer
    private var bufferCapacity = 256 << 10
    private var used = 0

    /// One run's open segment.
    private final class RunFile {
        let durable: DurableRun
        var fd: Int32 = -1
        var path = ""
        /// Bytes in the segment file, written or in the buffer.
        var size = 0
        /// Bytes of the segment whose writeback has been started (see `startWriteback`).
        var writebackStarted = 0
        var segmentEvents = 0
        /// The identity behind each source index seen so far (index 0: the run itself).
        var identities: [RunIdentity?] = []
        /// Which of them the current segment has declared.
        var declared: [Bool] = []
        /// The last write failed: the next record starts a new segment.
        var damaged = false
        /// The seq the newest segment's name gives (0: none yet); a new one is named at or above it.
        var namedSeq: UInt64 = 0
        var lastSeq: UInt64 = 0
        var records: UInt64 = 0

        init(durable: DurableRun) { self.durable = durable }
    }

    /// For tests: called before each write with the segment's path and the byte count; a
    /// non-nil result is the number of bytes written before the write fails with EIO.
    var writeFault: ((_ path: String, _ length: Int) -> Int?)?
    /// For tests: called with each byte range of a segment whose writeback is started.
    var writebackObserver: ((_ path: String, _ offset: Int, _ length: Int) -> Void)?

    init(store: HistoryStore) {
        self.store = store
        buffer = .allocate(byteCount: bufferCapacity, alignment: 8)
    }

    deinit {
        for file in files.values where file.fd >= 0 { Glibc.close(file.fd) }
        buffer.deallocate()
    }

    func deliver(_ events: [EventView], from log: RunLog) -> String? {
        guard let durable = log.durable, !durable.frozen else { return nil }
        let file = files[durable.runId] ?? {
            let created = RunFile(durable: durable)
            files[durable.runId] = created
            return created
        }()
        let before = (file.records, file.lastSeq)
        let segmentBytes = store.options.segmentBytes
        var index = 0
        while index < events.count {
            let event = events[index]
            let record = event.record
            let length = Int(record.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
            let source = Int(record.load(fromByteOffset: EventRecord.sourceOffset, as: UInt32.self))
            if file.fd < 0 || file.damaged || (file.segmentEvents > 0 && file.size + length > segmentBytes) {
                if let failure = roll(file, firstSeq: event.seq) { return fail(file, failure, restoring: before) }
            }
            if source >= file.declared.count || !file.declared[source] {
                if source >= file.identities.count {
                    file.identities += [RunIdentity?](repeating: nil, count: source + 1 - file.identities.count)
                    file.declared += [Bool](repeating: false, count: source + 1 - file.declared.count)
                }
                file.identities[source] = event.source
                if let failure = declare(source, in: file) { return fail(file, failure, restoring: before) }
            }
            if used + length > bufferCapacity, let failure = flush(file) { return fail(file, failure, restoring: before) }
            if length > bufferCapacity { grow(to: length) }
            // This record now fits; so do the ones after it that lie right behind it in the
            // log, come from sources this segment has declared, and fit in the buffer and the
            // segment: the span goes in with one copy.
            var spanLength = length
            var last = record
            var count = 1
            let room = min(bufferCapacity - used, segmentBytes - file.size, Self.spanBytes)
            while index + count < events.count {
                let next = events[index + count].record
                guard next == record + spanLength else { break }
                let nextLength = Int(next.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
                let nextSource = Int(next.load(fromByteOffset: EventRecord.sourceOffset, as: UInt32.self))
                guard spanLength + nextLength <= room, nextSource < file.declared.count, file.declared[nextSource] else { break }
                spanLength += nextLength
                last = next
                count += 1
            }
            let copy = buffer + used
            copy.copyMemory(from: record, byteCount: spanLength)
            var offset = 0
            while offset < spanLength {
                let sealed = copy + offset
                let sealedLength = Int(sealed.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
                HistoryFormat.seal(sealed, length: sealedLength)
                offset += sealedLength
            }
            used += spanLength
            file.size += spanLength
            file.segmentEvents += count
            file.records += UInt64(count)
            file.lastSeq = last.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self)
            index += count
        }
        if let failure = flush(file) { return fail(file, failure, restoring: before) }
        // Synced before it is published, so a reader of the counters never sees a written
        // batch that the batch policy has not yet made durable.
        if store.options.fsync == .batch { sync(file) }
        file.durable.records.store(file.records, ordering: .relaxed)
        file.durable.writtenSeq.store(file.lastSeq, ordering: .releasing)
        return nil
    }

    /// The run's stream ended and all of it was delivered: sync (unless the policy is never),
    /// close its segment, and let retention see it.
    func runEnded(runId: UInt64) {
        guard let file = files.removeValue(forKey: runId) else { return }
        if store.options.fsync != .never { sync(file) }
        close(file)
        store.runFinished(runId)
    }

    private var activeBytes: Int { files.values.reduce(0) { $0 + $1.size } }

    /// Puts back the state before the failed batch and records the failure; the dispatcher
    /// offers the same batch again after its backoff.
    private func fail(_ file: RunFile, _ failure: String, restoring before: (UInt64, UInt64)) -> String {
        used = 0
        file.damaged = true
        (file.records, file.lastSeq) = before
        file.durable.noteFailure(failure)
        return failure
    }

    /// Closes the current segment (synced first unless the policy is never) and starts one
    /// whose first event is `firstSeq`, with the identity records of every source so far.
    private func roll(_ file: RunFile, firstSeq: UInt64) -> String? {
        if let failure = flush(file) { return failure }
        if file.fd >= 0 {
            if store.options.fsync != .never { sync(file) }
            close(file)
        }
        let directory = store.runDirectory(file.durable.runId)
        do throws(RillflowError) {
            try Files.makeDirectory(directory)
        } catch {
            return error.message
        }
        // After a failed write, `firstSeq` may be older than the failed batch's last segment.
        let nameSeq = max(firstSeq, file.namedSeq)
        var attempt = 0
        var fd: Int32 = -1
        var path = ""
        while fd < 0 {
            path = store.segmentPath(runId: file.durable.runId, firstSeq: nameSeq, attempt: attempt)
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 {
                let code = rf_sys_errno()
                guard code == EEXIST, attempt < 1000 else { return Files.failure("cannot create", path, errno: code).message }
                attempt += 1
            }
        }
        if store.options.fsync != .never {
            Files.syncDirectory(directory)
            if file.durable.segments.load(ordering: .relaxed) == 0 { Files.syncDirectory(store.options.directory) }
        }
        file.fd = fd
        file.path = path
        file.namedSeq = nameSeq
        file.size = 0
        file.writebackStarted = 0
        file.segmentEvents = 0
        file.damaged = false
        file.durable.segments.add(1, ordering: .relaxed)
        HistoryFormat.writeSegmentHeader(to: buffer + used, runId: file.durable.runId, firstSeq: firstSeq)
        used += HistoryFormat.segmentHeaderSize
        file.size += HistoryFormat.segmentHeaderSize
        // Each segment declares every source known so far, so it can be read on its own.
        for index in file.declared.indices { file.declared[index] = false }
        for index in file.identities.indices where file.identities[index] != nil {
            if let failure = declare(index, in: file) { return failure }
        }
        return nil
    }

    private func declare(_ source: Int, in file: RunFile) -> String? {
        guard let identity = file.identities[source] else { return nil }
        let length = HistoryFormat.identityRecordSize(identity)
        if used + length > bufferCapacity, let failure = flush(file) { return failure }
        if length > bufferCapacity { grow(to: length) }
        _ = HistoryFormat.writeIdentityRecord(identity, source: UInt32(source), to: buffer + used)
        HistoryFormat.seal(buffer + used, length: length)
        used += length
        file.size += length
        file.declared[source] = true
        return nil
    }

    private func flush(_ file: RunFile) -> String? {
        guard used > 0 else { return nil }
        defer { used = 0 }
        guard file.fd >= 0 else { return "no segment is open" }
        if let written = writeFault?(file.path, used) {
            _ = Files.writeAll(file.fd, buffer, min(written, used))
            return Files.failure("cannot write", file.path, errno: EIO).message
        }
        if let code = Files.writeAll(file.fd, buffer, used) { return Files.failure("cannot write", file.path, errno: code).message }
        file.durable.bytes.add(UInt64(used), ordering: .relaxed)
        startWriteback(file)
        return nil
    }

    /// The most bytes copied at once before their records are sealed: the checksums then read
    /// the copy while it is still in the first-level cache.
    static let spanBytes = 8 << 10

    /// Written bytes a segment gathers before the writer starts their writeback.
    static let writebackBlock = 1 << 20

    /// Starts writing the segment's newly written bytes to disk, a block at a time, without
    /// waiting (for the policies that sync at all; `.batch` syncs every batch anyway). The sync
    /// at a segment's close or the run's end then waits for little more than the last block,
    /// instead of for the whole segment while producers wait for this thread (which made
    /// `c.history.eps` about 1.4 times as fast). A refusal is harmless: the sync writes
    /// everything anyway, and reports its own failure.
    private func startWriteback(_ file: RunFile) {
        guard store.options.fsync == .runEnd, file.size - file.writebackStarted >= Self.writebackBlock else { return }
        writebackObserver?(file.path, file.writebackStarted, file.size - file.writebackStarted)
        _ = rf_sys_start_writeback(file.fd, Int64(file.writebackStarted), Int64(file.size - file.writebackStarted))
        file.writebackStarted = file.size
    }

    /// Syncs the segment; a failure is counted like a failed write (what it wrote may not
    /// survive a crash), and synced_seq stays where it was.
    private func sync(_ file: RunFile) {
        guard file.fd >= 0 else { return }
        guard fdatasync(file.fd) == 0 else {
            file.durable.syncLost.store(true, ordering: .relaxed)
            file.durable.noteFailure(Files.failure("cannot sync", file.path, errno: rf_sys_errno()).message)
            return
        }
        // After a failed sync a later one succeeds without what the kernel dropped: it proves
        // nothing about the seqs before it.
        guard !file.durable.syncLost.load(ordering: .relaxed) else { return }
        file.durable.syncedSeq.store(file.lastSeq, ordering: .releasing)
    }

    private func close(_ file: RunFile) {
        guard file.fd >= 0 else { return }
        Glibc.close(file.fd)
        file.fd = -1
        file.size = 0  // counted from now on as a closed segment, not an open one
        store.segmentClosed(path: file.path, runId: file.durable.runId)
        store.applyRetention(activeBytes: activeBytes)
    }

    private func grow(to length: Int) {
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 8)
        bigger.copyMemory(from: buffer, byteCount: used)
        buffer.deallocate()
        buffer = bigger
        bufferCapacity = length
    }
}
