#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

/// An engine's durable history directory: one sub-directory per root run (`run-<id>`), holding
/// that run's segment files (`<first seq>.rfh`, or `<seq>-<n>.rfh` when a failed write made
/// the writer start a segment again: see `HistoryWriter` for why such a name may be newer than
/// its first event).
///
/// A writing engine holds an exclusive lock on `LOCK` until it is released (its history writer
/// stops then), keeps run ids unique across processes (`run-ids` records how far ids were handed out;
/// ids start above it and above every run found), and applies retention. A read-only engine
/// takes no lock and changes nothing.
public final class HistoryStore: Sendable {
    public let options: HistoryOptions
    /// The directory as a C string, alive as long as the store (for `rf_engine_get_options`).
    public var directoryCString: UnsafePointer<CChar> { UnsafePointer(directoryStorage) }
    private nonisolated(unsafe) let directoryStorage: UnsafeMutablePointer<CChar>
    /// The locked `LOCK` file; -1 once closed (or read-only).
    private let lockFD: Atomic<Int32>

    private struct ClosedSegment {
        let path: String
        let runId: UInt64
        let size: Int
        let modified: Int64
    }

    private struct State {
        /// Segments no writer appends to, for retention.
        var closed: [ClosedSegment] = []
        /// Root runs of this engine that are still being written.
        var liveRuns: Set<UInt64> = []
        /// Run ids below this may have been used (what `run-ids` says).
        var reservedRunIds: UInt64 = 1
    }

    private let state = Lock(State())
    /// The bound `run-ids` holds as far as this store wrote it; held while writing, so two
    /// threads raising the bound write in order and the file never goes back to a lower one.
    private let writtenBound = Lock<UInt64>(0)
    static let runIdBlock: UInt64 = 4096

    public init(options: HistoryOptions) throws(RillflowError) {
        self.options = options
        let path = options.directory
        if options.readOnly {
            guard Files.isDirectory(path) else { throw RillflowError(.notFound, "history_dir \(path) is not a directory") }
            lockFD = Atomic(-1)
        } else {
            try Files.makeDirectory(path)
            let fd = open(path + "/LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Files.failure("cannot open", path + "/LOCK") }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let code = rf_sys_errno()
                Glibc.close(fd)
                if code == EWOULDBLOCK {
                    throw RillflowError(.invalidState, "history_dir \(path) is in use by another engine (it holds \(path)/LOCK); open it with RF_HISTORY_READ_ONLY to read runs")
                }
                throw Files.failure("cannot lock", path + "/LOCK", errno: code)
            }
            lockFD = Atomic(fd)
        }
        let bytes = Array(path.utf8)
        directoryStorage = .allocate(capacity: bytes.count + 1)
        for (index, byte) in bytes.enumerated() { directoryStorage[index] = CChar(bitPattern: byte) }
        directoryStorage[bytes.count] = 0

        // New run ids start above every run this directory has seen: a listing that fails
        // (too many open files, no permission) must not pass for an empty directory.
        // (Every stored property is set: throwing runs deinit, which unlocks and frees.)
        guard let names = Files.list(path) else { throw Files.failure("cannot list", path) }
        let runs = names.compactMap(Self.runId(directoryName:))
        let recorded = Self.readReservedRunIds(path)
        let floor = max(runs.max().map { $0 + 1 } ?? 1, recorded)
        Run.reserveRunIds(below: floor)
        guard !options.readOnly else { return }
        state.withLock { $0.reservedRunIds = floor }
        guard options.hasRetention else { return }
        var closed: [ClosedSegment] = []
        for runId in runs {
            for segment in segments(ofRun: runId) ?? [] {
                if let status = Files.status(segment.path) {
                    closed.append(ClosedSegment(path: segment.path, runId: runId, size: status.size, modified: status.modified))
                }
            }
        }
        state.withLock { $0.closed = closed }
        applyRetention(activeBytes: 0)
    }

    deinit {
        close()
        directoryStorage.deallocate()
    }

    /// The engine was released and its writer stopped: another engine may take the directory.
    /// Reading (reopened runs, replays) goes on.
    public func close() {
        // Under `writtenBound`: a run-ids write in progress finishes before another engine can
        // take the directory, and none starts after.
        writtenBound.withLock { _ in
            let fd = lockFD.exchange(-1, ordering: .acquiringAndReleasing)
            if fd >= 0 { Glibc.close(fd) }  // closing releases the lock
        }
    }

    /// Whether this store still writes (not read-only, not closed).
    var isWritable: Bool { lockFD.load(ordering: .acquiring) >= 0 }

    // MARK: Names

    public func runDirectory(_ runId: UInt64) -> String { options.directory + "/run-" + Files.paddedNumber(runId) }

    static func runId(directoryName name: String) -> UInt64? {
        guard name.hasPrefix("run-"), let id = UInt64(name.dropFirst(4)), id < HistoryFormat.maximumSeqOrRunId else { return nil }
        return id
    }

    struct SegmentName: Comparable {
        let firstSeq: UInt64
        let attempt: Int
        let path: String
        static func < (a: SegmentName, b: SegmentName) -> Bool { (a.firstSeq, a.attempt) < (b.firstSeq, b.attempt) }
        static func == (a: SegmentName, b: SegmentName) -> Bool { a.path == b.path }
    }

    func segmentPath(runId: UInt64, firstSeq: UInt64, attempt: Int) -> String {
        runDirectory(runId) + "/" + Files.paddedNumber(firstSeq) + (attempt == 0 ? "" : "-\(attempt)") + ".rfh"
    }

