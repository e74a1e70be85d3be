/// How a failing step is tried again: up to `attempts` tries in all, waiting
/// `initialBackoff × multiplier^(n-1)` (capped at `maxBackoff`, spread by ±`jitter`) before try n+1.
public struct RetryPolicy: Sendable, Equatable {
    public var attempts: Int
    public var initialBackoffNanoseconds: Int64
    public var multiplier: Double
    public var maxBackoffNanoseconds: Int64
    /// 0 to 1: the fraction of each backoff randomized, so retries of many runs spread out.
    public var jitter: Double

    public static let none = RetryPolicy(attempts: 1, initialBackoffNanoseconds: 0, multiplier: 1, maxBackoffNanoseconds: 0, jitter: 0)

    public init(attempts: Int, initialBackoffNanoseconds: Int64, multiplier: Double, maxBackoffNanoseconds: Int64, jitter: Double) {
        self.attempts = attempts
        self.initialBackoffNanoseconds = initialBackoffNanoseconds
        self.multiplier = multiplier
        self.maxBackoffNanoseconds = maxBackoffNanoseconds
        self.jitter = jitter
    }

    /// Checks the values a caller gave.
    func validated(step: String) throws(RillflowError) -> RetryPolicy {
        guard (1...1000).contains(attempts) else {
            throw RillflowError(.invalidArgument, "step '\(step)': retry attempts is \(attempts); it must be 1 (no retry) to 1000")
        }
        guard initialBackoffNanoseconds >= 0, maxBackoffNanoseconds >= 0, multiplier >= 1, multiplier <= 100,
              (0...1).contains(jitter) else {
            throw RillflowError(.invalidArgument, "step '\(step)': retry backoffs must be >= 0, multiplier 1 to 100, jitter 0 to 1")
        }
        return self
    }

    /// The wait before try `attempt + 1`, after try `attempt` (1-based) failed; `unit` in 0..<1
    /// picks the jitter.
    public func backoff(afterAttempt attempt: Int, unit: Double) -> Int64 {
        var base = Double(initialBackoffNanoseconds)
        for _ in 1..<max(attempt, 1) { base *= multiplier }
        if maxBackoffNanoseconds > 0 { base = min(base, Double(maxBackoffNanoseconds)) }
        let spread = base * jitter * (unit * 2 - 1)
        // Without a cap, a large multiplier over many tries passes any Int64 (and even Double).
        let wait = max(0, base + spread)
        return wait < Double(Self.longestBackoffNanoseconds) ? Int64(wait) : Self.longestBackoffNanoseconds
    }

    /// The longest wait between tries, whatever the policy: about 292 years, past any run's life.
    public static let longestBackoffNanoseconds = Int64.max / 1_000
}
