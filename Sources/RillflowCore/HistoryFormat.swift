import CSystem

/// The on-disk form of a run's durable history.
///
/// A run's history is a directory of segment files, each named by the seq of its first event.
/// A segment is a 32-byte header followed by records:
///
/// ```
/// header:  0 u64 magic "RFHSEG01"   8 u64 run id   16 u64 first seq
///         24 u32 format version (1)  28 u32 CRC-32C of bytes 0..<28
/// record:  the log's record layout (see `EventRecord`), with its 8-byte stamp replaced by
///          0 u32 CRC-32C of bytes 4..<length    4 u32 marker "RFH1"
/// ```
/// A record is therefore length-prefixed (its length field is at offset 8, inside the checksum)
/// and as long on disk as in memory: the writer copies it and seals it. Besides events, a segment
/// holds *identity records* (kind `identityKind`): the run ids and workflow name behind a
/// source index, written before the first event of that source in every segment, so each
/// segment can be read on its own.
enum HistoryFormat {
    static let segmentMagic: UInt64 = 0x3130_4745_5348_4652  // "RFHSEG01" little-endian
    static let formatVersion: UInt32 = 1
    static let segmentHeaderSize = 32
    static let recordMarker: UInt32 = 0x3148_4652  // "RFH1"
    static let identityKind: UInt16 = 0xFFFF
    /// Seqs and run ids on disk are below this: far beyond any real run, and far enough from
    /// the top of UInt64 that no arithmetic on them (next seq, id blocks) can overflow.
    static let maximumSeqOrRunId: UInt64 = 1 << 62
    /// The largest record any engine writes: the largest data payload plus the envelope.
    static let maximumRecordLength = EventRecord.size(
        stepLength: EventRecord.maximumNameLength, topicLength: EventRecord.maximumNameLength,
        dataLength: EngineConfiguration.maximumMaxEventBytes)

    // MARK: Segment headers

    static func writeSegmentHeader(to header: UnsafeMutableRawPointer, runId: UInt64, firstSeq: UInt64) {
        header.storeBytes(of: segmentMagic, toByteOffset: 0, as: UInt64.self)
        header.storeBytes(of: runId, toByteOffset: 8, as: UInt64.self)
        header.storeBytes(of: firstSeq, toByteOffset: 16, as: UInt64.self)
        header.storeBytes(of: formatVersion, toByteOffset: 24, as: UInt32.self)
        header.storeBytes(of: rf_sys_crc32c(header, 28), toByteOffset: 28, as: UInt32.self)
    }

    /// Why a segment header is not one of `runId`'s, or nil when it is.
    static func headerProblem(_ header: UnsafeRawPointer, length: Int, runId: UInt64) -> String? {
        guard length >= segmentHeaderSize else { return "the file is shorter than a segment header (\(length) bytes)" }
        guard header.loadUnaligned(fromByteOffset: 0, as: UInt64.self) == segmentMagic else { return "the file is not a history segment (bad magic)" }
        guard header.loadUnaligned(fromByteOffset: 28, as: UInt32.self) == rf_sys_crc32c(header, 28) else {
            return "the segment header fails its checksum"
        }
        let version = header.loadUnaligned(fromByteOffset: 24, as: UInt32.self)
        guard version == formatVersion else { return "the segment has format version \(version); this library reads \(formatVersion)" }
        let owner = header.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        guard owner == runId else { return "the segment belongs to run \(owner), not \(runId)" }
        return nil
    }

    // MARK: Records

    /// Turns a copied log record into its disk form: marker and checksum in place of the stamp.
    @inline(__always)
    static func seal(_ record: UnsafeMutableRawPointer, length: Int) {
        // The marker's checksum is a constant: the bytes after it are checksummed from memory,
        // the marker itself is not read back (see rf_sys_crc32c_extend).
        record.storeBytes(of: rf_sys_crc32c_extend(markerChecksum, record + 8, length - 8), toByteOffset: 0, as: UInt32.self)
        record.storeBytes(of: recordMarker, toByteOffset: 4, as: UInt32.self)
    }

    /// The CRC-32C of the marker's four bytes, where every record's checksum starts.
    private static let markerChecksum: UInt32 = withUnsafeBytes(of: recordMarker.littleEndian) {
        rf_sys_crc32c($0.baseAddress, 4)
    }

