/// Strategic merge patch (`application/strategic-merge-patch+json`), applied the way
/// `k8s.io/apimachinery/pkg/util/strategicpatch.StrategicMergeMapPatch` does on the server
/// (MergeParallelList and IgnoreUnmatchedNulls on), including its list-ordering rules
/// (`$setElementOrder`, patch order, then live order) and its directives:
/// `$patch: replace|delete|merge`, `$retainKeys`, `$deleteFromPrimitiveList/<f>`, `$setElementOrder/<f>`.
///
/// Errors are classified like kube-apiserver's `interpretStrategicMergePatchError`:
/// format errors are 400 BadRequest, "lists of lists" is 422 Invalid, anything else is a
/// plain error (500 with an empty reason, as `ErrorToAPIStatus` renders non-Status errors).
///
/// Values taken verbatim from the patch (new keys, new list items, replaced lists/maps) are
/// cleaned the way upstream's typed decoding would make them look: null-valued keys inside
/// objects are dropped and leftover directives are removed.
public enum StrategicMergePatch {
    public static func apply(original: JSON, patch: JSON, schema: (any PatchSchema)?) throws -> JSON {
        let patchObject: JSONObject
        switch patch {
        case .object(let o): patchObject = o
        case .null: return original  // decodes to a nil map upstream: nothing to merge
        default:
            throw APIError.badRequest("json: cannot unmarshal \(patch.typeName) into Go value of type map[string]interface {}")
        }
        guard case .object(let originalObject) = original else {
            throw APIError.badRequest(SMPMessages.badJSONDoc)
        }
        do {
            return .object(try SMPEngine.mergeMap(originalObject, patchObject, schema))
        } catch let failure as SMPFailure {
            throw failure.apiError
        }
    }
}

// MARK: - Errors

enum SMPMessages {
    static let badJSONDoc = "invalid JSON document"
    static let noListOfLists = "lists of lists are not supported"
    static let badPrimitiveList = "invalid patch format of primitive list"
    static let badRetainKeys = "invalid patch format of retainKeys"
    static let badSetElementOrder = "invalid patch format of setElementOrder list"
    static let genericInvalid = "the server rejected our request due to an error in our request"
}

struct SMPFailure: Error {
    enum Kind { case badRequest, invalid, plain }
    let kind: Kind
    let message: String

    static func bad(_ m: String) -> SMPFailure { SMPFailure(kind: .badRequest, message: m) }
    static func invalid(_ m: String) -> SMPFailure { SMPFailure(kind: .invalid, message: m) }
    static func plain(_ m: String) -> SMPFailure { SMPFailure(kind: .plain, message: m) }

    var apiError: APIError {
        switch kind {
        case .badRequest: return APIError.badRequest(message)
        // NewGenericServerResponse(422, ...): the detail is not part of the Status upstream.
        case .invalid: return APIError(code: 422, reason: "Invalid", message: SMPMessages.genericInvalid)
        // A non-Status error: ErrorToAPIStatus renders code 500, reason "" (Unknown), message err.Error().
        case .plain: return APIError(code: 500, reason: "", message: message)
        }
    }

    static func noMergeKey(_ m: JSONObject, _ key: String) -> SMPFailure {
        .plain("map: \(SMPFormat.v(.object(m))) does not contain declared merge key: \(key)")
    }

    static func badArgType(_ expected: String, _ actual: JSON) -> SMPFailure {
        .plain("expected a \(expected), but received a \(SMPFormat.goTypeName(actual))")
    }

    static func badPatchType(_ directive: JSON, _ m: JSONObject) -> SMPFailure {
        .plain("unknown patch type: \(SMPFormat.s(directive)) in map: \(SMPFormat.v(.object(m)))")
    }
}

// MARK: - Engine

enum SMPGoKind: Equatable { case map, slice, string, int64, float64, bool, null }

