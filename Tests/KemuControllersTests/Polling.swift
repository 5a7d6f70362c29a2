import Foundation

/// Polls `condition` every 2 ms for up to `timeout` seconds; true as soon as it holds.
func poll(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}
