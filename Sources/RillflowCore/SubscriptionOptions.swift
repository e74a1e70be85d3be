/// How a subscription filters a run's events and where it starts.
public struct SubscriptionOptions: Sendable {
    public var mode: StreamMode
    /// With `.custom`: the kinds that pass (terminal and lagged events always do).
    public var customKinds: KindSet
    /// With `.custom`: custom events pass only on these topics; nil lets every topic through.
    public var topics: [[UInt8]]?
    /// When it falls a full log behind: false makes producers wait for it, true moves it
    /// forward and reports the gap as one `lagged` event.
    public var lossy: Bool
    /// 0 = the live tail (events from now on); n = from seq n, replayed from the log or the history.
    public var startSeq: UInt64
    /// End the stream at the first input-required event (the run waits for a human) instead of
    /// at the terminal event.
    public var endAtSuspension: Bool

    public init(mode: StreamMode = .tokens, customKinds: KindSet = .all, topics: [[UInt8]]? = nil,
                lossy: Bool = false, startSeq: UInt64 = 0, endAtSuspension: Bool = false) {
        self.endAtSuspension = endAtSuspension
        self.mode = mode
        self.customKinds = customKinds
        self.topics = topics
        self.lossy = lossy
        self.startSeq = startSeq
    }
}