enum SMPEngine {
    static let directiveMarker = "$patch"
    static let retainKeysDirective = "$retainKeys"
    static let deletePrefix = "$deleteFromPrimitiveList"
    static let orderPrefix = "$setElementOrder"
    static let mapTypeName = "map[string]interface {}"
    static let sliceTypeName = "[]interface {}"

    static func mergeMap(_ originalIn: JSONObject?, _ patchIn: JSONObject, _ schema: (any PatchSchema)?) throws -> JSONObject {
        if let directive = patchIn[directiveMarker] {
            return try handleDirectiveInMergeMap(directive, patchIn)
        }
        var original = originalIn ?? JSONObject()
        var patch = patchIn
        try applyRetainKeysDirective(&original, &patch)
        try mergePatchIntoOriginal(&original, &patch, schema)

        for (patchKey, patchV) in patch {
            var k = patchKey
            var isDeleteList = false
            if patchKey.hasPrefix(deletePrefix) {
                k = try extractKey(patchKey, prefix: deletePrefix)
                isDeleteList = true
            }
            if case .null = patchV {
                original[k] = nil
                continue
            }
            guard let originalV = original[k] else {
                if !isDeleteList { setCleaned(&original, k, patchV) }
                continue
            }
            switch (originalV, patchV) {
            case (.object(let o), .object(let p)):
                let field = schema?.field(k)
                let strategy = try patchStrategy(field)
                if strategy == "replace" {
                    setCleaned(&original, k, patchV)
                } else {
                    original[k] = .object(try mergeMap(o, p, field?.element))
                }
            case (.array(let o), .array(let p)):
                let field = schema?.field(k)
                let strategy = try patchStrategy(field)
                let merged = try mergeSliceHandler(o, p, field?.element, strategy, field?.mergeKey ?? "", isDeleteList)
                original[k] = .array(merged.merged)
            default:
                // Scalars, or the type changed: take the patch value.
                if !isDeleteList || sameGoKind(originalV, patchV) { setCleaned(&original, k, patchV) }
            }
        }
        return original
    }

    static func handleDirectiveInMergeMap(_ directive: JSON, _ patch: JSONObject) throws -> JSONObject {
        if directive == .string("replace") {
            var p = patch
            p[directiveMarker] = nil
            return cleanedObject(p)
        }
        if directive == .string("delete") {
            return JSONObject()
        }
        throw SMPFailure.badPatchType(directive, patch)
    }

    /// `$retainKeys`: every non-null, non-directive key of the patch must be listed;
    /// keys of the original not listed are cleared.
    static func applyRetainKeysDirective(_ original: inout JSONObject, _ patch: inout JSONObject) throws {
        guard let retain = patch[retainKeysDirective] else { return }
        patch[retainKeysDirective] = nil
        guard case .array(let list) = retain else { throw SMPFailure.bad(SMPMessages.badRetainKeys) }
        var keep = Set<String>()
        for item in list { if case .string(let s) = item { keep.insert(s) } }
        for (k, v) in patch {
            if v.isNull || k.hasPrefix(deletePrefix) || k.hasPrefix(orderPrefix) { continue }
            if !keep.contains(k) { throw SMPFailure.bad(SMPMessages.badRetainKeys) }
        }
        var kept = JSONObject()
        for (k, v) in original where keep.contains(k) { kept.appendUnchecked(k, v) }
        original = kept
    }

