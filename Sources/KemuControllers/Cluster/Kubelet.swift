import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry

/// The kubelet part of `ClusterSimulator`: runs pods bound to simulated nodes (nodes labelled or
/// annotated `kemu.dev/simulated: "true"`, which includes every node kemu creates). Pods bound to any
/// other node are never touched.
///
/// A pod on a simulated node goes straight to `phase: Running` in one `pods/status` write (field
/// manager `kubelet`): `hostIP`/`hostIPs` (the node's InternalIP), `podIP`/`podIPs` from the node's
/// `podCIDRs` (host network pods get the node's address), `startTime`, `containerStatuses` (running,
/// started, `image` normalised like containerd reports it, `imageID`, `containerID`, `restartCount: 0`),
/// `initContainerStatuses` (ordinary init containers Completed with exit code 0, sidecars running) and
/// the conditions `PodReadyToStartContainers`, `Initialized`, `Ready`, `ContainersReady`, `PodScheduled`.
/// `Ready`/`ContainersReady` turn True after the ready delay (`--pod-ready-delay`, default 0) unless
/// an annotation below says otherwise; while the node's Ready condition is not True its pods are
/// reported not ready (as the node lifecycle controller's MarkPodsNotReady).
///
/// Graceful deletion: a terminating pod stays `Running` until `deletionGracePeriodSeconds ×
/// --termination-grace-scale` seconds have passed, then it is removed. Meanwhile its readiness is
/// unchanged, as upstream where readiness probes keep running during termination (EndpointSlices show
/// it `ready: false, serving: true, terminating: true`); with `ClusterOptions.readyWhileTerminating =
/// false` it turns `Ready`/`ContainersReady` False at once (`serving: false`).
///
/// Pod annotations (read on every change, so adding/removing them on a running pod takes effect):
/// - `kemu.dev/hold-not-ready: "true"` — the pod stays Running but never becomes Ready while the
///   annotation is there; remove it (or set anything else) and it becomes Ready (subject to the delay).
/// - `kemu.dev/fail: "true"` — the containers terminate with exit code 1 (`reason: Error`), the pod
///   goes to `phase: Failed` with `Ready=False` (reason `PodFailed`). Terminal: removing the annotation
///   does not revive the pod, and its address is released. (Set at creation, the pod fails right away;
///   note that upstream a `restartPolicy: Always` pod would CrashLoopBackOff instead.)
/// - `kemu.dev/ready-after: "<seconds>"` — this pod's ready delay, counted from its start, replacing
///   `--pod-ready-delay` (decimals allowed, e.g. `"0.5"`).
/// - `kemu.dev/not-ready-after: "<seconds>"` — the pod turns not ready `<seconds>` after its start
///   (as a failing readiness probe) and stays not ready while the annotation is there; removing the
///   annotation makes it ready again. A value not larger than the ready delay means it never becomes ready.
extension ClusterSimulator {
    public static let holdNotReadyAnnotation = "kemu.dev/hold-not-ready"
    public static let failAnnotation = "kemu.dev/fail"
    public static let readyAfterAnnotation = "kemu.dev/ready-after"
    public static let notReadyAfterAnnotation = "kemu.dev/not-ready-after"

