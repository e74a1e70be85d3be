import CSystem

/// The byte layout of one event in a run's log and in its history.
///
/// ```
///  0  u64 stamp        commit marker: the record's log position + 1, stored last (release)
///  8  u32 length       bytes of the whole record, a multiple of 8
/// 12  u16 kind         EventKind raw value; 0 = padding to the end of the log's buffer
/// 14  u16 stepLength
/// 16  u64 seq
/// 24  i64 timestamp    wall clock, ns since the Unix epoch
/// 32  u64 tokenIndex
/// 40  u32 attempt
/// 44  u32 source       index of the emitting run in the log's source table
/// 48  u32 dataLength
/// 52  u16 topicLength
/// 54  u16 reserved
/// 56  step bytes, NUL, topic bytes, NUL, data bytes, NUL, zero padding to a multiple of 8
/// ```
/// Strings and data end in NUL so C readers can use them in place.
public enum EventRecord {
    static let stampOffset = 0
    static let lengthOffset = 8
    static let kindOffset = 12
    static let stepLengthOffset = 14
    static let seqOffset = 16
    static let timestampOffset = 24
    static let tokenIndexOffset = 32
    static let attemptOffset = 40
    static let sourceOffset = 44
    static let dataLengthOffset = 48
    static let topicLengthOffset = 52
    static let headerSize = 56
    /// No record is smaller: at the end of the buffer, less room than this is skipped implicitly.
    static let minimumSize = 64
    static let paddingKind: UInt16 = 0
    /// Step names and topics are at most this many bytes.
    public static let maximumNameLength = 255

    /// Every length passed here is bounded (names by `maximumNameLength`, data by a 32-bit
    /// field), so the sum cannot overflow, and the emit path need not check that it does not.
    @inline(__always)
    static func size(stepLength: Int, topicLength: Int, dataLength: Int) -> Int {
        (headerSize &+ stepLength &+ topicLength &+ dataLength &+ 3 &+ 7) & ~7
    }
}

/// What a producer emits: the caller-visible fields of one event.
public struct EventDraft {
    public var kind: EventKind
    // Each byte range as a start and a count, not a buffer pointer: the emit path reads the
    // counts many times, and a buffer pointer's count is a subtraction with a nil check.
    @usableFromInline let stepStart: UnsafeRawPointer?
    @usableFromInline let stepCount: Int
    @usableFromInline let topicStart: UnsafeRawPointer?
    @usableFromInline let topicCount: Int
    @usableFromInline let dataStart: UnsafeRawPointer?
    @usableFromInline let dataCount: Int
    public var attempt: UInt32
    public var tokenIndex: UInt64
    public var source: UInt32

    /// Inlinable: the C API builds one draft per emit.
    @inlinable
    public init(kind: EventKind, step: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                topic: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                data: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                attempt: UInt32 = 0, tokenIndex: UInt64 = 0, source: UInt32 = 0) {
        self.kind = kind
        (stepStart, stepCount) = (step.baseAddress, step.count)
        (topicStart, topicCount) = (topic.baseAddress, topic.count)
        (dataStart, dataCount) = (data.baseAddress, data.count)
        self.attempt = attempt
        self.tokenIndex = tokenIndex
        self.source = source
    }

    @inline(__always)
    private static func appendTerminated(_ start: UnsafeRawPointer?, _ count: Int, at cursor: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        if let start { rf_sys_copy(cursor, start, count) }
        cursor.storeBytes(of: 0, toByteOffset: count, as: UInt8.self)
        return cursor + (count &+ 1)
    }

    @inline(__always)
    var recordSize: Int { EventRecord.size(stepLength: stepCount, topicLength: topicCount, dataLength: dataCount) }