    /// Processes every `$setElementOrder/<field>`: merges `<field>` from the patch (if any) and
    /// orders the result by `$setElementOrder`, then the patch list, then the live list.
    static func mergePatchIntoOriginal(_ original: inout JSONObject, _ patch: inout JSONObject,
                                       _ schema: (any PatchSchema)?) throws {
        let orderEntries = patch.filter { $0.key.hasPrefix(orderPrefix) }
        for (key, orderValue) in orderEntries {
            patch[key] = nil
            guard case .array(let setOrder) = orderValue else {
                throw SMPFailure.badArgType(sliceTypeName, orderValue)
            }
            let originalKey = try extractKey(key, prefix: orderPrefix)
            var originalList: [JSON]?
            var patchList: [JSON]?
            if let v = original[originalKey] {
                guard case .array(let a) = v else { throw SMPFailure.badArgType(sliceTypeName, v) }
                originalList = a
            }
            if let v = patch[originalKey] {
                guard case .array(let a) = v else { throw SMPFailure.badArgType(sliceTypeName, v) }
                patchList = a
            }
            let field = schema?.field(originalKey)
            let strategy = try patchStrategy(field)
            let mergeKey = field?.mergeKey ?? ""
            try validatePatchWithSetOrderList(patchList ?? [], setOrder, mergeKey)

            var merged: [JSON]
            var serverOrder = originalList ?? []
            switch (originalList, patchList) {
            case (let o?, nil):
                merged = o
            case (nil, let p?):
                merged = cleanedArray(p)
            case (let o?, let p?):
                let r = try mergeSliceHandler(o, p, field?.element, strategy, mergeKey, false)
                merged = r.merged
                if let view = r.originalView { serverOrder = view }
            case (nil, nil):
                continue
            }

            let (patchItems, serverOnly) = mergeKey.isEmpty
                ? partitionPrimitives(merged, by: setOrder)
                : try partitionMaps(merged, by: setOrder, mergeKey)
            let kind = try sliceElementKind([originalList ?? [], patchList ?? []])
            let both = try normalizeElementOrder(patchItems, serverOnly, setOrder, serverOrder, mergeKey, kind)
            original[originalKey] = .array(both)
            patch[originalKey] = nil
        }
    }

    /// Checks that the relative order of the patch list's items matches `$setElementOrder`.
    static func validatePatchWithSetOrderList(_ patchList: [JSON], _ setOrder: [JSON], _ mergeKey: String) throws {
        if setOrder.isEmpty || patchList.isEmpty { return }
        var nonDelete = patchList
        if !mergeKey.isEmpty {
            nonDelete = try extractToDeleteItems(patchList).keep
        }
        var patchIndex = 0
        var orderIndex = 0
        while patchIndex < nonDelete.count && orderIndex < setOrder.count {
            if case .object(let m) = nonDelete[patchIndex], m[directiveMarker] != nil {
                patchIndex += 1
                continue
            }
            if try mergeKeyValueEqual(nonDelete[patchIndex], setOrder[orderIndex], mergeKey) {
                patchIndex += 1
            }
            orderIndex += 1
        }
        if patchIndex < nonDelete.count && orderIndex >= setOrder.count {
            throw SMPFailure.plain("the order in patch list:\n\(SMPFormat.v(.array(patchList)))\n doesn't match \(orderPrefix) list:\n\(SMPFormat.v(.array(setOrder)))")
        }
    }

    static func mergeKeyValueEqual(_ left: JSON, _ right: JSON, _ mergeKey: String) throws -> Bool {
        if mergeKey.isEmpty { return left == right }
        guard case .object(let l) = left else { throw SMPFailure.badArgType(mapTypeName, left) }
        guard case .object(let r) = right else { throw SMPFailure.badArgType(mapTypeName, right) }
        guard let lv = l[mergeKey] else { throw SMPFailure.noMergeKey(l, mergeKey) }
        guard let rv = r[mergeKey] else { throw SMPFailure.noMergeKey(r, mergeKey) }
        return lv == rv
    }

    static func extractKey(_ s: String, prefix: String) throws -> String {
        if let slash = s.firstIndex(of: "/"), s[..<slash] == prefix {
            return String(s[s.index(after: slash)...])
        }
        switch prefix {
        case deletePrefix: throw SMPFailure.bad(SMPMessages.badPrimitiveList)
        case orderPrefix: throw SMPFailure.bad(SMPMessages.badSetElementOrder)
        default: throw SMPFailure.plain("fail to find unknown prefix \(SMPFormat.quote(prefix)) in \(s)")
        }
    }