    /// Brings a pod on a simulated node to the status kemu's kubelet reports; schedules the next change.
    func runKubelet(_ key: String, pod: JSONObject) {
        guard var sp = pods[key], sp.uid == pod.uid, let node = nodes[sp.node], node.simulated else { return }
        if pod.deletionTimestamp != nil && PodFacts.phase(pod) != "Running" {
            // Never started (or already finished): nothing to stop, the pod goes at once.
            finishDeletion(pod, graceful: false)
            return
        }
        let now = Self.now()
        let hostNetwork = pod["spec"]?["hostNetwork"].boolValue ?? false
        // Addresses.
        var podIPs: [String] = []
        if hostNetwork {
            podIPs = node.hostIPs
        } else if let off = sp.ipOffset, let a = node.allocator {
            podIPs = a.ips(off)
        } else if nodes[sp.node]?.allocator != nil {
            let existing = PodFacts.ips(pod)
            if let first = existing.first, let off = nodes[sp.node]!.allocator!.reserve(first) {
                sp.ipOffset = off
            } else if let got = nodes[sp.node]!.allocator!.allocate() {
                sp.ipOffset = got.offset
            }
            if let off = sp.ipOffset { podIPs = nodes[sp.node]!.allocator!.ips(off) }
        }
        // No pod address yet (node without podCIDR, or range exhausted): the sandbox cannot start, stay Pending.
        if !hostNetwork && podIPs.isEmpty && pod.deletionTimestamp == nil { pods[key] = sp; return }
        if sp.startedAt == nil {
            sp.startedAt = pod["status"]?["startTime"].stringValue.flatMap(Timestamp.parse).map(Double.init) ?? now
        }
        pods[key] = sp
        let started = sp.startedAt ?? now
        let ann = pod.annotations
        let failed = ann[Self.failAnnotation] == "true"
        let delay = ann[Self.readyAfterAnnotation].flatMap(Double.init) ?? cluster.podReadyDelay
        var ready = !failed && (pod.deletionTimestamp == nil || cluster.readyWhileTerminating) && node.isReady && ann[Self.holdNotReadyAnnotation] != "true"
        var nextWake: Double?
        if ready && now < started + delay { ready = false; nextWake = started + delay }
        if let after = ann[Self.notReadyAfterAnnotation].flatMap(Double.init) {
            if now >= started + after { ready = false } else { nextWake = min(nextWake ?? .infinity, started + after) }
        }
        let status = Self.kubeletStatus(pod, node: node, podIPs: podIPs, startedAt: started, ready: ready, failed: failed)
        if status != (pod["status"] ?? .null) {
            let uid = pod.uid
            _ = try? storage.update(.pod, namespace: pod.namespace, name: pod.name, subresource: "status",
                                    options: WriteOptions(fieldManager: "kubelet")) { cur in
                guard cur.uid == uid else { return cur }
                var p = cur
                p["status"] = status
                return p
            }
        }
        if failed {
            release(key)
            return
        }
        if let t = nextWake {
            wake("ready:" + key, at: t) { [self] in
                if let p = podObject(key) { runKubelet(key, pod: p) }
            }
        }
        if pod.deletionTimestamp != nil { finishDeletion(pod, graceful: true) }
    }

    /// Removes a terminating pod once its (scaled) grace period has passed.
    func finishDeletion(_ pod: JSONObject, graceful: Bool) {
        let uid = pod.uid
        guard !finishing.contains(uid) else { return }
        finishing.insert(uid)
        let grace = graceful ? Double(pod.metadata["deletionGracePeriodSeconds"]?.intValue ?? 0) * storage.terminationGraceScale : 0
        let ns = pod.namespace, name = pod.name
        queue.asyncAfter(deadline: .now() + max(0, grace)) { [self] in
            finishing.remove(uid)
            storage.finishGracefulDeletion(.pod, namespace: ns, name: name, uid: uid)
        }
    }

    /// `docker.io/library/nginx:latest` for `nginx`, as containerd reports images.
    static func normalizedImage(_ image: String) -> String {
        var name = image
        let firstSlash = name.firstIndex(of: "/")
        let domainLike = firstSlash.map { i in
            let d = name[..<i]
            return d.contains(".") || d.contains(":") || d == "localhost"
        } ?? false
        if !domainLike { name = (firstSlash == nil ? "docker.io/library/" : "docker.io/") + name }
        let lastPart = name.split(separator: "/").last ?? ""
        if !name.contains("@") && !lastPart.contains(":") { name += ":latest" }
        return name
    }

    static func imageID(_ image: String) -> String {
        let n = normalizedImage(image)
        if n.contains("@") { return n }
        let repo = n.lastIndex(of: ":").map { String(n[..<$0]) } ?? n
        return repo + "@sha256:" + NodeBootstrap.hex("image/" + n, 64)
    }

    static func condition(_ type: String, _ ok: Bool, reason: String?, message: String?, old: [JSON], now: String) -> JSON {
        let status = ok ? "True" : "False"
        var c: JSONObject = ["type": .string(type), "status": .string(status), "lastProbeTime": nil, "lastTransitionTime": .string(now)]
        if let prev = old.first(where: { $0["type"].stringValue == type }), prev["status"].stringValue == status,
           case let t = prev["lastTransitionTime"], !t.isNull {
            c["lastTransitionTime"] = t
        }
        if let reason { c["reason"] = .string(reason) }
        if let message { c["message"] = .string(message) }
        return .object(c)
    }

