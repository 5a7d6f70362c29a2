import XCTest
@testable import KemuAPI

/// Label selectors (apimachinery pkg/labels/selector.go) and field selectors (pkg/fields/selector.go).
final class SelectorTests: XCTestCase {

    // MARK: - Helpers

    func label(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> LabelSelector {
        do { return try LabelSelector.parse(s) } catch {
            XCTFail("label selector \"\(s)\" should parse: \(error.message)", file: file, line: line)
            return LabelSelector([LabelSelector.Requirement(key: "__unparsed__", op: .exists, values: [])])
        }
    }

    func assertLabelInvalid(_ s: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let sel = try LabelSelector.parse(s)
            XCTFail("label selector \"\(s)\" should be rejected, parsed as \(sel.requirements)", file: file, line: line)
        } catch {
            XCTAssertTrue(error.message.hasPrefix("unable to parse requirement: "), "message: \(error.message)", file: file, line: line)
        }
    }

    func req(_ key: String, _ op: LabelSelector.Operator, _ values: [String] = []) -> LabelSelector.Requirement {
        LabelSelector.Requirement(key: key, op: op, values: values)
    }

    func field(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> FieldSelector {
        do { return try FieldSelector.parse(s) } catch {
            XCTFail("field selector \"\(s)\" should parse: \(error.message)", file: file, line: line)
            return FieldSelector([.init(field: "__unparsed__", value: "", negated: false)])
        }
    }

    @discardableResult
    func assertFieldInvalid(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            let sel = try FieldSelector.parse(s)
            XCTFail("field selector \"\(s)\" should be rejected, parsed as \(sel.requirements)", file: file, line: line)
            return nil
        } catch {
            return error.message
        }
    }

    func fr(_ f: String, _ v: String, negated: Bool = false) -> FieldSelector.Requirement {
        FieldSelector.Requirement(field: f, value: v, negated: negated)
    }

    // MARK: - LabelSelector.parse: grammar

    func testEmptySelectorSelectsEverything() {
        for s in ["", "   ", "\t"] {
            let sel = label(s)
            XCTAssertTrue(sel.isEmpty, "\"\(s)\"")
            XCTAssertTrue(sel.matches([:]))
            XCTAssertTrue(sel.matches(["a": "b"]))
        }
        XCTAssertTrue(LabelSelector.everything.matches(["x": "y"]))
    }

    func testEqualityOperators() {
        XCTAssertEqual(label("a=b").requirements, [req("a", .equals, ["b"])])
        XCTAssertEqual(label("a==b").requirements, [req("a", .equals, ["b"])])
        XCTAssertEqual(label("a!=b").requirements, [req("a", .notEquals, ["b"])])
    }

    func testSetOperators() {
        let r = label("env in (prod, staging)").requirements
        XCTAssertEqual(r.count, 1)
        XCTAssertEqual(r.first?.key, "env")
        XCTAssertEqual(r.first?.op, .isIn)
        XCTAssertEqual(Set(r.first?.values ?? []), ["prod", "staging"])

        let n = label("tier notin (frontend)").requirements
        XCTAssertEqual(n, [req("tier", .notIn, ["frontend"])])

        XCTAssertEqual(label("env in(a)").requirements, [req("env", .isIn, ["a"])], "no space before the parenthesis")
    }

    func testExistenceOperators() {
        XCTAssertEqual(label("a").requirements, [req("a", .exists)])
        XCTAssertEqual(label("!a").requirements, [req("a", .doesNotExist)])
        XCTAssertEqual(label("a,!b").requirements, [req("a", .exists), req("b", .doesNotExist)])
    }

    func testNumericComparisons() {
        XCTAssertEqual(label("a>5").requirements, [req("a", .greaterThan, ["5"])])
        XCTAssertEqual(label("a<5").requirements, [req("a", .lessThan, ["5"])])
        XCTAssertEqual(label("a > -3").requirements, [req("a", .greaterThan, ["-3"])])
    }

    func testWhitespaceIsADelimiterEverywhere() {
        let sel = label("  a  =  b  ,  c  in  ( x , y ) ,  ! d , e != f ")
        XCTAssertEqual(sel.requirements.count, 4)
        XCTAssertEqual(sel.requirements[0], req("a", .equals, ["b"]))
        XCTAssertEqual(sel.requirements[1].key, "c")
        XCTAssertEqual(Set(sel.requirements[1].values), ["x", "y"])
        XCTAssertEqual(sel.requirements[2], req("d", .doesNotExist))
        XCTAssertEqual(sel.requirements[3], req("e", .notEquals, ["f"]))
    }