    /// The field's strategy other than `retainKeys` ("" when none).
    static func patchStrategy(_ field: PatchField?) throws -> String {
        guard let strategies = field?.strategies, !strategies.isEmpty else { return "" }
        let others = strategies.filter { $0 != "retainKeys" }.sorted()
        switch others.count {
        case 0: return ""
        case 1 where strategies.count <= 2: return others[0]
        default:
            throw SMPFailure.plain("unexpected patch strategy: [\(strategies.sorted().joined(separator: " "))]")
        }
    }

    // MARK: Lists

    struct SliceMerge {
        var merged: [JSON]
        /// What the live list's backing storage looks like after the merge: upstream removes
        /// `$patch: delete` items and appends new items in place, and then orders by that storage.
        var originalView: [JSON]?
    }

    static func mergeSliceHandler(_ original: [JSON], _ patch: [JSON], _ elementSchema: (any PatchSchema)?,
                                  _ strategy: String, _ mergeKey: String, _ isDeleteList: Bool) throws -> SliceMerge {
        if strategy == "merge" || isDeleteList {
            return try mergeSlice(original, patch, elementSchema, mergeKey, isDeleteList)
        }
        return SliceMerge(merged: cleanedArray(patch), originalView: nil)
    }

    static func mergeSlice(_ originalIn: [JSON], _ patchIn: [JSON], _ elementSchema: (any PatchSchema)?,
                           _ mergeKey: String, _ isDeleteList: Bool) throws -> SliceMerge {
        if originalIn.isEmpty && patchIn.isEmpty { return SliceMerge(merged: originalIn, originalView: originalIn) }
        let kind = try sliceElementKind([originalIn, patchIn])

        var original = originalIn
        var patch = patchIn
        var merged: [JSON]
        var view = originalIn
        if kind != .map {
            if isDeleteList {
                return SliceMerge(merged: deleteFromSlice(originalIn, patchIn), originalView: originalIn)
            }
            merged = deduplicateScalars(originalIn + patchIn)
        } else {
            if mergeKey.isEmpty {
                throw SMPFailure.plain("cannot merge lists without merge key for struct")
            }
            let special = try mergeSliceWithSpecialElements(original, patch, mergeKey, &view)
            original = special.original
            patch = special.patch
            merged = try mergeSliceWithoutSpecialElements(original, patch, mergeKey, elementSchema,
                                                          viewLive: !special.replaced, &view)
        }

        let (patchItems, serverOnly) = mergeKey.isEmpty
            ? partitionPrimitives(merged, by: patch)
            : try partitionMaps(merged, by: patch, mergeKey)
        let ordered = try normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey, kind)
        return SliceMerge(merged: ordered, originalView: view)
    }

    /// Handles `$patch: delete|replace|merge` list items. Deletions also shift `view`,
    /// mirroring an in-place delete on the live list's storage.
    static func mergeSliceWithSpecialElements(_ originalIn: [JSON], _ patch: [JSON], _ mergeKey: String,
                                              _ view: inout [JSON]) throws -> (original: [JSON], patch: [JSON], replaced: Bool) {
        var original = originalIn
        var plain: [JSON] = []
        var replace = false
        for v in patch {
            guard case .object(let m) = v else { throw SMPFailure.badArgType(mapTypeName, v) }
            guard let directive = m[directiveMarker] else {
                plain.append(v)
                continue
            }
            switch directive {
            case .string("delete"):
                guard let value = m[mergeKey] else { throw SMPFailure.noMergeKey(m, mergeKey) }
                while let idx = try indexOfMap(in: original, key: mergeKey, value: value) {
                    let len = original.count
                    if len <= view.count {
                        var i = idx
                        while i < len - 1 { view[i] = view[i + 1]; i += 1 }
                    }
                    original.remove(at: idx)
                }
            case .string("replace"):
                replace = true
            case .string("merge"):
                throw SMPFailure.plain("merging lists cannot yet be specified in the patch")
            default:
                throw SMPFailure.badPatchType(directive, m)
            }
        }
        if replace { return (cleanedArray(plain), [], true) }
        return (original, plain, false)
    }

    static func mergeSliceWithoutSpecialElements(_ originalIn: [JSON], _ patch: [JSON], _ mergeKey: String,
                                                 _ elementSchema: (any PatchSchema)?, viewLive: Bool,
                                                 _ view: inout [JSON]) throws -> [JSON] {
        var original = originalIn
        for v in patch {
            guard case .object(let m) = v else { throw SMPFailure.badArgType(mapTypeName, v) }
            guard let value = m[mergeKey] else { throw SMPFailure.noMergeKey(m, mergeKey) }
            if let idx = try indexOfMap(in: original, key: mergeKey, value: value) {
                let merged = JSON.object(try mergeMap(original[idx].objectValue, m, elementSchema))
                original[idx] = merged
                if viewLive && idx < view.count { view[idx] = merged }
            } else {
                let item = cleaned(v) ?? .object(JSONObject())
                if viewLive && original.count < view.count { view[original.count] = item }
                original.append(item)
            }
        }
        return original
    }

    static func indexOfMap(in list: [JSON], key: String, value: JSON) throws -> Int? {
        for (i, item) in list.enumerated() {
            guard case .object(let m) = item else { throw SMPFailure.plain("value for key \(i) is not a map") }
            if let v = m[key], v == value { return i }
        }
        return nil
    }

    static func deleteFromSlice(_ current: [JSON], _ toDelete: [JSON]) -> [JSON] {
        current.filter { item in !toDelete.contains(item) }
    }

    /// Go's in-place deduplication (it swaps the last element into a duplicate's slot).
    static func deduplicateScalars(_ input: [JSON]) -> [JSON] {
        var s = input
        var length = s.count - 1
        var i = 0
        while i < length {
            var j = i + 1
            while j <= length {
                if s[i] == s[j] {
                    s[j] = s[length]
                    s.removeLast()
                    length -= 1
                    j -= 1
                }
                j += 1
            }
            i += 1
        }
        return s
    }

    static func partitionPrimitives(_ list: [JSON], by partitionBy: [JSON]) -> ([JSON], [JSON]) {
        var inPatch: [JSON] = []
        var serverOnly: [JSON] = []
        for v in list {
            if partitionBy.contains(v) { inPatch.append(v) } else { serverOnly.append(v) }
        }
        return (inPatch, serverOnly)
    }

    static func partitionMaps(_ list: [JSON], by partitionBy: [JSON], _ mergeKey: String) throws -> ([JSON], [JSON]) {
        var inPatch: [JSON] = []
        var serverOnly: [JSON] = []
        for v in list {
            guard case .object(let m) = v else { throw SMPFailure.badArgType(mapTypeName, v) }
            guard let value = m[mergeKey] else { throw SMPFailure.noMergeKey(m, mergeKey) }
            if try indexOfMap(in: partitionBy, key: mergeKey, value: value) != nil {
                inPatch.append(v)
            } else {
                serverOnly.append(v)
            }
        }
        return (inPatch, serverOnly)
    }

    static func extractToDeleteItems(_ list: [JSON]) throws -> (keep: [JSON], delete: [JSON]) {
        var keep: [JSON] = []
        var delete: [JSON] = []
        for v in list {
            guard case .object(let m) = v else { throw SMPFailure.badArgType(mapTypeName, v) }
            if m[directiveMarker] == .string("delete") { delete.append(v) } else { keep.append(v) }
        }
        return (keep, delete)
    }

    static func validateMergeKeyInLists(_ mergeKey: String, _ lists: [[JSON]]) throws {
        for list in lists {
            for item in list {
                guard case .object(let m) = item else { throw SMPFailure.badArgType(mapTypeName, item) }
                if m[mergeKey] == nil { throw SMPFailure.noMergeKey(m, mergeKey) }
            }
        }
    }

    /// Sorts `patch` by `patchOrder` and `serverOnly` by `serverOrder`, then interleaves them.
    static func normalizeElementOrder(_ patch: [JSON], _ serverOnly: [JSON], _ patchOrder: [JSON], _ serverOrder: [JSON],
                                      _ mergeKey: String, _ kind: SMPGoKind) throws -> [JSON] {
        let p = try normalizeSliceOrder(patch, patchOrder, mergeKey, kind)
        let s = try normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind)
        return mergeSortedSlice(s, p, serverOrder, mergeKey, kind)
    }

    static func normalizeSliceOrder(_ toSort: [JSON], _ order: [JSON], _ mergeKey: String, _ kind: SMPGoKind) throws -> [JSON] {
        var items = toSort
        var toDelete: [JSON] = []
        if kind == .map {
            try validateMergeKeyInLists(mergeKey, [toSort, order])
            (items, toDelete) = try extractToDeleteItems(toSort)
        }
        var keyed = items.map { (item: $0, index: index(of: $0, in: order, mergeKey, kind)) }
        GoSort.stable(&keyed) { a, b in
            if a.index >= 0 && b.index >= 0 { return a.index < b.index }
            return true
        }
        return keyed.map(\.item) + toDelete
    }

    /// Inserts server-only items (`left`) among the patch items (`right`), keeping both orders.
    static func mergeSortedSlice(_ left: [JSON], _ right: [JSON], _ serverOrder: [JSON], _ mergeKey: String,
                                 _ kind: SMPGoKind) -> [JSON] {
        var out: [JSON] = []
        out.reserveCapacity(left.count + right.count)
        var i = 0
        var j = 0
        while i < left.count || j < right.count {
            if i >= left.count {
                out.append(right[j]); j += 1
            } else if j >= right.count {
                out.append(left[i]); i += 1
            } else {
                let li = index(of: left[i], in: serverOrder, mergeKey, kind)
                let ri = index(of: right[j], in: serverOrder, mergeKey, kind)
                if li >= 0 && ri >= 0 && li < ri {
                    out.append(left[i]); i += 1
                } else {
                    out.append(right[j]); j += 1
                }
            }
        }
        return out
    }

    static func index(of value: JSON, in list: [JSON], _ mergeKey: String, _ kind: SMPGoKind) -> Int {
        if kind == .map {
            let target = value.objectValue?[mergeKey]
            for (i, v) in list.enumerated() where v.objectValue?[mergeKey] == target { return i }
            return -1
        }
        for (i, v) in list.enumerated() where v == value { return i }
        return -1
    }

    static func goKind(_ v: JSON) -> SMPGoKind {
        switch v {
        case .null: return .null
        case .bool: return .bool
        case .int: return .int64
        case .double: return .float64
        case .string: return .string
        case .array: return .slice
        case .object: return .map
        }
    }

    static func sameGoKind(_ a: JSON, _ b: JSON) -> Bool { goKind(a) == goKind(b) }

    /// The common element type of the lists (Go's `sliceElementType`).
    static func sliceElementKind(_ lists: [[JSON]]) throws -> SMPGoKind {
        var previous: SMPGoKind?
        for list in lists {
            for v in list {
                let current = goKind(v)
                if let p = previous {
                    if p != current {
                        throw SMPFailure.plain("list element types are not identical: \(SMPFormat.v(.array(lists.map { JSON.array($0) })))")
                    }
                } else {
                    if current == .slice { throw SMPFailure.invalid(SMPMessages.noListOfLists) }
                    if current == .null {
                        throw SMPFailure.plain("runtime error: invalid memory address or nil pointer dereference")
                    }
                    previous = current
                }
            }
        }
        guard let kind = previous else { throw SMPFailure.plain("no elements in any of the given slices") }
        return kind
    }

    // MARK: Cleaning values taken from the patch

    static func isDirectiveKey(_ k: String) -> Bool {
        guard k.hasPrefix("$") else { return false }
        return k == retainKeysDirective || k == directiveMarker || k.hasPrefix(orderPrefix + "/") || k.hasPrefix(deletePrefix + "/")
    }

    /// Drops null-valued keys, nested `$patch` maps and directive keys; `nil` if `v` itself
    /// is a `$patch` map (upstream's removeDirectives + discardNullValuesFromPatch).
    static func cleaned(_ v: JSON) -> JSON? {
        switch v {
        case .object(let o):
            if o[directiveMarker] != nil { return nil }
            return .object(cleanedObject(o))
        case .array(let a):
            return .array(cleanedArray(a))
        default:
            return v
        }
    }

    static func cleanedObject(_ o: JSONObject) -> JSONObject {
        var out = JSONObject()
        for (k, x) in o {
            if x.isNull || isDirectiveKey(k) { continue }
            if let c = cleaned(x) { out.appendUnchecked(k, c) }
        }
        return out
    }

    static func cleanedArray(_ a: [JSON]) -> [JSON] {
        a.compactMap { cleaned($0) }
    }

    static func setCleaned(_ o: inout JSONObject, _ k: String, _ v: JSON) {
        o[k] = cleaned(v)
    }
}

