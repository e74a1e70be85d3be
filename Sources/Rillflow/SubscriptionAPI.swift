import CRillflow
import RillflowCore

extension HandleRegistry {
    func subscription(_ handle: OpaquePointer?) throws(APIFailure) -> Subscription {
        guard let object = object(for: handle, kind: .subscription) else { throw .invalidHandle(.subscription, "subscription") }
        return unsafeDowncast(object, to: Subscription.self)
    }

    /// Reads from a subscription lent for the call (the read paths are hot: no reference counting).
    static func read(_ handle: OpaquePointer?, limit: Int, timeoutMilliseconds: Int64,
                     _ deliver: (EventView) -> Bool) throws(APIFailure) -> Int {
        try withObject(handle, kind: .subscription, as: Subscription.self, parameter: "subscription") {
            subscription throws(RillflowError) in
            try subscription.read(limit: limit, timeoutMilliseconds: timeoutMilliseconds, deliver)
        }
    }
}

extension SubscriptionOptions {
    init(_ options: rf_subscription_options) throws(APIFailure) {
        guard let mode = StreamMode(rawValue: options.mode) else {
            throw .invalidArgument("options->mode \(options.mode) is not an RF_STREAM_* value")
        }
        guard options.kinds & ~KindSet.all.mask == 0 else {
            throw .invalidArgument("options->kinds has bits of undefined kinds: 0x\(String(options.kinds & ~KindSet.all.mask, radix: 16))")
        }
        let knownFlags = RF_SUBSCRIBE_LOSSY | RF_SUBSCRIBE_END_AT_SUSPENSION
        guard options.flags & ~knownFlags == 0 else {
            throw .invalidArgument("options->flags has unknown bits: 0x\(String(options.flags & ~knownFlags, radix: 16))")
        }
        guard options.reserved0 == 0 else { throw .invalidArgument("options->reserved0 must be 0") }
        var topics: [[UInt8]]?
        if options.topic_count > 0 {
            guard let list = options.topics else { throw .invalidArgument("options->topics is NULL but topic_count is \(options.topic_count)") }
            topics = []
            for index in 0..<Int(options.topic_count) {
                guard let topic = list[index] else { throw .invalidArgument("options->topics[\(index)] is NULL") }
                topics!.append(Array(try CStrings.bytes(topic, "options->topics[\(index)]")))
            }
        }
        self.init(mode: mode, customKinds: options.kinds == 0 ? .all : KindSet(mask: options.kinds), topics: topics,
                  lossy: options.flags & RF_SUBSCRIBE_LOSSY != 0, startSeq: options.start_seq,
                  endAtSuspension: options.flags & RF_SUBSCRIBE_END_AT_SUSPENSION != 0)
    }
}

/// Checks a read timeout: -1 (no limit), 0 (no wait) or a positive number of milliseconds.
private func readTimeout(_ timeout: Int32) throws(APIFailure) -> Int64 {
    guard timeout >= -1 else { throw .invalidArgument("timeout_ms is \(timeout); use -1 (no limit), 0 (no wait) or milliseconds") }
    return Int64(timeout)
}

@c @implementation
public func rf_subscription_options_init(_ options: UnsafeMutablePointer<rf_subscription_options>!) -> rf_status {
    apiCall("rf_subscription_options_init") { () throws(APIFailure) in
        try required(options, "options").pointee = OptionsStruct.zeroed(rf_subscription_options.self)
    }
}

@c @implementation
public func rf_subscription_create(_ run: OpaquePointer!, _ options: UnsafePointer<rf_subscription_options>!,
                                   _ outSubscription: UnsafeMutablePointer<OpaquePointer?>!) -> rf_status {
    apiCall("rf_subscription_create") { () throws(APIFailure) in
        let run = try HandleRegistry.shared.run(run).run
        let outSubscription = try required(outSubscription, "out_subscription")
        let requested = try OptionsStruct.read(options, name: "options", firstVersionSize: Int(RF_SUBSCRIPTION_OPTIONS_SIZE_V1))
        let subscriptionOptions = try SubscriptionOptions(requested)
        let subscription = try engineCall { () throws(RillflowError) in try Subscription(log: run.log, options: subscriptionOptions) }
        do throws(RillflowError) {
            outSubscription.pointee = try HandleRegistry.shared.register(subscription, kind: .subscription)
        } catch {
            subscription.close()
            throw APIFailure(error)
        }
    }
}

@c @implementation
public func rf_subscription_read(_ subscription: OpaquePointer!, _ outEvent: UnsafeMutablePointer<rf_event>!, _ timeoutMs: Int32) -> rf_status {
    apiCall("rf_subscription_read") { () throws(APIFailure) in
        let outEvent = try required(outEvent, "out_event")
        let size = try EventFill.size(of: outEvent, "out_event")
        let timeout = try readTimeout(timeoutMs)
        _ = try HandleRegistry.read(subscription, limit: 1, timeoutMilliseconds: timeout) { view in
            EventFill.fill(UnsafeMutableRawPointer(outEvent), size: size, from: view)
            return true
        }
    }
}

