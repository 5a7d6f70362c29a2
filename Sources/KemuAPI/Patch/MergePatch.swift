/// JSON merge patch (RFC 7386, `application/merge-patch+json`) as kube-apiserver applies it
/// through evanphx/json-patch's `MergePatch`: objects merge recursively, `null` deletes a key,
/// anything else (arrays included) replaces. Values inserted from the patch have their
/// null-valued object keys pruned (also inside arrays); null array elements are kept.
public enum MergePatch {
    /// `ErrBadJSONPatch`, which kube-apiserver turns into a 400.
    public static let invalidPatchMessage = "Invalid JSON Patch"

    /// A `null` or scalar patch is rejected with 400 "Invalid JSON Patch". An array patch
    /// yields the array itself (upstream then fails to decode it as an object; callers that
    /// need an object must reject a non-object result).
    public static func apply(original: JSON, patch: JSON) throws -> JSON {
        switch patch {
        case .object(let p):
            guard case .object(let o) = original else { return .object(pruneNulls(p)) }
            return .object(merge(o, p))
        case .array(let a):
            return .array(a.map(pruneNulls))
        default:
            throw APIError.badRequest(invalidPatchMessage)
        }
    }

    static func merge(_ original: JSONObject, _ patch: JSONObject) -> JSONObject {
        var doc = original
        for (k, v) in patch {
            switch v {
            case .null:
                doc[k] = nil
            case .object(let p):
                if case .object(let cur)? = doc[k] {
                    doc[k] = .object(merge(cur, p))
                } else {
                    doc[k] = .object(pruneNulls(p))
                }
            default:
                doc[k] = pruneNulls(v)
            }
        }
        return doc
    }

    static func pruneNulls(_ o: JSONObject) -> JSONObject {
        var out = JSONObject()
        for (k, v) in o where !v.isNull {
            out.appendUnchecked(k, pruneNulls(v))
        }
        return out
    }

    static func pruneNulls(_ v: JSON) -> JSON {
        switch v {
        case .object(let o): return .object(pruneNulls(o))
        case .array(let a): return .array(a.map(pruneNulls))
        default: return v
        }
    }
}