    enum Check: Equatable {
        /// A whole record of this many bytes whose checksum matches.
        case valid(Int)
        /// The bytes end inside the record: a write in progress, or a torn tail.
        case incomplete
        /// The bytes here are not a record; the reason, for people.
        case corrupt(String)
    }

    /// Checks the record at `record`, of which `available` bytes exist (8-byte aligned).
    static func check(_ record: UnsafeRawPointer, available: Int) -> Check {
        let shape = self.shape(record, available: available)
        guard case .valid(let length) = shape else { return shape }
        return checksumMatches(record, length: length) ? shape : .corrupt("checksum mismatch")
    }

    @inline(__always)
    static func checksumMatches(_ record: UnsafeRawPointer, length: Int) -> Bool {
        record.load(fromByteOffset: 0, as: UInt32.self) == rf_sys_crc32c(record + 4, length - 4)
    }

    /// Every check but the checksum, which costs a pass over the record: `.valid` here means
    /// the bytes look like a record. The inner lengths are checked on every record, so that no
    /// reader is ever sent outside one (even a good checksum does not prove a writer's care).
    static func shape(_ record: UnsafeRawPointer, available: Int) -> Check {
        guard available >= 12 else { return .incomplete }
        guard record.load(fromByteOffset: 4, as: UInt32.self) == recordMarker else { return .corrupt("no record marker") }
        let length = Int(record.load(fromByteOffset: EventRecord.lengthOffset, as: UInt32.self))
        guard length >= EventRecord.minimumSize, length % 8 == 0, length <= maximumRecordLength else {
            return .corrupt("impossible record length \(length)")
        }
        guard length <= available else { return .incomplete }
        let step = Int(record.load(fromByteOffset: EventRecord.stepLengthOffset, as: UInt16.self))
        let topic = Int(record.load(fromByteOffset: EventRecord.topicLengthOffset, as: UInt16.self))
        let data = Int(record.load(fromByteOffset: EventRecord.dataLengthOffset, as: UInt32.self))
        guard step <= EventRecord.maximumNameLength, topic <= EventRecord.maximumNameLength,
              EventRecord.size(stepLength: step, topicLength: topic, dataLength: data) == length else {
            return .corrupt("inconsistent field lengths")
        }
        let kind = record.load(fromByteOffset: EventRecord.kindOffset, as: UInt16.self)
        guard kind == identityKind || EventKind(rawValue: kind) != nil else { return .corrupt("unknown event kind \(kind)") }
        let seq = record.load(fromByteOffset: EventRecord.seqOffset, as: UInt64.self)
        guard kind == identityKind || (seq >= 1 && seq < maximumSeqOrRunId) else { return .corrupt("impossible seq \(seq)") }
        return .valid(length)
    }

    // MARK: Identity records

    static func identityRecordSize(_ identity: RunIdentity) -> Int {
        EventRecord.size(stepLength: 0, topicLength: 0, dataLength: 24 + identity.workflowName.utf8.count)
    }

    /// Writes (unsealed) the identity record of source `index` at `record`; returns its length.
    static func writeIdentityRecord(_ identity: RunIdentity, source index: UInt32, to record: UnsafeMutableRawPointer) -> Int {
        var data = [UInt8](repeating: 0, count: 24)
        data.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: identity.runId, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: identity.parentRunId, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: identity.rootRunId, toByteOffset: 16, as: UInt64.self)
        }
        data.append(contentsOf: identity.workflowName.utf8)
        let size = identityRecordSize(identity)
        data.withUnsafeBytes { bytes in
            EventDraft(kind: .custom, data: bytes, source: index).write(to: record, size: size, seq: 0, timestamp: 0)
        }
        record.storeBytes(of: identityKind, toByteOffset: EventRecord.kindOffset, as: UInt16.self)
        return size
    }

    /// The source index and identity an identity record declares.
    static func readIdentityRecord(_ record: UnsafeRawPointer) -> (UInt32, RunIdentity)? {
        let view = EventView(record: record, source: .unknown)
        guard view.dataLength >= 24 else { return nil }
        let data = UnsafeRawPointer(view.data)
        let name = UnsafeRawBufferPointer(start: data + 24, count: view.dataLength - 24)
        let identity = RunIdentity(
            runId: data.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
            parentRunId: data.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
            rootRunId: data.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
            workflowName: String(decoding: name, as: UTF8.self))
        return (record.load(fromByteOffset: EventRecord.sourceOffset, as: UInt32.self), identity)
    }
}