    /// A run's segment files in seq order; nil when the run has no directory.
    func segments(ofRun runId: UInt64) -> [SegmentName]? {
        let directory = runDirectory(runId)
        guard let names = Files.list(directory) else { return nil }
        var segments: [SegmentName] = []
        for name in names where name.hasSuffix(".rfh") {
            let stem = name.dropLast(4).split(separator: "-", maxSplits: 1)
            guard let first = stem.first, let seq = UInt64(first) else { continue }
            let attempt = stem.count > 1 ? Int(stem[1]) ?? 0 : 0
            segments.append(SegmentName(firstSeq: seq, attempt: attempt, path: directory + "/" + name))
        }
        return segments.sorted()
    }

    // MARK: Runs

    /// A root run of this engine starts: it is being written, and its id is recorded as used.
    /// Returns why recording it failed, if it did.
    func runStarted(_ runId: UInt64) -> String? {
        state.withLock { _ = $0.liveRuns.insert(runId) }
        return reserve(runId)
    }

    /// Records `runId` as used (a root run's, or a sub-workflow's whose events its root's
    /// history holds), so no later process gives it to another run. Returns why writing
    /// `run-ids` failed, if it did. Once the store is closed the directory may be another
    /// engine's: nothing is written (nor needed: this engine writes no more history).
    func reserve(_ runId: UInt64) -> String? {
        let raised = state.withLock { state in
            guard runId >= state.reservedRunIds else { return false }
            state.reservedRunIds = runId + Self.runIdBlock
            return true
        }
        guard raised else { return nil }
        return writtenBound.withLock { written -> String? in
            guard isWritable else { return nil }
            let bound = state.withLock { $0.reservedRunIds }
            guard bound > written else { return nil }  // another thread wrote a bound as high
            if let failure = writeReservedRunIds(bound) { return failure }
            written = bound
            return nil
        }
    }

    func runFinished(_ runId: UInt64) { _ = state.withLock { $0.liveRuns.remove(runId) } }

    public func isLive(_ runId: UInt64) -> Bool { state.withLock { $0.liveRuns.contains(runId) } }

    private static func readReservedRunIds(_ directory: String) -> UInt64 {
        let fd = open(directory + "/run-ids", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 1 }
        defer { Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, 31) }
        guard count > 0 else { return 1 }
        let bound = UInt64(String(decoding: bytes[0..<count], as: UTF8.self).split(separator: "\n").first ?? "") ?? 1
        return bound < HistoryFormat.maximumSeqOrRunId ? bound : 1  // not a number this store wrote
    }

    /// Writes the new bound through a temporary file and a rename, so a crash leaves the old
    /// bound or the new one, never a torn number. Returns why it failed, if it did.
    private func writeReservedRunIds(_ bound: UInt64) -> String? {
        let path = options.directory + "/run-ids"
        let fd = open(path + ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return Files.failure("cannot open", path + ".tmp").message }
        let text = Array("\(bound)\n".utf8)
        var code = text.withUnsafeBytes { Files.writeAll(fd, $0.baseAddress!, $0.count) }
        if code == nil && options.fsync != .never && fsync(fd) != 0 { code = rf_sys_errno() }
        Glibc.close(fd)
        if let code { return Files.failure("cannot write", path + ".tmp", errno: code).message }
        guard rename(path + ".tmp", path) == 0 else { return Files.failure("cannot rename to", path).message }
        if options.fsync != .never { Files.syncDirectory(options.directory) }
        return nil
    }

    // MARK: Retention

    /// A writer closed a segment: it now counts for retention.
    func segmentClosed(path: String, runId: UInt64) {
        guard options.hasRetention, let status = Files.status(path) else { return }
        state.withLock { $0.closed.append(ClosedSegment(path: path, runId: runId, size: status.size, modified: status.modified)) }
    }

    /// Deletes closed segments, oldest first, while the history is over its size limit, and
    /// those older than its age limit; `activeBytes` is what open segments hold. Directories
    /// of runs left without segments go too. Called when the store opens and whenever a writer
    /// closes a segment.
    func applyRetention(activeBytes: Int) {
        guard options.hasRetention else { return }
        let now = rf_sys_realtime_ns()
        let doomed: [ClosedSegment] = state.withLock { state in
            // File times are only as fine as the kernel's clock tick, and segments written in
            // one tick tie: then run ids and, within a run, file names (first seqs) give the order.
            state.closed.sort { ($0.modified, $0.runId, $0.path) < ($1.modified, $1.runId, $1.path) }
            var total = UInt64(activeBytes) + state.closed.reduce(0) { $0 + UInt64($1.size) }
            var count = 0
            for segment in state.closed {
                let (age, overflow) = now.subtractingReportingOverflow(segment.modified)
                let tooOld = options.maxAgeNanoseconds > 0 && (overflow || age > options.maxAgeNanoseconds)
                let overSize = options.maxBytes > 0 && total > options.maxBytes
                guard tooOld || overSize else { break }
                total -= UInt64(segment.size)
                count += 1
            }
            defer { state.closed.removeFirst(count) }
            return Array(state.closed.prefix(count))
        }
        var kept: [ClosedSegment] = []
        for segment in doomed {
            // One that cannot be deleted (permissions, a read-only mount) still takes room:
            // it stays counted, and is tried again at the next segment's close.
            if unlink(segment.path) != 0 && rf_sys_errno() != ENOENT {
                kept.append(segment)
                continue
            }
            // Fails while the run still has segments, or is being written: then it stays.
            if !isLive(segment.runId) { rmdir(runDirectory(segment.runId)) }
        }
        if !kept.isEmpty { state.withLock { $0.closed += kept } }
        if !doomed.isEmpty && options.fsync != .never {
            for runId in Set(doomed.map(\.runId)) { Files.syncDirectory(runDirectory(runId)) }
            Files.syncDirectory(options.directory)
        }
    }
}
