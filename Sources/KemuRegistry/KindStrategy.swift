import KemuAPI

/// Services the strategies need from the server (allocators and clocks).
public protocol StrategyContext: Sendable {
    /// Allocates a free ClusterIP of the family ("IPv4"/"IPv6"); nil when the range is exhausted.
    func allocateClusterIP(family: String) -> String?
    /// Reserves a specific ClusterIP; false if it is taken or out of range.
    func reserveClusterIP(_ ip: String) -> Bool
    func releaseClusterIP(_ ip: String)
    /// Allocates a free NodePort.
    func allocateNodePort() -> Int?
    /// Reserves a specific NodePort; false if it is taken.
    func reserveNodePort(_ port: Int) -> Bool
    func releaseNodePort(_ port: Int)
}

/// Per-kind behaviour on writes, like kube-apiserver's rest strategies.
public protocol KindStrategy: Sendable {
    /// Defaults applied on create (after generic metadata is set). May throw for allocation failures.
    func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws
    /// Defaults applied on update; `old` is the stored version.
    func prepareForUpdate(_ obj: inout JSONObject, old: JSONObject, _ ctx: any StrategyContext) throws
    func validate(_ obj: JSONObject) -> [FieldError]
    func validateUpdate(_ obj: JSONObject, old: JSONObject) -> [FieldError]
    /// Releases what the object held (e.g. a ClusterIP) once it is gone.
    func afterDelete(_ obj: JSONObject, _ ctx: any StrategyContext)
    /// Whether an update bumps `metadata.generation` (for kinds that track it): a spec change by default.
    func generationChanged(_ new: JSONObject, old: JSONObject) -> Bool
}

extension KindStrategy {
    public func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws {}
    public func prepareForUpdate(_ obj: inout JSONObject, old: JSONObject, _ ctx: any StrategyContext) throws {}
    public func validate(_ obj: JSONObject) -> [FieldError] { [] }
    public func validateUpdate(_ obj: JSONObject, old: JSONObject) -> [FieldError] { validate(obj) }
    public func afterDelete(_ obj: JSONObject, _ ctx: any StrategyContext) {}
    public func generationChanged(_ new: JSONObject, old: JSONObject) -> Bool { new["spec"] != old["spec"] }
}

public struct DefaultStrategy: KindStrategy {
    public init() {}
}
