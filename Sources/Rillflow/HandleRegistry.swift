import RillflowCore
import Synchronization

/// What a handle names. It is encoded in the handle, so a run handle passed where an engine is
/// expected is refused like any other invalid handle.
enum HandleKind: UInt64 {
    case engine = 1
    case workflow = 2
    case run = 3
    case subscription = 4
    case stepContext = 5
    case sink = 6
}

/// `HandleRegistry.shared`'s address once published; 0 before. In optimized builds the compiler
/// initializes a global atomic with a constant value statically, so reading it needs no
/// lazy-init check.
private let sharedAddress = Atomic<UInt>(0)

/// Turns Swift objects into the opaque handles of the C API.
///
/// A handle is not an address: it encodes a slot index, the slot's generation and the handle's
/// kind. Looking one up never dereferences memory the caller chose, so a NULL, released, stale
/// (slot reused), foreign (any other pointer) or wrong-kind handle is rejected, not crashed on.
///
/// Each slot has one atomic word, `[generation:27][kind:4][live:1][users:32]`, and right after
/// it the reference to its object. A lookup increments `users` with a CAS that also checks
/// `live`, generation and kind, takes a strong reference to the object, and decrements
/// `users`. `retire` clears `live`. Whoever brings a slot to "not live, no users" releases the
/// registry's reference and recycles the slot with the next generation, so no lookup can ever
/// read a slot's object while it is being freed. Lookups take no lock; only registering and
/// recycling take the free-list mutex.
///
/// Slots live in chunks that are allocated once and never freed or moved, so a slot address
/// computed from any in-range index stays valid for the life of the process. A slot whose
/// generation has used all its values is never reused: with a new generation 0 (which no
/// handle carries) and no `live` bit, no handle can ever match it again, so even a stale
/// handle kept through 2^27 reuses of its slot is refused, never taken for a newer one.
final class HandleRegistry: @unchecked Sendable {
    // @unchecked: slot words are atomics; slot objects are written only by the one thread that
    // owns the slot (registering it, or finalizing it at users == 0 && !live), and read only
    // by lookups that hold a `users` count, which orders them through the word's RMWs.

    static let shared: HandleRegistry = {
        let registry = HandleRegistry()
        sharedAddress.store(UInt(bitPattern: Unmanaged.passUnretained(registry).toOpaque()), ordering: .releasing)
        ForkedChild.install()  // after the address is published: the fork handler finds it there
        return registry
    }()

    /// Calls `body` with `shared`, read without the lazy global's check (a call into the
    /// runtime) and lent without reference counting: emits and reads, called millions of
    /// times a second, come through here.
    @inline(__always)
    static func withShared<R>(_ body: (HandleRegistry) throws(APIFailure) -> R) throws(APIFailure) -> R {
        var address = sharedAddress.load(ordering: .acquiring)
        if address == 0 { address = publishShared() }
        var outcome: R?
        var failure: APIFailure?
        Unmanaged<HandleRegistry>.fromOpaque(UnsafeRawPointer(bitPattern: address)!)._withUnsafeGuaranteedRef { registry in
            do throws(APIFailure) { outcome = try body(registry) } catch { failure = error }
        }
        if let failure { throw failure }
        return outcome!
    }

    /// `shared`'s address, for `withShared`, published as `shared` is made; `shared` itself
    /// keeps it alive for good.
    @inline(never)
    private static func publishShared() -> UInt {
        _ = shared
        return sharedAddress.load(ordering: .acquiring)
    }

    /// `shared`, if it has been made: read from its published address, so a fork handler never
    /// waits on the lazy global's initialization, which another thread may have been inside.
    static var sharedIfMade: HandleRegistry? {
        let address = sharedAddress.load(ordering: .acquiring)
        guard address != 0 else { return nil }
        return Unmanaged<HandleRegistry>.fromOpaque(UnsafeRawPointer(bitPattern: address)!).takeUnretainedValue()
    }

    /// `withObject` on `shared` (see `withShared`).
    @inline(__always)
    static func withObject<T: AnyObject, R>(_ handle: OpaquePointer?, kind: HandleKind, as type: T.Type, parameter: String,
                                            _ body: (T) throws(RillflowError) -> R) throws(APIFailure) -> R {
        try withShared { registry throws(APIFailure) in try registry.withObject(handle, kind: kind, as: type, parameter: parameter, body) }
    }

    static let chunkSize = 4096
    static let maximumChunks = 1024
    static var maximumHandles: Int { chunkSize * maximumChunks }

    private static let usersMask: UInt64 = 0xFFFF_FFFF
    private static let liveBit: UInt64 = 1 << 32
    private static let kindShift: UInt64 = 33
    private static let generationShift: UInt64 = 37
    static let generationMask: UInt64 = (1 << 27) - 1

    private struct FreeList {
        var freeIndices: [Int] = []
        var slotCount = 0
        /// Slots that used all their generations and are never reused.
        var exhausted = 0
    }

