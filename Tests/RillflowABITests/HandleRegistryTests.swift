import Synchronization
import Testing
@testable import Rillflow


private final class Probe: Sendable {
    static let released = Atomic<Int>(0)
    let id: Int
    init(id: Int) { self.id = id }
    deinit { Probe.released.add(1, ordering: .relaxed) }
}

@Suite(.serialized) struct HandleRegistryTests {
    let registry = HandleRegistry()

    @Test func lookupFindsTheRegisteredObject() throws {
        let probe = Probe(id: 7)
        let handle = try registry.register(probe, kind: .run)
        #expect(registry.object(for: handle, kind: .run) === probe)
        #expect(registry.retire(handle, kind: .run) === probe)
    }

    @Test func retiredHandleIsRefusedEverywhere() throws {
        let handle = try registry.register(Probe(id: 1), kind: .engine)
        #expect(registry.retire(handle, kind: .engine) != nil)
        #expect(registry.object(for: handle, kind: .engine) == nil)
        #expect(registry.retire(handle, kind: .engine) == nil)
    }

    @Test func wrongKindNullAndForeignPointersAreRefused() throws {
        let handle = try registry.register(Probe(id: 2), kind: .engine)
        defer { _ = registry.retire(handle, kind: .engine) }
        #expect(registry.object(for: handle, kind: .run) == nil)
        #expect(registry.retire(handle, kind: .subscription) == nil)
        #expect(registry.object(for: nil, kind: .engine) == nil)
        var local = 0
        let foreign = withUnsafeMutablePointer(to: &local) { OpaquePointer($0) }
        #expect(registry.object(for: foreign, kind: .engine) == nil)
        #expect(registry.object(for: OpaquePointer(bitPattern: UInt.max), kind: .engine) == nil)
        // Still live after all of that.
        #expect(registry.object(for: handle, kind: .engine) != nil)
    }

    @Test func staleHandleIsRefusedAfterItsSlotIsReused() throws {
        let old = try registry.register(Probe(id: 3), kind: .workflow)
        _ = registry.retire(old, kind: .workflow)
        // The freed slot is the next one handed out (LIFO free list), with a new generation.
        let new = try registry.register(Probe(id: 4), kind: .workflow)
        defer { _ = registry.retire(new, kind: .workflow) }
        #expect(old != new)
        #expect(registry.object(for: old, kind: .workflow) == nil)
        #expect((registry.object(for: new, kind: .workflow) as? Probe)?.id == 4)
    }

    @Test func slotThatUsedAllItsGenerationsIsNeverReused() throws {
        let registry = HandleRegistry(generations: 3)  // generations 1 and 2, then none
        let first = try registry.register(Probe(id: 5), kind: .stepContext)
        _ = registry.retire(first, kind: .stepContext)
        let second = try registry.register(Probe(id: 6), kind: .stepContext)  // same slot, generation 2
        _ = registry.retire(second, kind: .stepContext)
        #expect(registry.liveCount == 0)
        let third = try registry.register(Probe(id: 7), kind: .stepContext)
        defer { _ = registry.retire(third, kind: .stepContext) }
        // A new slot: neither the slot's last handle nor its first matches anything again.
        let slotIndex = { (handle: OpaquePointer) in UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle))) & 0xFFFF_FFFF }
        #expect(slotIndex(second) == slotIndex(first))
        #expect(slotIndex(third) != slotIndex(first))
        for stale in [first, second] {
            #expect(registry.object(for: stale, kind: .stepContext) == nil)
            #expect(registry.retire(stale, kind: .stepContext) == nil)
        }
        #expect((registry.object(for: third, kind: .stepContext) as? Probe)?.id == 7)
        #expect(registry.liveCount == 1)
    }

    @Test func objectIsReleasedOnceWhenRetiredDuringConcurrentLookups() async throws {
        let rounds = 200
        let registry = self.registry
        let before = Probe.released.load(ordering: .relaxed)
        let liveBefore = registry.liveCount
        for round in 0..<rounds {
            let handle = try registry.register(Probe(id: round), kind: .subscription)
            let handleBits = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask { [round] in
                        let handle = OpaquePointer(bitPattern: handleBits)
                        for _ in 0..<50 {
                            if let probe = registry.object(for: handle, kind: .subscription) as? Probe {
                                #expect(probe.id == round)
                            }
                        }
                    }
                }
                group.addTask {
                    #expect(registry.retire(OpaquePointer(bitPattern: handleBits), kind: .subscription) != nil)
                }
            }
            #expect(registry.object(for: handle, kind: .subscription) == nil)
        }
        #expect(Probe.released.load(ordering: .relaxed) - before == rounds)
        #expect(registry.liveCount == liveBefore)
    }
}