    func testEmptyValues() {
        XCTAssertEqual(label("a=").requirements, [req("a", .equals, [""])])
        XCTAssertEqual(label("a!=").requirements, [req("a", .notEquals, [""])])
        XCTAssertEqual(label("a=,b").requirements, [req("a", .equals, [""]), req("b", .exists)])
        XCTAssertEqual(label("a in ()").requirements, [req("a", .isIn, [""])])
        XCTAssertEqual(Set(label("a in (,x)").requirements.first?.values ?? []), ["", "x"])
        XCTAssertEqual(Set(label("a in (x,)").requirements.first?.values ?? []), ["x", ""])
        XCTAssertEqual(Set(label("a notin (x,,y)").requirements.first?.values ?? []), ["x", "", "y"])
    }

    func testQualifiedKeysAndRichValues() {
        XCTAssertEqual(label("app.kubernetes.io/name=web-1").requirements, [req("app.kubernetes.io/name", .equals, ["web-1"])])
        XCTAssertEqual(label("example.com/a_b.c=X.y_z-1").requirements, [req("example.com/a_b.c", .equals, ["X.y_z-1"])])
        XCTAssertEqual(label("k=" + String(repeating: "v", count: 63)).requirements.first?.values.first?.count, 63)
    }

    func testManyRequirementsKeepOrder() {
        let sel = label("a=1,b!=2,c in (3),d notin (4),e,!f,g>7,h<8")
        XCTAssertEqual(sel.requirements.map(\.key), ["a", "b", "c", "d", "e", "f", "g", "h"])
        XCTAssertEqual(sel.requirements.map(\.op), [.equals, .notEquals, .isIn, .notIn, .exists, .doesNotExist, .greaterThan, .lessThan])
    }

    func testInvalidSyntaxThrows() {
        for s in [
            "a in b", "a in (b", "a in (b c)", "a notin", "a in", "a>", "a<", "a>b", "a<1.5", "a>1a",
            "=b", "!=b", "a=b c", "a b", "a,", ",a", "a=b,,c=d", "!", "!a=b", "!a in (b)", "a=(b)", "a=b)", "(a)",
            "in=x", "a in (b),", "a==b==c",
        ] {
            assertLabelInvalid(s)
        }
    }

    func testInvalidKeysThrow() {
        for s in ["-a=b", "a-=b", "a/b/c=d", "/a=b", "a/=b", "Example.com/a=b", String(repeating: "k", count: 64) + "=v",
                  "a$b", "!-x"] {
            assertLabelInvalid(s)
        }
    }

    func testInvalidValuesThrow() {
        for s in ["a=-b", "a=b-", "a=b$c", "a=" + String(repeating: "v", count: 64), "a in (x, -y)", "a notin (_x)", "a!=.b"] {
            assertLabelInvalid(s)
        }
    }

    // MARK: - LabelSelector.matches

    func testEqualsAndNotEqualsMatching() {
        let eq = label("app=web")
        XCTAssertTrue(eq.matches(["app": "web", "x": "y"]))
        XCTAssertFalse(eq.matches(["app": "db"]))
        XCTAssertFalse(eq.matches([:]))

        let ne = label("app!=web")
        XCTAssertFalse(ne.matches(["app": "web"]))
        XCTAssertTrue(ne.matches(["app": "db"]))
        XCTAssertTrue(ne.matches([:]), "!= also matches objects without the key")

        let empty = label("app=")
        XCTAssertTrue(empty.matches(["app": ""]))
        XCTAssertFalse(empty.matches([:]), "= with an empty value needs the key")
    }

    func testSetMatching() {
        let isIn = label("env in (prod,staging)")
        XCTAssertTrue(isIn.matches(["env": "prod"]))
        XCTAssertTrue(isIn.matches(["env": "staging"]))
        XCTAssertFalse(isIn.matches(["env": "dev"]))
        XCTAssertFalse(isIn.matches([:]))

        let notIn = label("env notin (prod)")
        XCTAssertFalse(notIn.matches(["env": "prod"]))
        XCTAssertTrue(notIn.matches(["env": "dev"]))
        XCTAssertTrue(notIn.matches([:]), "notin also matches objects without the key")

        let emptyIn = label("env in ()")
        XCTAssertTrue(emptyIn.matches(["env": ""]))
        XCTAssertFalse(emptyIn.matches(["env": "x"]))
        XCTAssertFalse(emptyIn.matches([:]))
    }

