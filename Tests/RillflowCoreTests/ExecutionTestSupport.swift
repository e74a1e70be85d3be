@testable import RillflowCore

/// The worker pool and delay queue that executions under test run on. `shutdown()` joins the
/// pool's threads, so what a step wrote can be read after it.
final class TestRuntime {
    let pool: WorkerPool
    let delays: DelayQueue

    init(threads: Int) throws {
        pool = try WorkerPool(threads: threads)
        delays = try DelayQueue()
    }

    func execution(_ definition: WorkflowDefinition, _ functions: [StepFunction], run: Run,
                   stepBudget: Int = 10) throws -> WorkflowExecution {
        try WorkflowExecution(definition: definition, functions: functions, run: run, pool: pool, delays: delays,
                              stepBudget: stepBudget)
    }

    func shutdown() {
        pool.shutdown()
        delays.shutdown()
    }
}