@c @implementation
public func rf_subscription_read_batch(_ subscription: OpaquePointer!, _ events: UnsafeMutablePointer<rf_event>!, _ capacity: UInt32,
                                       _ timeoutMs: Int32, _ outCount: UnsafeMutablePointer<UInt32>!) -> rf_status {
    outCount?.pointee = 0
    return apiCall("rf_subscription_read_batch") { () throws(APIFailure) in
        let events = try required(events, "events")
        let outCount = try required(outCount, "out_count")
        guard capacity > 0 else { throw .invalidArgument("capacity is 0") }
        let stride = try EventFill.size(of: events, "events[0]")
        let timeout = try readTimeout(timeoutMs)
        let base = UnsafeMutableRawPointer(events)
        // The views first, each where its event goes, then each event made from its view, while
        // the read still holds the subscription (a release or another read would end the views).
        let count = try HandleRegistry.withObject(subscription, kind: .subscription, as: Subscription.self,
                                                  parameter: "subscription") { subscription throws(RillflowError) in
            try subscription.read(into: base, stride: stride, limit: Int(capacity), timeoutMilliseconds: timeout) { count in
                var slot = base
                for _ in 0..<count {
                    EventFill.fill(slot, size: stride, from: slot.loadUnaligned(as: EventView.self))
                    slot += stride
                }
            }
        }
        outCount.pointee = UInt32(count)
    }
}

@c @implementation
public func rf_subscription_read_packed(_ subscription: OpaquePointer!, _ buffer: UnsafeMutableRawPointer!, _ capacity: UInt32,
                                       _ timeoutMs: Int32, _ outCount: UnsafeMutablePointer<UInt32>!,
                                       _ outBytes: UnsafeMutablePointer<UInt32>!) -> rf_status {
    outCount?.pointee = 0
    outBytes?.pointee = 0  // (the size needed, when the buffer is too small)
    return apiCall("rf_subscription_read_packed") { () throws(APIFailure) in
        let outCount = try required(outCount, "out_count")
        let outBytes = try required(outBytes, "out_bytes")
        guard buffer != nil || capacity == 0 else { throw .invalidArgument("buffer is NULL but capacity is \(capacity)") }
        let timeout = try readTimeout(timeoutMs)
        // One lookup for the size check and the read: this is a binding's read loop.
        var used = 0, count = 0, largest = 0
        var oversized: UInt64?
        try HandleRegistry.withObject(subscription, kind: .subscription, as: Subscription.self,
                                      parameter: "subscription") { subscription throws(RillflowError) in
            largest = PackedEvent.largestEntry(maxDataBytes: subscription.maxDataBytes)
            guard Int(capacity) >= largest, let buffer else { return }
            _ = try subscription.read(limit: Int.max, timeoutMilliseconds: timeout) { view in
                // Never past the buffer, even for an event larger than the limit promised.
                guard PackedEvent.entrySize(view) <= Int(capacity) - used else {
                    oversized = view.seq
                    return false
                }
                used += PackedEvent.write(view, to: buffer + used)
                count += 1
                return Int(capacity) - used >= largest  // stop while the largest event still fits
            }
        }
        if let oversized, count == 0 {
            throw APIFailure(RF_E_INTERNAL, "event seq \(oversized) is larger than this subscription's events can be; it was skipped")
        }
        guard Int(capacity) >= largest, buffer != nil else {
            outBytes.pointee = UInt32(largest)
            throw APIFailure(RF_E_TOO_LARGE, "capacity is \(capacity) bytes; this engine's events need RF_PACKED_EVENT_MAX_SIZE(max_event_bytes) = \(largest)")
        }
        outCount.pointee = UInt32(count)
        outBytes.pointee = UInt32(used)
    }
}

@c @implementation
public func rf_subscription_poll(_ subscription: OpaquePointer!, _ handler: rf_event_handler!, _ userData: UnsafeMutableRawPointer!,
                                 _ limit: UInt32, _ outCount: UnsafeMutablePointer<UInt32>!) -> rf_status {
    outCount?.pointee = 0
    return apiCall("rf_subscription_poll") { () throws(APIFailure) in
        guard let handler else { throw .invalidArgument("handler is NULL") }
        guard limit > 0 else { throw .invalidArgument("limit is 0") }
        var event = OptionsStruct.zeroed(rf_event.self)
        var count: UInt32 = 0
        do throws(APIFailure) {
            _ = try HandleRegistry.read(subscription, limit: Int(limit), timeoutMilliseconds: 0) { view in
                EventFill.fill(&event, size: MemoryLayout<rf_event>.size, from: view)
                count += 1
                return handler(userData, &event) == 0
            }
        } catch where error.status == RF_E_AGAIN {
            // Nothing ready is a normal poll result.
        }
        outCount?.pointee = count
    }
}

@c @implementation
public func rf_subscription_fd(_ subscription: OpaquePointer!, _ outFd: UnsafeMutablePointer<Int32>!) -> rf_status {
    apiCall("rf_subscription_fd") { () throws(APIFailure) in
        let subscription = try HandleRegistry.shared.subscription(subscription)
        let outFd = try required(outFd, "out_fd")
        outFd.pointee = try engineCall { () throws(RillflowError) in try subscription.fileDescriptor() }
    }
}

@c @implementation
public func rf_subscription_release(_ subscription: OpaquePointer!) -> rf_status {
    apiCall("rf_subscription_release") { () throws(APIFailure) in
        guard let object = HandleRegistry.shared.retire(subscription, kind: .subscription) else {
            throw .invalidHandle(.subscription, "subscription")
        }
        unsafeDowncast(object, to: Subscription.self).close()
    }
}