    func testExistenceMatching() {
        XCTAssertTrue(label("a").matches(["a": ""]))
        XCTAssertFalse(label("a").matches(["b": "1"]))
        XCTAssertTrue(label("!a").matches(["b": "1"]))
        XCTAssertFalse(label("!a").matches(["a": ""]))
    }

    func testNumericMatching() {
        let gt = label("n>5")
        XCTAssertTrue(gt.matches(["n": "6"]))
        XCTAssertFalse(gt.matches(["n": "5"]))
        XCTAssertFalse(gt.matches(["n": "abc"]), "non-integer label values never match")
        XCTAssertFalse(gt.matches([:]), "> needs the key")
        let lt = label("n<5")
        XCTAssertTrue(lt.matches(["n": "4"]))
        XCTAssertTrue(lt.matches(["n": "-10"]))
        XCTAssertFalse(lt.matches(["n": "5"]))
        XCTAssertTrue(label("n>-3").matches(["n": "0"]))
    }

    func testRequirementsAreANDed() {
        let sel = label("app=web,tier!=db,env in (prod),!legacy")
        XCTAssertTrue(sel.matches(["app": "web", "env": "prod"]))
        XCTAssertFalse(sel.matches(["app": "web", "env": "prod", "legacy": "true"]))
        XCTAssertFalse(sel.matches(["app": "web", "env": "prod", "tier": "db"]))
        XCTAssertFalse(sel.matches(["app": "web", "env": "dev"]))
        XCTAssertFalse(sel.matches(["env": "prod"]))
        XCTAssertFalse(label("a=1,a=2").matches(["a": "1"]), "contradictory requirements match nothing")
    }

    func testDescriptionIsCanonical() {
        XCTAssertEqual(label("a=b, c != d").description, "a=b,c!=d")
        XCTAssertEqual(label("x in (z, y)").description, "x in (y,z)", "set values are sorted")
        XCTAssertEqual(label("x notin (b,a),k,!m,n>1,o<2").description, "x notin (a,b),k,!m,n>1,o<2")
        XCTAssertEqual(label("").description, "")
    }

    // MARK: - LabelSelector.from(json:)

    func testFromJSONMatchLabels() throws {
        let sel = try XCTUnwrap(LabelSelector.from(json: ["matchLabels": ["tier": "web", "app": "nginx"]]))
        XCTAssertEqual(sel.requirements, [req("app", .equals, ["nginx"]), req("tier", .equals, ["web"])], "sorted by key")
        XCTAssertEqual(sel.description, "app=nginx,tier=web")
        XCTAssertTrue(sel.matches(["app": "nginx", "tier": "web", "x": "y"]))
        XCTAssertFalse(sel.matches(["app": "nginx"]))
    }

