import CRillflow
import RillflowCore

@c @implementation
public func rf_engine_take_task(_ engine: OpaquePointer!, _ timeoutMs: Int32, _ outContext: UnsafeMutablePointer<OpaquePointer?>!) -> rf_status {
    apiCall("rf_engine_take_task") { () throws(APIFailure) in
        let engine = try HandleRegistry.shared.engine(engine)
        guard timeoutMs >= -1 else { throw .invalidArgument("timeout_ms is \(timeoutMs); use -1 (no limit), 0 (no wait) or milliseconds") }
        let outContext = try required(outContext, "out_ctx")
        let tasks = try engineCall { () throws(RillflowError) in try engine.runtime().tasks }
        let deadline = timeoutMs < 0 ? nil : WallClock.monotonicNanoseconds() + Int64(timeoutMs) * 1_000_000
        while true {
            let remaining = deadline.map { max(0, ($0 - WallClock.monotonicNanoseconds()) / 1_000_000) } ?? -1
            guard let context = try engineCall({ () throws(RillflowError) in try tasks.take(timeoutMilliseconds: timeoutMs == 0 ? 0 : remaining) }) else {
                throw timeoutMs == 0 ? APIFailure(RF_E_AGAIN, "no host-run step is waiting")
                                     : APIFailure(RF_E_TIMEOUT, "no host-run step came within \(timeoutMs) ms")
            }
            // A task whose try already ended (it timed out while it waited) is skipped: there
            // is nothing left to run. One that cannot get a handle fails its try here: nobody
            // else will complete it.
            let opened: OpaquePointer?
            do throws(RillflowError) {
                opened = try StepContexts.open(context)
            } catch {
                try? context.complete(.failed("the host could not be given a context: \(error.message)"))
                throw APIFailure(error)
            }
            if let handle = opened {
                outContext.pointee = handle
                return
            }
        }
    }
}

@c @implementation
public func rf_engine_task_fd(_ engine: OpaquePointer!, _ outFd: UnsafeMutablePointer<Int32>!) -> rf_status {
    apiCall("rf_engine_task_fd") { () throws(APIFailure) in
        let engine = try HandleRegistry.shared.engine(engine)
        let outFd = try required(outFd, "out_fd")
        outFd.pointee = try engineCall { () throws(RillflowError) in try engine.runtime().tasks.fileDescriptor }
    }
}
