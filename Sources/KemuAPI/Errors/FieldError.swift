/// One validation failure on one field, as upstream's field.Error renders it.
public struct FieldError: Sendable, Equatable {
    public enum ErrorType: Sendable, Equatable {
        case required, invalid, notSupported, duplicate, forbidden, tooLong, tooMany

        public var reason: String {
            switch self {
            case .required: return "FieldValueRequired"
            case .invalid: return "FieldValueInvalid"
            case .notSupported: return "FieldValueNotSupported"
            case .duplicate: return "FieldValueDuplicate"
            case .forbidden: return "FieldValueForbidden"
            case .tooLong: return "FieldValueTooLong"
            case .tooMany: return "FieldValueTooMany"
            }
        }

        var text: String {
            switch self {
            case .required: return "Required value"
            case .invalid: return "Invalid value"
            case .notSupported: return "Unsupported value"
            case .duplicate: return "Duplicate value"
            case .forbidden: return "Forbidden"
            case .tooLong: return "Too long"
            case .tooMany: return "Too many"
            }
        }
    }

    public var type: ErrorType
    public var field: String
    public var value: JSON?
    public var detail: String

    public init(_ type: ErrorType, _ field: String, value: JSON? = nil, _ detail: String = "") {
        self.type = type; self.field = field; self.value = value; self.detail = detail
    }

    public static func required(_ field: String, _ detail: String = "") -> FieldError { FieldError(.required, field, detail) }
    public static func invalid(_ field: String, _ value: JSON, _ detail: String) -> FieldError { FieldError(.invalid, field, value: value, detail) }
    public static func forbidden(_ field: String, _ detail: String) -> FieldError { FieldError(.forbidden, field, detail) }
    public static func notSupported(_ field: String, _ value: JSON, _ supported: [String]) -> FieldError {
        FieldError(.notSupported, field, value: value, "supported values: " + supported.map { "\"\($0)\"" }.joined(separator: ", "))
    }
    public static func duplicate(_ field: String, _ value: JSON) -> FieldError { FieldError(.duplicate, field, value: value) }

    /// The cause message: type, value and detail, without the field path.
    public var detailMessage: String {
        var s = type.text
        if let value, type != .required, type != .forbidden, type != .tooLong {
            switch value {
            case .string(let str): s += ": \"\(str)\""
            case .null: s += ": \"null\""
            default: s += ": " + JSONWriter.string(value)
            }
        }
        if !detail.isEmpty { s += ": " + detail }
        return s
    }

    public var message: String { "\(field): \(detailMessage)" }
}
