import Testing
@testable import RillflowCore

@Suite struct EngineConfigurationTests {
    @Test func zeroMeansDefault() throws {
        let configuration = try EngineConfiguration(processorCount: 6)
        #expect(configuration.workerThreads == 6)
        #expect(configuration.logCapacity == EngineConfiguration.defaultLogCapacity)
        #expect(configuration.maxEventBytes == 1 << 20)
        #expect(configuration.historyBytes == EngineConfiguration.defaultHistoryBytes)
        #expect(configuration.emitTimeoutMilliseconds == nil)
    }

    @Test func logCapacityRoundsUpToPowerOfTwo() throws {
        #expect(try EngineConfiguration(logCapacity: 100_000, maxEventBytes: 4096).logCapacity == 131_072)
        #expect(try EngineConfiguration(logCapacity: 65_536, maxEventBytes: 4096).logCapacity == 65_536)
    }

    @Test(arguments: [
        (1025, 0, 0), (0, 1000, 0), (0, (1 << 30) + 1, 0), (0, 0, (64 << 20) + 1), (-1, 0, 0), (0, 0, 1023), (0, 0, 1),
        (0, 1 << 20, 1 << 20),  // a 1 MiB event does not fit in a 1 MiB log
    ])
    func outOfRangeValuesAreRefused(workers: Int, log: Int, maxEvent: Int) {
        #expect(throws: RillflowError.self) {
            try EngineConfiguration(workerThreads: workers, logCapacity: log, maxEventBytes: maxEvent)
        }
    }

    @Test func errorNamesTheField() {
        do {
            _ = try EngineConfiguration(workerThreads: 5000)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("worker_threads"))
        }
    }
}