    func testFromJSONMatchExpressions() throws {
        let json = try JSONParser.parse(#"""
        {"matchLabels":{"app":"web"},
         "matchExpressions":[
           {"key":"env","operator":"In","values":["prod","staging"]},
           {"key":"tier","operator":"NotIn","values":["db"]},
           {"key":"team","operator":"Exists"},
           {"key":"legacy","operator":"DoesNotExist"}]}
        """#)
        let sel = try XCTUnwrap(LabelSelector.from(json: json))
        XCTAssertEqual(sel.requirements, [
            req("app", .equals, ["web"]),
            req("env", .isIn, ["prod", "staging"]),
            req("tier", .notIn, ["db"]),
            req("team", .exists),
            req("legacy", .doesNotExist),
        ])
        XCTAssertTrue(sel.matches(["app": "web", "env": "prod", "team": "a"]))
        XCTAssertFalse(sel.matches(["app": "web", "env": "prod", "team": "a", "tier": "db"]))
        XCTAssertFalse(sel.matches(["app": "web", "env": "prod"]), "team must exist")
        XCTAssertFalse(sel.matches(["app": "web", "env": "prod", "team": "a", "legacy": "1"]))
        XCTAssertEqual(sel.description, "app=web,env in (prod,staging),tier notin (db),team,!legacy")
    }

    func testFromJSONEdgeCases() throws {
        let empty = try XCTUnwrap(LabelSelector.from(json: .object(JSONObject())))
        XCTAssertTrue(empty.isEmpty, "an empty selector object selects everything")
        XCTAssertTrue(empty.matches(["a": "b"]))
        XCTAssertNil(LabelSelector.from(json: .null), "no selector at all is not a selector")
        XCTAssertNil(LabelSelector.from(json: "app=web"))
        XCTAssertNil(LabelSelector.from(json: ["matchExpressions": [["key": "a", "operator": "Gt", "values": ["1"]]]]),
                     "unknown operators are rejected")
    }

    // MARK: - FieldSelector.parse

    func testFieldSelectorEmpty() {
        XCTAssertTrue(field("").isEmpty)
        XCTAssertTrue(field("").matches { _ in "anything" })
        XCTAssertTrue(field(",").isEmpty, "empty terms are skipped")
    }

    func testFieldSelectorOperators() {
        XCTAssertEqual(field("metadata.name=foo").requirements, [fr("metadata.name", "foo")])
        XCTAssertEqual(field("metadata.name==foo").requirements, [fr("metadata.name", "foo")])
        XCTAssertEqual(field("status.phase!=Running").requirements, [fr("status.phase", "Running", negated: true)])
        XCTAssertEqual(field("spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed").requirements, [
            fr("spec.nodeName", "n1"), fr("status.phase", "Succeeded", negated: true), fr("status.phase", "Failed", negated: true),
        ])
        XCTAssertEqual(field("involvedObject.namespace=").requirements, [fr("involvedObject.namespace", "")], "empty values are allowed")
        XCTAssertEqual(field("a=b,,c=d").requirements.count, 2)
        XCTAssertEqual(field("a=b,").requirements, [fr("a", "b")])
    }

    func testFieldSelectorEscapes() {
        XCTAssertEqual(field(#"a=x\,y"#).requirements, [fr("a", "x,y")])
        XCTAssertEqual(field(#"a=x\=y"#).requirements, [fr("a", "x=y")])
        XCTAssertEqual(field(#"a=x\\y"#).requirements, [fr("a", #"x\y"#)])
        XCTAssertEqual(field(#"a=x\\"#).requirements, [fr("a", #"x\"#)])
        XCTAssertEqual(field(#"a=x\,y,b!=\=\\\,"#).requirements, [fr("a", "x,y"), fr("b", #"=\,"#, negated: true)])
    }

    func testFieldSelectorRejectsBadEscapesAndUnescapedSpecials() {
        let m1 = assertFieldInvalid(#"a=x\y"#)
        XCTAssertTrue(m1?.contains(#"invalid escape sequence: \y"#) ?? false, m1 ?? "")
        let m2 = assertFieldInvalid(#"a=x\"#)
        XCTAssertTrue(m2?.hasPrefix("invalid field selector") ?? false, m2 ?? "")
        let m3 = assertFieldInvalid("a=b=c")
        XCTAssertTrue(m3?.contains("unescaped") ?? false, m3 ?? "")
        XCTAssertEqual(assertFieldInvalid("abc"), "invalid selector: 'abc'; can't understand 'abc'")
        XCTAssertEqual(assertFieldInvalid("a=b,cd"), "invalid selector: 'a=b,cd'; can't understand 'cd'")
    }

    func testFieldSelectorSplitsAtTheFirstOperator() {
        // Upstream splitTerm takes the earliest operator: "a=b!=c" is a="b!=c", whose unescaped '=' is an error.
        assertFieldInvalid("a=b!=c")
        // "a!=b=c" likewise: a != "b=c" with an unescaped '='.
        assertFieldInvalid("a!=b=c")
        XCTAssertEqual(field(#"a!=b\=c"#).requirements, [fr("a", "b=c", negated: true)])
    }

    // MARK: - FieldSelector.matches and exactName

    func testFieldSelectorMatching() {
        let sel = field("metadata.name=web,status.phase!=Failed")
        let running = ["metadata.name": "web", "status.phase": "Running"]
        let failed = ["metadata.name": "web", "status.phase": "Failed"]
        XCTAssertTrue(sel.matches { running[$0] })
        XCTAssertFalse(sel.matches { failed[$0] })
        XCTAssertFalse(sel.matches { ["metadata.name": "db"][$0] })
        // A field the object does not have reads as "".
        XCTAssertTrue(field("spec.nodeName=").matches { _ in nil })
        XCTAssertFalse(field("spec.nodeName=n1").matches { _ in nil })
        XCTAssertTrue(field("spec.nodeName!=n1").matches { _ in nil })
    }

    func testExactName() {
        XCTAssertEqual(field("metadata.name=foo").exactName, "foo")
        XCTAssertEqual(field("status.phase=Running,metadata.name==bar").exactName, "bar")
        XCTAssertNil(field("metadata.name!=foo").exactName)
        XCTAssertNil(field("metadata.namespace=foo").exactName)
        XCTAssertNil(field("").exactName)
        XCTAssertEqual(field(#"metadata.name=a\,b"#).exactName, "a,b")
    }
}