    private let freeList = Lock(FreeList())
    private let publishedSlotCount = Atomic<Int>(0)
    /// Each slot has a pair of cache lines of its own: a producer emitting through a run handle
    /// and a consumer reading through a subscription handle (often neighbouring slots) must not
    /// share a line, nor a pair the adjacent-line prefetcher fetches together. The slot's word
    /// comes first and its object right after it, so a lookup finds the object on the line its
    /// count-in has just brought in, not at the end of another chain of loads.
    private static let slotStride = 128
    private static let objectOffset = 8
    private let wordChunks: UnsafeMutablePointer<UnsafeMutableRawPointer?>

    /// Generations run from 1 up to this, exclusive; then the slot is never reused.
    private let generationLimit: UInt64

    /// One per process (`shared`); tests make their own so they can count live handles, and
    /// can give slots fewer generations to see what happens when one has used them all.
    init(generations: UInt64 = HandleRegistry.generationMask + 1) {
        precondition(generations >= 2 && generations <= Self.generationMask + 1, "generations must fit in 27 bits")
        generationLimit = generations
        wordChunks = .allocate(capacity: Self.maximumChunks)
        wordChunks.initialize(repeating: nil, count: Self.maximumChunks)
    }

    /// Number of live handles; for tests and diagnostics.
    var liveCount: Int {
        freeList.withLock { $0.slotCount - $0.freeIndices.count - $0.exhausted }
    }

    /// Registers `object` and returns its new handle. The registry holds a strong reference
    /// until the handle is retired and no lookup is in flight.
    func register(_ object: AnyObject, kind: HandleKind) throws(RillflowError) -> OpaquePointer {
        let index = try freeList.withLock { list throws(RillflowError) -> Int in
            if let index = list.freeIndices.popLast() { return index }
            guard list.slotCount < Self.maximumHandles else {
                throw RillflowError(.noMemory, "the handle table is full (\(Self.maximumHandles) live handles)")
            }
            if list.slotCount % Self.chunkSize == 0 { allocateChunk(list.slotCount / Self.chunkSize) }
            let index = list.slotCount
            list.slotCount += 1
            publishedSlotCount.store(list.slotCount, ordering: .releasing)
            return index
        }
        objectSlot(index).pointee = Unmanaged.passRetained(object)
        let word = wordSlot(index)
        let generation = word.pointee.load(ordering: .relaxed) >> Self.generationShift
        word.pointee.store(
            generation << Self.generationShift | kind.rawValue << Self.kindShift | Self.liveBit,
            ordering: .releasing)
        let bits = generation << 36 | kind.rawValue << 32 | UInt64(index + 1)
        return OpaquePointer(bitPattern: UInt(bits))!
    }

    /// The object behind a live handle of `kind`, or nil for any handle that is not one.
    func object(for handle: OpaquePointer?, kind: HandleKind) -> AnyObject? {
        guard let index = enter(handle, kind: kind) else { return nil }
        let object = objectSlot(index).pointee!.takeUnretainedValue()
        leave(index)
        return object
    }

    /// Calls `body` with the object behind a live handle of `kind`. The slot's user count keeps
    /// the object alive during the call, so the hot paths (emit, read) pay no reference
    /// counting; `body` must not keep the object. Engine errors become API failures.
    ///
    /// Errors travel as typed throws, never through `Result`: in release builds of Swift 6.3.1
    /// a `.failure` returned through this inlined generic closure came back as success.
    /// Private: the API reaches it through the static `withObject`, on `shared`.
    @inline(__always)
    private func withObject<T: AnyObject, R>(_ handle: OpaquePointer?, kind: HandleKind, as type: T.Type, parameter: String,
                                             _ body: (T) throws(RillflowError) -> R) throws(APIFailure) -> R {
        guard let index = enter(handle, kind: kind) else { throw .invalidHandle(kind, parameter) }
        defer { leave(index) }
        var outcome: R?
        var failure: RillflowError?
        objectSlot(index).pointee!._withUnsafeGuaranteedRef { object in
            do throws(RillflowError) { outcome = try body(unsafeDowncast(object, to: T.self)) } catch { failure = error }
        }
        if let failure { throw APIFailure(failure) }
        return outcome!
    }