// MARK: - Go's sort.SliceStable (insertion sort blocks + SymMerge), so that orderings
// produced by upstream's non-strict comparators come out identically.

enum GoSort {
    static func stable<T>(_ data: inout [T], _ less: (T, T) -> Bool) {
        let n = data.count
        var blockSize = 20
        var a = 0
        var b = blockSize
        while b <= n {
            insertionSort(&data, a, b, less)
            a = b
            b += blockSize
        }
        insertionSort(&data, a, n, less)
        while blockSize < n {
            a = 0
            b = 2 * blockSize
            while b <= n {
                symMerge(&data, a, a + blockSize, b, less)
                a = b
                b += 2 * blockSize
            }
            let m = a + blockSize
            if m < n { symMerge(&data, a, m, n, less) }
            blockSize *= 2
        }
    }

    static func insertionSort<T>(_ data: inout [T], _ a: Int, _ b: Int, _ less: (T, T) -> Bool) {
        var i = a + 1
        while i < b {
            var j = i
            while j > a && less(data[j], data[j - 1]) {
                data.swapAt(j, j - 1)
                j -= 1
            }
            i += 1
        }
    }

    static func symMerge<T>(_ data: inout [T], _ a: Int, _ m: Int, _ b: Int, _ less: (T, T) -> Bool) {
        if m - a == 1 {
            var i = m
            var j = b
            while i < j {
                let h = (i + j) >> 1
                if less(data[h], data[a]) { i = h + 1 } else { j = h }
            }
            var k = a
            while k < i - 1 { data.swapAt(k, k + 1); k += 1 }
            return
        }
        if b - m == 1 {
            var i = a
            var j = m
            while i < j {
                let h = (i + j) >> 1
                if !less(data[m], data[h]) { i = h + 1 } else { j = h }
            }
            var k = m
            while k > i { data.swapAt(k, k - 1); k -= 1 }
            return
        }
        let mid = (a + b) >> 1
        let n = mid + m
        var start: Int
        var r: Int
        if m > mid {
            start = n - b
            r = mid
        } else {
            start = a
            r = m
        }
        let p = n - 1
        while start < r {
            let c = (start + r) >> 1
            if !less(data[p - c], data[c]) { start = c + 1 } else { r = c }
        }
        let end = n - start
        if start < m && m < end { rotate(&data, start, m, end) }
        if a < start && start < mid { symMerge(&data, a, start, mid, less) }
        if mid < end && end < b { symMerge(&data, mid, end, b, less) }
    }

