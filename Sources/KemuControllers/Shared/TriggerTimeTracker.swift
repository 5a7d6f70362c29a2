/// Computes the `endpoints.kubernetes.io/last-change-trigger-time` value per sync, as upstream's
/// TriggerTimeTracker: the Service creation time on the first sync, afterwards the earliest Ready
/// transition (or Service creation) newer than what the previous sync saw; nil when nothing changed.
/// Used by the EndpointSlice controller (pod by pod) and the Endpoints controller (every pod, `full`).
struct TriggerTimeTracker {
    struct State { var serviceTime: Int?; var podTimes: [String: Int] = [:] }
    var states: [String: State] = [:]

    /// `changed` are the pods (name → trigger time, nil when gone or without a Ready condition) that may
    /// differ since the previous sync; with `full`, `changed` is every selected pod.
    mutating func compute(serviceKey: String, serviceTime: Int?, changed: [(String, Int?)], full: Bool) -> Int? {
        let known = states[serviceKey] != nil
        var st = states[serviceKey] ?? State()
        var minChanged: Int?
        func consider(_ t: Int) { if minChanged == nil || t < minChanged! { minChanged = t } }
        var newTimes = full ? [:] : st.podTimes
        for (pod, t) in changed {
            if let t {
                if t > (st.podTimes[pod] ?? Int.min) { consider(t) }
                newTimes[pod] = t
            } else {
                newTimes[pod] = nil
            }
        }
        if let s = serviceTime, s > (st.serviceTime ?? Int.min) { consider(s) }
        st.podTimes = newTimes
        st.serviceTime = serviceTime
        states[serviceKey] = st
        return known ? minChanged : serviceTime
    }

    mutating func forget(_ serviceKey: String) { states[serviceKey] = nil }
}