    /// Counts a user in on a live slot; nil if the handle is not live.
    @inline(__always)
    private func enter(_ handle: OpaquePointer?, kind: HandleKind) -> Int? {
        guard let (index, generation) = decode(handle, kind: kind) else { return nil }
        let word = wordSlot(index)
        var current = word.pointee.load(ordering: .acquiring)
        while true {
            guard isLive(current, generation: generation, kind: kind) else { return nil }
            let (exchanged, original) = word.pointee.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiring)
            if exchanged { return index }
            current = original
        }
    }

    /// In a child process right after fork() (see `ForkedChild`): every handle made before is
    /// refused from now on, and its object is left unreleased. A lookup in flight on the forking
    /// thread (a fork from a callback) leaves as usual, and recycles its slot without
    /// releasing anything. Slots free at the fork stay free; the others are never reused.
    func forgetAfterFork() {
        let published = publishedSlotCount.load(ordering: .acquiring)
        var forgotten = 0, inFlight = 0
        for index in 0..<published {
            let word = wordSlot(index)
            let current = word.pointee.load(ordering: .acquiring)
            if current & Self.usersMask != 0 { inFlight += 1 }
            guard current & Self.liveBit != 0 else { continue }
            objectSlot(index).pointee = nil
            word.pointee.store(current & ~Self.liveBit, ordering: .releasing)
            if current & Self.usersMask == 0 { forgotten += 1 }
        }
        // Slots in flight are recycled as their users leave; the forgotten ones never are.
        let reset = freeList.recoverInForkedChild {
            // Another thread was registering or recycling: its free list may be half changed.
            // The child numbers new slots after the last one published and reuses none before.
            FreeList(freeIndices: [], slotCount: published, exhausted: published - inFlight)
        }
        if !reset { freeList.withLock { $0.exhausted += forgotten } }
    }

    /// Ends a handle: later lookups fail at once. Returns the object it named, or nil if the
    /// handle was not live (already retired, stale, foreign, wrong kind).
    func retire(_ handle: OpaquePointer?, kind: HandleKind) -> AnyObject? {
        guard let (index, generation) = decode(handle, kind: kind) else { return nil }
        let word = wordSlot(index)
        var current = word.pointee.load(ordering: .acquiring)
        while true {
            guard isLive(current, generation: generation, kind: kind) else { return nil }
            // Clear `live` and count ourselves as a user in one step, so the object cannot be
            // finalized before we have taken our reference to it.
            let desired = (current & ~Self.liveBit) + 1
            let (exchanged, original) = word.pointee.compareExchange(
                expected: current, desired: desired, ordering: .acquiringAndReleasing)
            if exchanged { break }
            current = original
        }
        let object = objectSlot(index).pointee!.takeUnretainedValue()
        leave(index)
        return object
    }

    @inline(__always)
    private func leave(_ index: Int) {
        let old = wordSlot(index).pointee.wrappingSubtract(1, ordering: .acquiringAndReleasing).oldValue
        if old & Self.usersMask == 1 && old & Self.liveBit == 0 {
            finalize(index, generation: old >> Self.generationShift)
        }
    }

    /// Runs once per retired handle, on the thread that saw the last user leave.
    @inline(never)
    private func finalize(_ index: Int, generation: UInt64) {
        let object = objectSlot(index).pointee
        objectSlot(index).pointee = nil
        let next = generation + 1 < generationLimit ? generation + 1 : 0
        wordSlot(index).pointee.store(next << Self.generationShift, ordering: .releasing)
        object?.release()
        freeList.withLock { list in
            if next != 0 { list.freeIndices.append(index) } else { list.exhausted += 1 }
        }
    }

    private func isLive(_ word: UInt64, generation: UInt64, kind: HandleKind) -> Bool {
        word & Self.liveBit != 0
            && word >> Self.generationShift == generation
            && (word >> Self.kindShift) & 0xF == kind.rawValue
    }

    private func decode(_ handle: OpaquePointer?, kind: HandleKind) -> (index: Int, generation: UInt64)? {
        guard let handle else { return nil }
        let bits = UInt64(UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle))))
        guard bits >> 63 == 0, (bits >> 32) & 0xF == kind.rawValue else { return nil }
        let indexPlusOne = bits & 0xFFFF_FFFF
        guard indexPlusOne != 0 else { return nil }
        let index = Int(indexPlusOne - 1)
        guard index < publishedSlotCount.load(ordering: .acquiring) else { return nil }
        return (index, (bits >> 36) & Self.generationMask)
    }

    private func allocateChunk(_ chunk: Int) {
        let words = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize * Self.slotStride, alignment: Self.slotStride)
        for i in 0..<Self.chunkSize {
            let slot = words + i * Self.slotStride
            slot.bindMemory(to: Atomic<UInt64>.self, capacity: 1).initialize(to: Atomic(1 << Self.generationShift))
            (slot + Self.objectOffset).bindMemory(to: Unmanaged<AnyObject>?.self, capacity: 1).initialize(to: nil)
        }
        wordChunks[chunk] = words
    }

    @inline(__always)
    private func wordSlot(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (wordChunks[index / Self.chunkSize]! + (index % Self.chunkSize) * Self.slotStride)
            .assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    @inline(__always)
    private func objectSlot(_ index: Int) -> UnsafeMutablePointer<Unmanaged<AnyObject>?> {
        (UnsafeMutableRawPointer(wordSlot(index)) + Self.objectOffset).assumingMemoryBound(to: Unmanaged<AnyObject>?.self)
    }
}