    static func rotate<T>(_ data: inout [T], _ a: Int, _ m: Int, _ b: Int) {
        var i = m - a
        var j = b - m
        while i != j {
            if i > j {
                swapRange(&data, m - i, m, j)
                i -= j
            } else {
                swapRange(&data, m - i, m + j - i, i)
                j -= i
            }
        }
        swapRange(&data, m - i, m, i)
    }

    static func swapRange<T>(_ data: inout [T], _ a: Int, _ b: Int, _ n: Int) {
        var i = 0
        while i < n { data.swapAt(a + i, b + i); i += 1 }
    }
}

// MARK: - Go fmt-style rendering for error messages

enum SMPFormat {
    /// `%v` of a decoded JSON value (maps print as `map[k:v ...]` with sorted keys).
    static func v(_ value: JSON) -> String {
        switch value {
        case .null: return "<nil>"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return goFloat(d)
        case .string(let s): return s
        case .array(let a): return "[" + a.map { v($0) }.joined(separator: " ") + "]"
        case .object(let o):
            let sorted = o.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            return "map[" + sorted.map { "\($0.key):\(v($0.value))" }.joined(separator: " ") + "]"
        }
    }

    /// `%s` of a decoded JSON value.
    static func s(_ value: JSON) -> String {
        switch value {
        case .null: return "%!s(<nil>)"
        case .bool(let b): return "%!s(bool=\(b))"
        case .int(let i): return "%!s(int64=\(i))"
        case .double(let d): return "%!s(float64=\(goFloat(d)))"
        case .string(let str): return str
        case .array(let a): return "[" + a.map { s($0) }.joined(separator: " ") + "]"
        case .object(let o):
            let sorted = o.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            return "map[" + sorted.map { "\($0.key):\(s($0.value))" }.joined(separator: " ") + "]"
        }
    }

