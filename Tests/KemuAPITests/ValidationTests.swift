import XCTest
@testable import KemuAPI

/// Name syntax (apimachinery pkg/util/validation), field errors and Status rendering
/// (pkg/api/errors, pkg/util/validation/field), and RFC 3339 timestamps.
final class ValidationTests: XCTestCase {

    let n63 = String(repeating: "a", count: 63)
    let n64 = String(repeating: "a", count: 64)

    // MARK: - dns1123Label

    func testDNS1123LabelAccepts() {
        for s in ["a", "0", "my-name", "123-abc", "a1", "a--b", n63] {
            XCTAssertEqual(NameValidation.dns1123Label(s), [], s)
        }
    }

    func testDNS1123LabelRejects() {
        for s in ["", "-a", "a-", "A", "my_name", "a.b", "a b", "ä", "a/b"] {
            XCTAssertEqual(NameValidation.dns1123Label(s), [NameValidation.dns1123LabelMessage], s)
        }
        XCTAssertEqual(NameValidation.dns1123Label(n64), ["must be no more than 63 characters"])
        XCTAssertEqual(NameValidation.dns1123Label(n64 + "-"), ["must be no more than 63 characters", NameValidation.dns1123LabelMessage],
                       "length first, then syntax, as upstream")
    }

    func testDNS1123LabelMessageIsUpstreamText() {
        XCTAssertEqual(NameValidation.dns1123LabelMessage,
                       "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    }

    // MARK: - dns1123Subdomain

    func testDNS1123SubdomainAccepts() {
        for s in ["a", "example.com", "a-b.c-d.e", "0.1.2", n63 + "." + n63, String(repeating: "a.", count: 126) + "a"] {
            XCTAssertEqual(NameValidation.dns1123Subdomain(s), [], s)
        }
    }

    func testDNS1123SubdomainRejects() {
        for s in ["", ".a", "a.", "a..b", "A.com", "a_b", "-a.b", "a.-b", "a b"] {
            XCTAssertEqual(NameValidation.dns1123Subdomain(s), [NameValidation.dns1123SubdomainMessage], s)
        }
        let long = String(repeating: "a", count: 254)
        XCTAssertEqual(NameValidation.dns1123Subdomain(long).first, "must be no more than 253 characters")
        XCTAssertEqual(NameValidation.dns1123Subdomain(String(repeating: "a", count: 253)), [])
        XCTAssertEqual(NameValidation.dns1123SubdomainMessage,
                       "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    }

    // MARK: - dns1035Label

    func testDNS1035Label() {
        for s in ["a", "my-name", "abc-123", "z9", n63] {
            XCTAssertEqual(NameValidation.dns1035Label(s), [], s)
        }
        for s in ["", "1abc", "-a", "a-", "A", "a.b", "a_b"] {
            XCTAssertEqual(NameValidation.dns1035Label(s), [NameValidation.dns1035LabelMessage], s)
        }
        XCTAssertEqual(NameValidation.dns1035Label(n64), ["must be no more than 63 characters"])
        XCTAssertEqual(NameValidation.dns1035LabelMessage,
                       "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
    }

    // MARK: - qualifiedName

    let qnameRegex = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

    func testQualifiedNameAccepts() {
        for s in ["a", "A", "MyName", "my.name", "123-abc", "a_b", "example.com/MyName", "app.kubernetes.io/name",
                  "kubernetes.io/metadata.name", n63, "a.b/" + n63] {
            XCTAssertEqual(NameValidation.qualifiedName(s), [], s)
        }
    }

    func testQualifiedNameRejectsBadNames() {
        for s in ["-a", "a-", "_a", "a b", "a$", ".a"] {
            XCTAssertEqual(NameValidation.qualifiedName(s), [qnameRegex], s)
        }
        XCTAssertEqual(NameValidation.qualifiedName(n64), ["name part must be no more than 63 characters"])
    }

    func testQualifiedNameEmptyParts() {
        // Upstream appends the regex error too when the name part is empty (the regex needs one character).
        XCTAssertEqual(NameValidation.qualifiedName(""), ["name part must be non-empty", qnameRegex])
        XCTAssertEqual(NameValidation.qualifiedName("example.com/"), ["name part must be non-empty", qnameRegex])
        XCTAssertEqual(NameValidation.qualifiedName("/a"), ["prefix part must be non-empty"])
    }

    func testQualifiedNamePrefixAndSlashes() {
        XCTAssertEqual(NameValidation.qualifiedName("Example.com/a"), ["prefix part " + NameValidation.dns1123SubdomainMessage])
        let many = NameValidation.qualifiedName("a/b/c")
        XCTAssertEqual(many.count, 1)
        XCTAssertEqual(many.first,
                       "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
    }

    // MARK: - labelValue

    func testLabelValue() {
        for s in ["", "a", "MyValue", "my_value", "12345", "a.b-c_d", n63] {
            XCTAssertEqual(NameValidation.labelValue(s), [], s)
        }
        for s in ["-a", "a-", "_a", "a b", "a/b", "a$"] {
            XCTAssertEqual(NameValidation.labelValue(s), [NameValidation.labelValueMessage], s)
        }
        XCTAssertEqual(NameValidation.labelValue(n64), ["must be no more than 63 characters"])
        XCTAssertEqual(NameValidation.labelValueMessage,
                       "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
    }

    // MARK: - FieldError

    func testFieldErrorMessages() {
        XCTAssertEqual(FieldError.required("spec.ports").message, "spec.ports: Required value")
        XCTAssertEqual(FieldError.required("metadata.name", "name or generateName is required").message,
                       "metadata.name: Required value: name or generateName is required")
        XCTAssertEqual(FieldError.invalid("metadata.name", "Bad", "must be lower case").message,
                       "metadata.name: Invalid value: \"Bad\": must be lower case")
        XCTAssertEqual(FieldError.invalid("spec.replicas", .int(-1), "must be greater than or equal to 0").message,
                       "spec.replicas: Invalid value: -1: must be greater than or equal to 0")
        XCTAssertEqual(FieldError.invalid("spec.paused", .bool(true), "nope").message, "spec.paused: Invalid value: true: nope")
        XCTAssertEqual(FieldError.forbidden("spec.x", "may not be set").message, "spec.x: Forbidden: may not be set")
        XCTAssertEqual(FieldError.notSupported("spec.type", "Foo", ["ClusterIP", "NodePort"]).message,
                       "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"NodePort\"")
        XCTAssertEqual(FieldError.duplicate("spec.ports[1].name", "http").message, "spec.ports[1].name: Duplicate value: \"http\"")
        XCTAssertEqual(FieldError(.tooMany, "spec.items", value: .int(5), "must have at most 3 items").message,
                       "spec.items: Too many: 5: must have at most 3 items")
    }

    func testFieldErrorDetailMessageOmitsTheField() {
        let e = FieldError.invalid("metadata.name", "Bad", "must be lower case")
        XCTAssertEqual(e.detailMessage, "Invalid value: \"Bad\": must be lower case")
        XCTAssertEqual(FieldError.required("spec.ports").detailMessage, "Required value")
    }

    func testFieldErrorReasons() {
        XCTAssertEqual(FieldError.ErrorType.required.reason, "FieldValueRequired")
        XCTAssertEqual(FieldError.ErrorType.invalid.reason, "FieldValueInvalid")
        XCTAssertEqual(FieldError.ErrorType.notSupported.reason, "FieldValueNotSupported")
        XCTAssertEqual(FieldError.ErrorType.duplicate.reason, "FieldValueDuplicate")
        XCTAssertEqual(FieldError.ErrorType.forbidden.reason, "FieldValueForbidden")
        XCTAssertEqual(FieldError.ErrorType.tooLong.reason, "FieldValueTooLong")
        XCTAssertEqual(FieldError.ErrorType.tooMany.reason, "FieldValueTooMany")
    }

    func testFieldErrorUpstreamValueRendering() {
        // field.Error.ErrorBody: TooLong never prints the value; a nil value prints as the quoted string "null".
        XCTAssertEqual(FieldError(.tooLong, "metadata.annotations", value: "xxxx", "may not be more than 2 bytes").message,
                       "metadata.annotations: Too long: may not be more than 2 bytes")
        XCTAssertEqual(FieldError.invalid("spec.x", .null, "must be set").message, "spec.x: Invalid value: \"null\": must be set")
    }

    // MARK: - APIError.invalid

    func testInvalidSingleError() {
        let e = APIError.invalid(kind: "Service", group: "", name: "x", [.required("spec.ports")])
        XCTAssertEqual(e.code, 422)
        XCTAssertEqual(e.reason, "Invalid")
        XCTAssertEqual(e.message, "Service \"x\" is invalid: spec.ports: Required value")
        XCTAssertEqual(e.kind, "Service", "Invalid carries the Kind, not the resource")
        XCTAssertEqual(e.causes, [APIError.Cause(reason: "FieldValueRequired", message: "Required value", field: "spec.ports")])
    }

    func testInvalidMultipleErrorsAndGroupQualifiedKind() {
        let e = APIError.invalid(kind: "Deployment", group: "apps", name: "web", [
            .required("spec.selector"),
            .invalid("spec.replicas", .int(-1), "must be greater than or equal to 0"),
        ])
        XCTAssertEqual(e.message,
                       "Deployment.apps \"web\" is invalid: [spec.selector: Required value, spec.replicas: Invalid value: -1: must be greater than or equal to 0]")
        XCTAssertEqual(e.causes.map(\.field), ["spec.selector", "spec.replicas"])
        XCTAssertEqual(e.causes.map(\.reason), ["FieldValueRequired", "FieldValueInvalid"])
        XCTAssertEqual(e.causes[1].message, "Invalid value: -1: must be greater than or equal to 0")

        let s = e.status
        XCTAssertEqual(s["details"]["kind"], "Deployment")
        XCTAssertEqual(s["details"]["group"], "apps")
        XCTAssertEqual(s["details"]["name"], "web")
        XCTAssertEqual(s["details"]["causes"], [
            ["reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"],
            ["reason": "FieldValueInvalid", "message": "Invalid value: -1: must be greater than or equal to 0", "field": "spec.replicas"],
        ])
    }

    func testInvalidDeduplicatesIdenticalMessages() {
        // field.ErrorList.ToAggregate drops repeated messages; the causes keep every entry.
        let e = APIError.invalid(kind: "Pod", group: "", name: "p", [.required("spec.containers"), .required("spec.containers")])
        XCTAssertEqual(e.message, "Pod \"p\" is invalid: spec.containers: Required value")
        XCTAssertEqual(e.causes.count, 2)
    }

    func testInvalidWithNoErrors() {
        let e = APIError.invalid(kind: "Pod", group: "", name: "p", [])
        XCTAssertEqual(e.message, "Pod \"p\" is invalid")
    }

    // MARK: - APIError.status

    func testNotFoundStatusShape() {
        let e = APIError.notFound(GroupResource(group: "", resource: "pods"), "nope")
        XCTAssertEqual(e.code, 404)
        XCTAssertEqual(e.message, "pods \"nope\" not found")
        let s = e.status
        XCTAssertEqual(s.objectValue?.keys, ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"])
        XCTAssertEqual(s["kind"], "Status")
        XCTAssertEqual(s["apiVersion"], "v1")
        XCTAssertEqual(s["metadata"], .object(JSONObject()))
        XCTAssertEqual(s["status"], "Failure")
        XCTAssertEqual(s["reason"], "NotFound")
        XCTAssertEqual(s["message"], "pods \"nope\" not found")
        XCTAssertEqual(s["code"], 404)
        XCTAssertEqual(s["details"]["name"], "nope")
        XCTAssertEqual(s["details"]["kind"], "pods", "details.kind is the resource for NotFound")
        XCTAssertNil(s["details"].objectValue?["causes"])
    }

    func testGroupQualifiedMessages() {
        let deployments = GroupResource(group: "apps", resource: "deployments")
        XCTAssertEqual(deployments.qualified, "deployments.apps")
        XCTAssertEqual(APIError.notFound(deployments, "x").message, "deployments.apps \"x\" not found")
        XCTAssertEqual(APIError.notFound(deployments, "x").status["details"]["group"], "apps")
        XCTAssertEqual(APIError.alreadyExists(deployments, "x").message, "deployments.apps \"x\" already exists")
        XCTAssertEqual(APIError.alreadyExists(deployments, "x").code, 409)
        XCTAssertEqual(APIError.alreadyExists(deployments, "x").reason, "AlreadyExists")
        let c = APIError.conflict(GroupResource(group: "", resource: "services"), "s", APIError.optimisticLockMessage)
        XCTAssertEqual(c.code, 409)
        XCTAssertEqual(c.reason, "Conflict")
        XCTAssertEqual(c.message,
                       "Operation cannot be fulfilled on services \"s\": the object has been modified; please apply your changes to the latest version and try again")
    }

    func testStatusWithoutDetails() {
        let e = APIError.pathNotFound()
        XCTAssertEqual(e.message, "the server could not find the requested resource")
        XCTAssertNil(e.status.objectValue?["details"], "no details when nothing identifies an object")
        XCTAssertEqual(APIError.badRequest("boom").status["code"], 400)
        XCTAssertEqual(APIError.badRequest("boom").status["reason"], "BadRequest")
        XCTAssertEqual(APIError.expired("too old resource version: 1 (5)").status["code"], 410)
        XCTAssertEqual(APIError.expired("too old resource version: 1 (5)").reason, "Expired")
    }

    func testOtherConstructors() {
        let m = APIError.methodNotAllowed("watch", "pods/eviction")
        XCTAssertEqual(m.code, 405)
        XCTAssertEqual(m.reason, "MethodNotAllowed")
        XCTAssertEqual(m.message, "watch is not supported on resources of kind \"pods/eviction\"")
        let u = APIError.unsupportedMediaType("text/plain", accepted: ["application/json", "application/merge-patch+json"])
        XCTAssertEqual(u.code, 415)
        XCTAssertEqual(u.message, "the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json")
        XCTAssertEqual(APIError.tooLarge(3145728).code, 413)
        XCTAssertEqual(APIError.tooLarge(3145728).reason, "RequestEntityTooLarge")
        let f = APIError.forbidden(GroupResource(group: "", resource: "pods"), "p", "because")
        XCTAssertEqual(f.message, "pods \"p\" is forbidden: because")
        XCTAssertEqual(APIError.forbidden(GroupResource(group: "", resource: "pods"), "", "because").message, "pods is forbidden: because")
        let t = APIError.tooManyRequests("slow down", retryAfter: 5)
        XCTAssertEqual(t.code, 429)
        XCTAssertEqual(t.status["details"]["retryAfterSeconds"], 5)
        XCTAssertEqual(APIError.internalError("x").message, "Internal error occurred: x")
        XCTAssertEqual(APIError.internalError("x").code, 500)
        XCTAssertEqual(APIError.notFound(GroupResource(group: "", resource: "pods"), "p").description, "404 NotFound: pods \"p\" not found")
    }

    func testStatusUIDAndEmptyNameAreRendered() {
        var e = APIError.notFound(GroupResource(group: "", resource: "pods"), "")
        e.uid = "123"
        let d = e.status["details"]
        XCTAssertNil(d.objectValue?["name"], "an empty name is omitted")
        XCTAssertEqual(d["uid"], "123")
    }

    // MARK: - Timestamp

    func testTimestampFormat() {
        XCTAssertEqual(Timestamp.format(epochSeconds: 0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(Timestamp.format(epochSeconds: 1_700_000_000), "2023-11-14T22:13:20Z")
        XCTAssertEqual(Timestamp.format(epochSeconds: 951_782_400), "2000-02-29T00:00:00Z", "leap day")
        XCTAssertEqual(Timestamp.format(epochSeconds: -1), "1969-12-31T23:59:59Z")
    }

    func testTimestampParse() {
        XCTAssertEqual(Timestamp.parse("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(Timestamp.parse("2023-11-14T22:13:20Z"), 1_700_000_000)
        XCTAssertEqual(Timestamp.parse("2023-11-14T22:13:20.123456Z"), 1_700_000_000, "fractions are dropped")
        XCTAssertEqual(Timestamp.parse("2023-11-14t22:13:20z"), 1_700_000_000, "lower-case T and Z")
        XCTAssertEqual(Timestamp.parse("2000-03-01T00:00:00Z"), 951_868_800)
        XCTAssertEqual(Timestamp.parse("1969-12-31T23:59:59Z"), -1)
    }

    func testTimestampOffsets() {
        XCTAssertEqual(Timestamp.parse("2023-11-15T00:13:20+02:00"), 1_700_000_000)
        XCTAssertEqual(Timestamp.parse("2023-11-14T17:43:20-04:30"), 1_700_000_000)
        XCTAssertEqual(Timestamp.parse("2023-11-14T22:13:20.5+00:00"), 1_700_000_000)
        XCTAssertEqual(Timestamp.parse("2024-01-01T01:00:00+01:00"), Timestamp.parse("2024-01-01T00:00:00Z"))
    }

    func testTimestampRejectsMalformedInput() {
        for s in ["", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14 22:13:20Z", "2023/11/14T22:13:20Z", "2023-11-14T22:13:20Zjunk",
                  "2023-11-14T22:13:20+0200", "2023-11-14T22:13:2xZ", "abcd-ef-ghTij:kl:mnZ"] {
            XCTAssertNil(Timestamp.parse(s), s)
        }
    }

    func testTimestampRoundTrip() {
        for t in [0, 1, 59, 86_399, 86_400, 951_782_400, 1_700_000_000, 2_000_000_000, 4_102_444_800, -86_400] {
            XCTAssertEqual(Timestamp.parse(Timestamp.format(epochSeconds: t)), t, "\(t)")
        }
        let now = Timestamp.now()
        XCTAssertNotNil(Timestamp.parse(now))
        XCTAssertEqual(Timestamp.format(epochSeconds: Timestamp.parse(now)!), now)
        let micro = Timestamp.nowMicro()
        XCTAssertEqual(micro.count, "2023-11-14T22:13:20.000000Z".count)
        XCTAssertNotNil(Timestamp.parse(micro))
    }

    func testGenerateName() {
        let n = Identifiers.generateName("web-")
        XCTAssertTrue(n.hasPrefix("web-"))
        XCTAssertEqual(n.count, 9)
        XCTAssertTrue(n.dropFirst(4).allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) })
        let long = Identifiers.generateName(String(repeating: "x", count: 70))
        XCTAssertEqual(long.count, 63, "base truncated to 58 characters")
        let u = Identifiers.uuid()
        XCTAssertEqual(u.count, 36)
        XCTAssertEqual(u, u.lowercased())
    }
}