    /// Writes every field but the stamp into `record`, which has `size` (== `recordSize`) bytes.
    /// The log has checked every length against its limit, so the narrowing below cannot cut.
    @inline(__always)
    func write(to record: UnsafeMutableRawPointer, size: Int, seq: UInt64, timestamp: Int64) {
        // The padding after the data's NUL lies in the record's last word: zero that word
        // first, and the copies below overwrite all of it but the padding.
        record.storeBytes(of: 0, toByteOffset: size &- 8, as: UInt64.self)
        record.storeBytes(of: UInt32(truncatingIfNeeded: size), toByteOffset: EventRecord.lengthOffset, as: UInt32.self)
        record.storeBytes(of: kind.rawValue, toByteOffset: EventRecord.kindOffset, as: UInt16.self)
        record.storeBytes(of: UInt16(truncatingIfNeeded: stepCount), toByteOffset: EventRecord.stepLengthOffset, as: UInt16.self)
        record.storeBytes(of: seq, toByteOffset: EventRecord.seqOffset, as: UInt64.self)
        record.storeBytes(of: timestamp, toByteOffset: EventRecord.timestampOffset, as: Int64.self)
        record.storeBytes(of: tokenIndex, toByteOffset: EventRecord.tokenIndexOffset, as: UInt64.self)
        record.storeBytes(of: attempt, toByteOffset: EventRecord.attemptOffset, as: UInt32.self)
        record.storeBytes(of: source, toByteOffset: EventRecord.sourceOffset, as: UInt32.self)
        record.storeBytes(of: UInt32(truncatingIfNeeded: dataCount), toByteOffset: EventRecord.dataLengthOffset, as: UInt32.self)
        record.storeBytes(of: UInt16(truncatingIfNeeded: topicCount), toByteOffset: EventRecord.topicLengthOffset, as: UInt16.self)
        record.storeBytes(of: UInt16(0), toByteOffset: 54, as: UInt16.self)
        var cursor = record + EventRecord.headerSize
        cursor = Self.appendTerminated(stepStart, stepCount, at: cursor)
        cursor = Self.appendTerminated(topicStart, topicCount, at: cursor)
        _ = Self.appendTerminated(dataStart, dataCount, at: cursor)
    }
}

/// A read-only view of one record: valid while the memory it points into is held.
///
/// The source identity is not retained: it belongs to the log (or history reader) the view
/// came from, which outlives the view, so copying views costs no reference counting.
public struct EventView {
    public let record: UnsafeRawPointer
    private let sourceReference: Unmanaged<RunIdentity>

    public init(record: UnsafeRawPointer, source: RunIdentity) {
        self.record = record
        sourceReference = Unmanaged.passUnretained(source)
    }

    /// The emitting run's identity, as a strong reference (retained by the caller).
    public var source: RunIdentity { sourceReference.takeUnretainedValue() }

    /// Calls `body` with the emitting run's identity, without reference counting. The read
    /// paths use this: a reader retaining the identity for every event writes its reference
    /// count, a cache line the producers of the run then have to fetch back.
    @inline(__always)
    public func withSource<R>(_ body: (RunIdentity) -> R) -> R { sourceReference._withUnsafeGuaranteedRef(body) }

    @inline(__always) func field<T>(_ offset: Int, _ type: T.Type) -> T { record.load(fromByteOffset: offset, as: T.self) }

    public var rawKind: UInt16 { field(EventRecord.kindOffset, UInt16.self) }
    public var kind: EventKind { EventKind(rawValue: rawKind)! }
    public var seq: UInt64 { field(EventRecord.seqOffset, UInt64.self) }
    public var timestamp: Int64 { field(EventRecord.timestampOffset, Int64.self) }
    public var tokenIndex: UInt64 { field(EventRecord.tokenIndexOffset, UInt64.self) }
    public var attempt: UInt32 { field(EventRecord.attemptOffset, UInt32.self) }
    public var stepLength: Int { Int(field(EventRecord.stepLengthOffset, UInt16.self)) }
    public var topicLength: Int { Int(field(EventRecord.topicLengthOffset, UInt16.self)) }
    public var dataLength: Int { Int(field(EventRecord.dataLengthOffset, UInt32.self)) }
    public var step: UnsafePointer<CChar> { (record + EventRecord.headerSize).assumingMemoryBound(to: CChar.self) }
    public var topic: UnsafePointer<CChar> { (record + EventRecord.headerSize + stepLength + 1).assumingMemoryBound(to: CChar.self) }
    public var data: UnsafePointer<CChar> {
        (record + EventRecord.headerSize + stepLength + topicLength + 2).assumingMemoryBound(to: CChar.self)
    }
    public var topicBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: topic, count: topicLength) }
}