    /// `reflect.TypeOf(v).String()` for a decoded JSON value.
    static func goTypeName(_ value: JSON) -> String {
        switch value {
        case .null: return "%!s(<nil>)"
        case .bool: return "bool"
        case .int: return "int64"
        case .double: return "float64"
        case .string: return "string"
        case .array: return "[]interface {}"
        case .object: return "map[string]interface {}"
        }
    }


    /// Go's `%q` for plain strings.
    static func quote(_ str: String) -> String {
        var out = "\""
        for scalar in str.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\x" + String(repeating: "0", count: max(0, 2 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Go's `%v` for float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): shortest digits,
    /// exponent form when the decimal exponent is < -4 or >= 6.
    static func goFloat(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        let neg = d < 0
        // Shortest round-trip digits from Swift's description.
        var text = "\(abs(d))"
        var exp10 = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exp10 = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        var intPart = text
        var fracPart = ""
        if let dot = text.firstIndex(of: ".") {
            intPart = String(text[..<dot])
            fracPart = String(text[text.index(after: dot)...])
        }
        var digits = Array(intPart + fracPart)
        var dp = intPart.count + exp10
        while let f = digits.first, f == "0", digits.count > 1 { digits.removeFirst(); dp -= 1 }
        while let l = digits.last, l == "0", digits.count > 1 { digits.removeLast() }
        let nd = digits.count
        let x = dp - 1
        let eprec = 6
        var out = neg ? "-" : ""
        if x < -4 || x >= eprec {
            out += String(digits[0])
            if nd > 1 { out += "." + String(digits[1...]) }
            out += "e" + (x < 0 ? "-" : "+")
            let ax = abs(x)
            out += ax < 10 ? "0\(ax)" : "\(ax)"
            return out
        }
        if dp <= 0 {
            out += "0." + String(repeating: "0", count: -dp) + String(digits)
        } else if dp >= nd {
            out += String(digits) + String(repeating: "0", count: dp - nd)
        } else {
            out += String(digits[0..<dp]) + "." + String(digits[dp...])
        }
        return out
    }
}