    /// The status kemu's kubelet reports; stable (equal to the stored one) when nothing changed.
    static func kubeletStatus(_ pod: JSONObject, node: SimNode, podIPs: [String], startedAt: Double, ready: Bool, failed: Bool) -> JSON {
        var status = pod["status"]?.objectValue ?? JSONObject()
        let old = status["conditions"]?.arrayValue ?? []
        let now = Timestamp.now()
        let start = status["startTime"]?.stringValue ?? Timestamp.format(epochSeconds: Int(startedAt))
        let spec = pod["spec"] ?? .null
        let containers = spec["containers"].arrayValue ?? []
        let names = containers.compactMap { $0["name"].stringValue }
        let notReadyMsg = "containers with unready status: [\(names.joined(separator: " "))]"
        let failMsg = failed ? "PodFailed" : "ContainersNotReady"
        status["phase"] = failed ? "Failed" : "Running"
        // Pods started or turned ready in the same second have equal conditions, pods of a node equal hostIPs:
        // one copy of each is kept (`JSONInterner`).
        status["conditions"] = JSONInterner.share(.array([
            condition("PodReadyToStartContainers", !failed, reason: nil, message: nil, old: old, now: now),
            condition("Initialized", true, reason: nil, message: nil, old: old, now: now),
            condition("Ready", ready, reason: ready ? nil : failMsg, message: ready || failed ? nil : notReadyMsg, old: old, now: now),
            condition("ContainersReady", ready, reason: ready ? nil : failMsg, message: ready || failed ? nil : notReadyMsg, old: old, now: now),
            condition("PodScheduled", true, reason: nil, message: nil, old: old, now: now),
        ].map(JSONInterner.share)))
        if !node.hostIPs.isEmpty {
            status["hostIP"] = .string(node.hostIPs[0])
            status["hostIPs"] = JSONInterner.share(.array(node.hostIPs.map { ["ip": .string($0)] }))
        }
        if let first = podIPs.first {
            status["podIP"] = .string(first)
            status["podIPs"] = .array(podIPs.map { ["ip": .string($0)] })
        }
        status["startTime"] = .string(start)
        let oldStatuses = (status["containerStatuses"]?.arrayValue ?? []) + (status["initContainerStatuses"]?.arrayValue ?? [])
        func finished(_ name: String) -> String {
            for s in oldStatuses where s["name"].stringValue == name {
                if let f = s["state"]["terminated"]["finishedAt"].stringValue { return f }
            }
            return now
        }
        func containerStatus(_ c: JSON, running: Bool, completed: Bool = false, ready r: Bool) -> JSON {
            let name = c["name"].stringValue ?? ""
            let image = c["image"].stringValue ?? ""
            let cid = "containerd://" + NodeBootstrap.hex(pod.uid + "/" + name, 64)
            var state: JSON
            if running {
                state = ["running": ["startedAt": .string(start)]]
            } else {
                state = ["terminated": ["exitCode": .int(completed ? 0 : 1), "reason": .string(completed ? "Completed" : "Error"),
                                        "startedAt": .string(start), "finishedAt": .string(finished(name)), "containerID": .string(cid)]]
            }
            return ["name": .string(name), "state": JSONInterner.share(state), "lastState": [:], "ready": .bool(r), "restartCount": 0,
                    "image": JSONInterner.share(.string(normalizedImage(image))), "imageID": JSONInterner.share(.string(imageID(image))),
                    "containerID": .string(cid), "started": .bool(running)]
        }
        status["containerStatuses"] = .array(containers.map { containerStatus($0, running: !failed, ready: ready) })
        if let inits = spec["initContainers"].arrayValue, !inits.isEmpty {
            status["initContainerStatuses"] = .array(inits.map { c in
                let sidecar = c["restartPolicy"].stringValue == "Always"
                return containerStatus(c, running: sidecar && !failed, completed: !sidecar, ready: sidecar ? ready : true)
            })
        }
        status.shrinkToFit()
        return .object(status)
    }
}
