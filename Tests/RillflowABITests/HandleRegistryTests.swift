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

    /// What a forked child's handler does to the table (`ForkedChild`), without forking: the
    /// handles made before are refused, their objects are never released, the slot that was
    /// free is reused and the count of live handles starts again from the child's own.
    @Test func aForkedChildForgetsEveryHandleMadeBefore() throws {
        let registry = HandleRegistry()
        let engine = try registry.register(Probe(id: 21), kind: .engine)
        let run = try registry.register(Probe(id: 22), kind: .run)
        let freed = try registry.register(Probe(id: 20), kind: .run)
        _ = registry.retire(freed, kind: .run)
        let releasedBefore = Probe.released.load(ordering: .relaxed)
        registry.forgetAfterFork()
        for (handle, kind) in [(engine, HandleKind.engine), (run, .run)] {
            #expect(registry.object(for: handle, kind: kind) == nil)
            #expect(registry.retire(handle, kind: kind) == nil)
        }
        #expect(Probe.released.load(ordering: .relaxed) == releasedBefore, "the objects are left unreleased")
        #expect(registry.liveCount == 0)
        let slotIndex = { (handle: OpaquePointer) in UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle))) & 0xFFFF_FFFF }
        let made = try registry.register(Probe(id: 23), kind: .engine)
        #expect(slotIndex(made) == slotIndex(freed))
        #expect((registry.object(for: made, kind: .engine) as? Probe)?.id == 23)
        #expect(registry.liveCount == 1)
        let next = try registry.register(Probe(id: 24), kind: .run)
        #expect(![slotIndex(engine), slotIndex(run)].contains(slotIndex(next)), "a forgotten slot is never reused")
        _ = registry.retire(made, kind: .engine)
        _ = registry.retire(next, kind: .run)
        #expect(registry.liveCount == 0)
    }
}
