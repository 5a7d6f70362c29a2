import Foundation
import XCTest
@testable import KemuAPI

/// JSONParser, JSONWriter and JSONObject: the value model every other module relies on.
/// Error texts follow Go's encoding/json (scanner.go), which kube-apiserver echoes to clients.
final class JSONTests: XCTestCase {

    // MARK: - Helpers

    func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSON {
        do { return try JSONParser.parse(text) } catch {
            XCTFail("unexpected parse error \(error.message) for \(text)", file: file, line: line)
            return .null
        }
    }

    /// Asserts that parsing fails with exactly `message`.
    func assertParseError(_ text: String, _ message: String, maxDepth: Int = 512,
                          file: StaticString = #filePath, line: UInt = #line) {
        assertParseError(Array(text.utf8), message, maxDepth: maxDepth, file: file, line: line)
    }

    func assertParseError(_ bytes: [UInt8], _ message: String, maxDepth: Int = 512,
                          file: StaticString = #filePath, line: UInt = #line) {
        do {
            let v = try JSONParser.parse(bytes, maxDepth: maxDepth)
            XCTFail("expected error \"\(message)\", parsed \(JSONWriter.string(v))", file: file, line: line)
        } catch {
            XCTAssertEqual(error.message, message, file: file, line: line)
            XCTAssertEqual(error.description, message, file: file, line: line)
        }
    }

    func write(_ v: JSON) -> String { JSONWriter.string(v) }

    // MARK: - Parser: value kinds

    func testParsesScalars() {
        XCTAssertEqual(parse("null"), .null)
        XCTAssertTrue(parse("null").isNull)
        XCTAssertEqual(parse("true"), .bool(true))
        XCTAssertEqual(parse("false"), .bool(false))
        XCTAssertEqual(parse("\"hi\""), .string("hi"))
        XCTAssertEqual(parse("\"\""), .string(""))
        XCTAssertEqual(parse(" \t\r\n 42 \n"), .int(42), "whitespace around a top-level value is allowed")
    }

    func testIntegersStayIntegersAndFractionsOrExponentsAreDoubles() {
        guard case .int(let i) = parse("123") else { return XCTFail("123 should be .int") }
        XCTAssertEqual(i, 123)
        guard case .int(let n) = parse("-17") else { return XCTFail("-17 should be .int") }
        XCTAssertEqual(n, -17)
        guard case .int(let z) = parse("0") else { return XCTFail("0 should be .int") }
        XCTAssertEqual(z, 0)
        guard case .int(let big) = parse("9223372036854775807") else { return XCTFail("Int64.max should be .int") }
        XCTAssertEqual(big, Int64.max)
        guard case .int(let small) = parse("-9223372036854775808") else { return XCTFail("Int64.min should be .int") }
        XCTAssertEqual(small, Int64.min)

        guard case .double(let d) = parse("1.5") else { return XCTFail("1.5 should be .double") }
        XCTAssertEqual(d, 1.5)
        guard case .double(let e) = parse("1e3") else { return XCTFail("1e3 should be .double") }
        XCTAssertEqual(e, 1000)
        guard case .double(let e2) = parse("2.5E-2") else { return XCTFail("2.5E-2 should be .double") }
        XCTAssertEqual(e2, 0.025)
        guard case .double(let e3) = parse("-1e+2") else { return XCTFail("-1e+2 should be .double") }
        XCTAssertEqual(e3, -100)
        guard case .double(let one) = parse("1.0") else { return XCTFail("1.0 should be .double") }
        XCTAssertEqual(one, 1)
        // Beyond Int64: falls back to a double rather than failing.
        guard case .double(let huge) = parse("92233720368547758080") else { return XCTFail("overflowing integer should be .double") }
        XCTAssertEqual(huge, 92233720368547758080.0)
    }

    func testIntValueAccessor() {
        XCTAssertEqual(parse("7").intValue, 7)
        XCTAssertEqual(parse("7.0").intValue, 7, "whole doubles read as ints")
        XCTAssertNil(parse("7.5").intValue)
        XCTAssertNil(parse("\"7\"").intValue)
        XCTAssertNil(parse("1e300").intValue, "doubles beyond the exact-integer range are not ints")
    }

    func testParsesArraysAndObjects() {
        XCTAssertEqual(parse("[]"), .array([]))
        XCTAssertEqual(parse("{}"), .object(JSONObject()))
        XCTAssertEqual(parse("[ 1 , \"a\" , null , true , [ ] , { } ]"),
                       .array([.int(1), .string("a"), .null, .bool(true), .array([]), .object(JSONObject())]))
        let o = parse(#"{"b": 1, "a": {"c": [1, 2]}, "z": null}"#)
        XCTAssertEqual(o.objectValue?.keys, ["b", "a", "z"], "keys keep input order")
        XCTAssertEqual(o["a"]["c"], [1, 2])
        XCTAssertEqual(o.at(["a", "c"]), [1, 2])
        XCTAssertEqual(o["z"], .null)
        XCTAssertTrue(o.objectValue?["z"] != nil, "an explicit null member is kept")
        XCTAssertEqual(o["missing"], .null)
        XCTAssertEqual(o.at(["a", "missing", "deeper"]), .null)
        XCTAssertEqual(JSON.int(3)["x"], .null, "subscripting a non-object gives null")
    }

    func testDuplicateKeysLastWinsAtFirstPosition() {
        let o = parse(#"{"a": 1, "b": 2, "a": 3}"#)
        XCTAssertEqual(o.objectValue?.keys, ["a", "b"], "a duplicate key is not repeated")
        XCTAssertEqual(o["a"], 3, "the last value wins, as in Go")
        XCTAssertEqual(o.objectValue?.count, 2)
        XCTAssertEqual(write(o), #"{"a":3,"b":2}"#)
    }

    func testTypeNames() {
        XCTAssertEqual(parse("null").typeName, "null")
        XCTAssertEqual(parse("true").typeName, "bool")
        XCTAssertEqual(parse("1").typeName, "number")
        XCTAssertEqual(parse("1.5").typeName, "number")
        XCTAssertEqual(parse("\"s\"").typeName, "string")
        XCTAssertEqual(parse("[]").typeName, "array")
        XCTAssertEqual(parse("{}").typeName, "object")
    }

    // MARK: - Parser: strings and escapes

    func testSimpleEscapes() {
        XCTAssertEqual(parse(#""a\"b\\c\/d\be\ff\ng\rh\ti""#), .string("a\"b\\c/d\u{8}e\u{C}f\ng\rh\ti"))
    }

    func testUnicodeEscapes() {
        XCTAssertEqual(parse(#""\u0041\u00e9\u4e2d""#), .string("Aé中"))
        XCTAssertEqual(parse(#""\u00E9""#), .string("é"), "upper-case hex digits")
        XCTAssertEqual(parse(#""x\u0000y""#).stringValue?.unicodeScalars.map(\.value), [0x78, 0, 0x79])
    }

    func testSurrogatePairsCombine() {
        XCTAssertEqual(parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(parse(#""\uD834\uDD1E""#), .string("𝄞"))
    }

    func testLoneSurrogatesBecomeReplacementCharacter() {
        XCTAssertEqual(parse(#""\ud800""#), .string("\u{FFFD}"), "lone high surrogate at the end")
        XCTAssertEqual(parse(#""\ud800x""#), .string("\u{FFFD}x"), "high surrogate followed by a plain char")
        XCTAssertEqual(parse(#""\udc00""#), .string("\u{FFFD}"), "lone low surrogate")
        XCTAssertEqual(parse(#""\ud800\u0041""#), .string("\u{FFFD}A"), "high surrogate then a non-surrogate escape: both kept")
        XCTAssertEqual(parse(#""\ud800\ud800""#), .string("\u{FFFD}\u{FFFD}"), "two high surrogates")
        XCTAssertEqual(parse(#""\ud800\ud83d\ude00""#), .string("\u{FFFD}😀"), "the second escape can still form a pair")
    }

    func testRawUTF8PassesThroughAndInvalidBytesAreReplaced() {
        XCTAssertEqual(parse("\"héllo 世界 😀\""), .string("héllo 世界 😀"))
        let bytes: [UInt8] = [0x22, 0x61, 0xff, 0x62, 0x22]  // "a\xffb"
        XCTAssertEqual(try JSONParser.parse(bytes), .string("a\u{FFFD}b"))
    }

    // MARK: - Parser: errors (Go's wording)

    func testErrorUnexpectedEnd() {
        for text in ["", "   ", "[", "[1", "[1,", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "\"abc", "\"a\\", "tru", "nul", "-",
                     "\"\\u12"] {
            assertParseError(text, "unexpected end of JSON input")
        }
    }

    func testErrorLookingForBeginningOfValue() {
        assertParseError("x", "invalid character 'x' looking for beginning of value")
        assertParseError("[1,]", "invalid character ']' looking for beginning of value")
        assertParseError("{\"a\":}", "invalid character '}' looking for beginning of value")
        assertParseError("'a'", "invalid character '\\'' looking for beginning of value")
        assertParseError("+1", "invalid character '+' looking for beginning of value")
        assertParseError(".5", "invalid character '.' looking for beginning of value")
    }

    func testErrorAfterTopLevelValue() {
        assertParseError("{} {}", "invalid character '{' after top-level value")
        assertParseError("1 2", "invalid character '2' after top-level value")
        assertParseError("01", "invalid character '1' after top-level value")
        assertParseError("[1]]", "invalid character ']' after top-level value")
    }

    func testErrorsInObjects() {
        assertParseError("{1:2}", "invalid character '1' looking for beginning of object key string")
        assertParseError("{\"a\":1,}", "invalid character '}' looking for beginning of object key string")
        assertParseError("{\"a\" 1}", "invalid character '1' after object key")
        assertParseError("{\"a\":1 \"b\":2}", "invalid character '\"' after object key:value pair")
        assertParseError("{\"a\":1]", "invalid character ']' after object key:value pair")
    }

    func testErrorsInArrays() {
        assertParseError("[1 2]", "invalid character '2' after array element")
        assertParseError("[1}", "invalid character '}' after array element")
    }

    func testErrorsInStrings() {
        assertParseError("\"a\\x\"", "invalid character 'x' in string escape code")
        assertParseError("\"\\u12g4\"", "invalid character 'g' in \\u hexadecimal character escape")
    }

    func testControlCharacterInStringIsQuotedLikeGo() {
        // Go's quoteChar uses strconv.Quote: '\n', '\t', '\x01'.
        assertParseError("\"a\nb\"", "invalid character '\\n' in string literal")
        assertParseError("\"a\tb\"", "invalid character '\\t' in string literal")
        assertParseError([0x22, 0x01, 0x22], "invalid character '\\x01' in string literal")
    }

    func testErrorsInLiterals() {
        // Go: "invalid character 'x' in literal true (expecting 'e')".
        assertParseError("trux", "invalid character 'x' in literal true (expecting 'e')")
        assertParseError("fals0", "invalid character '0' in literal false (expecting 'e')")
        assertParseError("nUll", "invalid character 'U' in literal null (expecting 'u')")
    }

    func testErrorsInNumbers() {
        assertParseError("-x", "invalid character 'x' in numeric literal")
        assertParseError("[-]", "invalid character ']' in numeric literal")
        // Go names the offending character, and reports a truncated number as end of input.
        assertParseError("1.x", "invalid character 'x' after decimal point in numeric literal")
        assertParseError("1ex", "invalid character 'x' in exponent of numeric literal")
        assertParseError("1.", "unexpected end of JSON input")
        assertParseError("1e", "unexpected end of JSON input")
        assertParseError("1e+", "unexpected end of JSON input")
    }

    func testDepthLimit() {
        func nested(_ n: Int) -> String { String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        XCTAssertNoThrow(try JSONParser.parse(Array(nested(3).utf8), maxDepth: 3))
        assertParseError(nested(10), "exceeded max depth", maxDepth: 3)
        assertParseError(#"{"a":{"b":{"c":{"d":{"e":1}}}}}"#, "exceeded max depth", maxDepth: 3)
        XCTAssertNoThrow(try JSONParser.parse(nested(100)), "modest nesting is fine with the default limit")
        assertParseError(nested(100_000), "exceeded max depth")
    }

    func testErrorOffsetPointsAtTheProblem() {
        do {
            _ = try JSONParser.parse("[1, 2, x]")
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.offset, 7)
        }
    }

    // MARK: - Writer

    func testWritesCompactValuesInOrder() {
        let v: JSON = ["z": 1, "a": [true, false, nil], "m": ["k": "v"], "e": .array([]), "o": .object(JSONObject())]
        XCTAssertEqual(write(v), #"{"z":1,"a":[true,false,null],"m":{"k":"v"},"e":[],"o":{}}"#)
    }

    func testWritesIntegers() {
        XCTAssertEqual(write(.int(0)), "0")
        XCTAssertEqual(write(.int(7)), "7")
        XCTAssertEqual(write(.int(-42)), "-42")
        XCTAssertEqual(write(.int(1234567890)), "1234567890")
        XCTAssertEqual(write(.int(Int64.max)), "9223372036854775807")
        XCTAssertEqual(write(.int(Int64.min)), "-9223372036854775808")
        var out: [UInt8] = Array("x=".utf8)
        JSONWriter.writeInt(-305, into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "x=-305", "writeInt appends")
    }

    func testWritesDoublesLikeGo() {
        XCTAssertEqual(write(.double(1.5)), "1.5")
        XCTAssertEqual(write(.double(-0.25)), "-0.25")
        XCTAssertEqual(write(.double(3.0)), "3", "whole doubles print without a fraction")
        XCTAssertEqual(write(.double(1e6)), "1000000")
        XCTAssertEqual(write(.double(.nan)), "null")
        XCTAssertEqual(write(.double(.infinity)), "null")
        // Go: 'f' format for 1e-6 <= |x| < 1e21, otherwise 'e' with a two-digit exponent minimum removed.
        XCTAssertEqual(write(.double(0.00001)), "0.00001")
        XCTAssertEqual(write(.double(0.000123)), "0.000123")
        XCTAssertEqual(write(.double(1e-7)), "1e-7")
        XCTAssertEqual(write(.double(1.5e300)), "1.5e+300")
    }

    func testWritesLargeWholeDoubles() throws {
        // Whole doubles beyond Int64 once trapped in the writer; they must print as Go prints them.
        XCTAssertEqual(write(.double(1e20)), "100000000000000000000")
        XCTAssertEqual(write(parse("1e20")), "100000000000000000000")
    }

    func testStringEscapingIsGoCompatible() {
        XCTAssertEqual(write("plain"), #""plain""#)
        XCTAssertEqual(write("q\"b\\"), #""q\"b\\""#)
        XCTAssertEqual(write("a\nb\rc\td"), #""a\nb\rc\td""#)
        XCTAssertEqual(write("<a href='x'>&amp;</a>"), #""\u003ca href='x'\u003e\u0026amp;\u003c/a\u003e""#)
        XCTAssertEqual(write("line\u{2028}para\u{2029}end"), #""line\u2028para\u2029end""#)
        XCTAssertEqual(write("\u{0}\u{1}\u{1f}"), #""\u0000\u0001\u001f""#)
        XCTAssertEqual(write("\u{7f}"), "\"\u{7f}\"", "DEL is not escaped")
        XCTAssertEqual(write("/"), #""/""#, "slash is not escaped")
        XCTAssertEqual(write("é中😀"), "\"é中😀\"", "non-ASCII is written as UTF-8")
        XCTAssertEqual(write("\u{2027}\u{202A}"), "\"\u{2027}\u{202A}\"", "neighbours of U+2028/2029 are not escaped")
    }

    func testBackspaceAndFormFeedUseShortEscapes() {
        // Go 1.22+ (kube 1.32 is built with Go 1.23) writes \b and \f instead of \u0008 and \u000c.
        XCTAssertEqual(write("\u{8}\u{c}"), #""\b\f""#)
    }

    func testObjectKeysAreEscapedToo() {
        let v: JSON = ["<k>": "v"]
        XCTAssertEqual(write(v), #"{"\u003ck\u003e":"v"}"#)
    }

    func testRoundTrips() throws {
        let texts = [
            #"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}]}]}}"#,
            #"[1,-2,3.25,true,false,null,"s",[],{}]"#,
            #"{"z":{"y":{"x":[[[]]]}}}"#,
            #""\u003c\u003e\u0026\u2028\u2029\n\t\"\\""#,
        ]
        for t in texts {
            let v = try JSONParser.parse(t)
            XCTAssertEqual(JSONWriter.string(v), t, "byte-exact round trip")
            XCTAssertEqual(try JSONParser.parse(JSONWriter.encode(v)), v)
        }
        // Unicode escapes in input come back as raw UTF-8 (except the ones Go always escapes).
        XCTAssertEqual(JSONWriter.string(try JSONParser.parse(#""\u00e9\ud83d\ude00""#)), "\"é😀\"")
    }

    func testEncodeAndStringAgree() {
        let v: JSON = ["a": [1, 2, "three"]]
        XCTAssertEqual(String(decoding: JSONWriter.encode(v), as: UTF8.self), JSONWriter.string(v))
        var out: [UInt8] = [0x5b]
        JSONWriter.write(v, into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "[" + JSONWriter.string(v), "write appends")
    }

    // MARK: - JSONObject

    func testObjectKeepsInsertionOrderAndPosition() {
        var o = JSONObject()
        o["b"] = 1
        o["a"] = 2
        o["c"] = 3
        XCTAssertEqual(o.keys, ["b", "a", "c"])
        o["a"] = 20
        XCTAssertEqual(o.keys, ["b", "a", "c"], "overwriting keeps the key's position")
        XCTAssertEqual(o["a"], 20)
        XCTAssertEqual(o.count, 3)
        XCTAssertEqual(o.index(of: "c"), 2)
        XCTAssertNil(o.index(of: "nope"))
        XCTAssertEqual(o.map(\.key), ["b", "a", "c"], "iteration follows insertion order")
    }

    func testSettingNilRemoves() {
        var o: JSONObject = ["a": 1, "b": 2, "c": 3]
        o["b"] = nil
        XCTAssertEqual(o.keys, ["a", "c"])
        XCTAssertNil(o["b"])
        o["missing"] = nil
        XCTAssertEqual(o.keys, ["a", "c"], "removing an absent key is a no-op")
        o["b"] = 4
        XCTAssertEqual(o.keys, ["a", "c", "b"], "a re-added key goes to the end")
        o["a"] = .null
        XCTAssertEqual(o["a"], .null, "setting JSON null keeps the key")
        XCTAssertEqual(o.count, 3)
        o["a"] = nil; o["b"] = nil; o["c"] = nil
        XCTAssertTrue(o.isEmpty)
    }

    func testInitFromPairsIsLastWins() {
        let o = JSONObject([("a", 1), ("b", 2), ("a", 3)])
        XCTAssertEqual(o.keys, ["a", "b"])
        XCTAssertEqual(o["a"], 3)
    }

    func testEqualityIgnoresKeyOrder() {
        let a: JSONObject = ["x": 1, "y": ["p": 1, "q": 2]]
        let b: JSONObject = ["y": ["q": 2, "p": 1], "x": 1]
        XCTAssertEqual(a, b)
        XCTAssertEqual(JSON.object(a), JSON.object(b))
        XCTAssertNotEqual(a, ["x": 1] as JSONObject, "different key sets differ")
        XCTAssertNotEqual(a, ["x": 1, "z": ["p": 1, "q": 2]] as JSONObject, "same size, different keys")
        XCTAssertNotEqual(["x": 1] as JSONObject, ["x": 2] as JSONObject)
        XCTAssertNotEqual(JSON.array([1, 2]), JSON.array([2, 1]), "array order matters")
    }

    func testNumericEqualityAcrossIntAndDouble() {
        XCTAssertEqual(JSON.int(1), JSON.double(1.0))
        XCTAssertEqual(JSON.double(1.0), JSON.int(1))
        XCTAssertNotEqual(JSON.int(1), JSON.double(1.5))
        XCTAssertEqual(parse(#"{"a":[1,2.0]}"#), parse(#"{"a":[1.0,2]}"#))
        XCTAssertNotEqual(JSON.int(1), JSON.string("1"))
        XCTAssertNotEqual(JSON.bool(true), JSON.int(1))
        XCTAssertNotEqual(JSON.null, JSON.bool(false))
    }

    func testWithObjectCreatesAndModifiesNested() {
        var o: JSONObject = ["kind": "Pod"]
        o.withObject("metadata") { $0["name"] = "p" }
        o.withObject("metadata") { $0.withObject("labels") { $0["a"] = "b" } }
        XCTAssertEqual(JSONWriter.string(.object(o)), #"{"kind":"Pod","metadata":{"name":"p","labels":{"a":"b"}}}"#)
    }

    func testLiteralsBuildTheExpectedValues() {
        let v: JSON = ["s": "x", "i": 3, "b": true, "n": nil, "a": [1, "two"]]
        XCTAssertEqual(v["s"], .string("x"))
        XCTAssertEqual(v["i"], .int(3))
        XCTAssertEqual(v["b"], .bool(true))
        XCTAssertEqual(v["n"], .null)
        XCTAssertEqual(v["a"].arrayValue?.count, 2)
        XCTAssertEqual(v["s"].stringValue, "x")
        XCTAssertNil(v["i"].stringValue)
        XCTAssertEqual(v["b"].boolValue, true)
        XCTAssertNil(v["s"].boolValue)
        XCTAssertNil(v["s"].arrayValue)
        XCTAssertNil(v["s"].objectValue)
    }

    func testMemoizedLabelsFollowChanges() {
        var o: JSONObject = ["kind": "Pod", "metadata": ["name": "a", "labels": ["app": "web", "n": 1]]]
        XCTAssertEqual(o.memoizeLabels(), ["app": "web"], "non-string values are skipped, as in labels")
        XCTAssertEqual(o.labels, ["app": "web"])
        let copy = o
        o.withObject("metadata") { $0["labels"] = ["app": "db"] }
        XCTAssertEqual(o.labels, ["app": "db"], "a change drops the memo")
        XCTAssertEqual(copy.labels, ["app": "web"], "an unchanged copy keeps it")
        var p = copy
        p["spec"] = [:]
        XCTAssertEqual(p.labels, ["app": "web"])
        p.metadata = ["name": "a"]
        XCTAssertEqual(p.labels, [:])
        XCTAssertEqual(copy, ["kind": "Pod", "metadata": ["name": "a", "labels": ["app": "web", "n": 1]]], "the memo is not part of equality")
    }

    func testSpecSelector() {
        var svc: JSONObject = ["kind": "Service", "spec": ["selector": ["app": "web", "n": 1]]]
        XCTAssertEqual(svc.specSelector, ["app": "web"])
        _ = svc.memoizeLabels()
        XCTAssertEqual(svc.specSelector, ["app": "web"], "memoized")
        svc["spec"] = ["selector": [:]]
        XCTAssertNil(svc.specSelector, "an empty selector is none")
        svc["spec"] = ["selector": "x"]
        XCTAssertNil(svc.specSelector)
        XCTAssertNil(JSONObject().specSelector)
    }

    func testMemoizedLabelsAreTakenFromAnUnchangedPreviousVersion() {
        var v1: JSONObject = ["kind": "Service", "metadata": ["name": "a", "labels": ["app": "web"]],
                              "spec": ["selector": ["app": "web"]]]
        _ = v1.memoizeLabels()
        // A status-like change: labels and selector are the same values.
        var v2 = v1
        v2["status"] = ["loadBalancer": [:]]
        XCTAssertEqual(v2.memoizeLabels(like: v1), ["app": "web"])
        XCTAssertEqual(v2.specSelector, ["app": "web"])
        // Equal content made anew, or a changed label or selector, is computed again.
        var v3 = v2
        v3.withObject("metadata") { $0["labels"] = ["app": "db"] }
        XCTAssertEqual(v3.memoizeLabels(like: v2), ["app": "db"])
        var v4 = v2
        v4["spec"] = ["selector": ["app": "api"]]
        XCTAssertEqual(v4.memoizeLabels(like: v2), ["app": "web"])
        XCTAssertEqual(v4.specSelector, ["app": "api"])
    }

    func testObjectsWithEqualLabelsShareOneMemo() {
        func pod(_ name: String, _ app: String) -> JSONObject {
            ["kind": "Pod", "metadata": ["name": .string(name), "labels": ["app": .string(app), "pod-template-hash": "abc"]]]
        }
        var a = pod("a", "web"), b = pod("b", "web"), c = pod("c", "db")
        XCTAssertEqual(a.memoizeLabels(), ["app": "web", "pod-template-hash": "abc"])
        XCTAssertEqual(b.memoizeLabels(), a.labels)
        XCTAssertEqual(c.memoizeLabels(), ["app": "db", "pod-template-hash": "abc"])
        XCTAssertTrue(a.derived === b.derived, "equal labels, built apart: one memo")
        XCTAssertFalse(a.derived === c.derived)
        // A selector is part of what is shared: equal labels with another selector get their own.
        var svc: JSONObject = ["kind": "Service", "metadata": ["name": "s", "labels": ["app": "web", "pod-template-hash": "abc"]],
                               "spec": ["selector": ["app": "web"]]]
        XCTAssertEqual(svc.memoizeLabels(), a.labels)
        XCTAssertFalse(svc.derived === a.derived)
        XCTAssertEqual(svc.specSelector, ["app": "web"])
        XCTAssertNil(a.specSelector)
    }

    func testShrinkToFitDropsSpareCapacity() {
        var o = JSONObject()
        for i in 0..<9 { o["k\(i)"] = .int(Int64(i)) }
        let before = o
        XCTAssertGreaterThan(o.capacity, 9, "appending leaves spare capacity")
        o.shrinkToFit()
        XCTAssertEqual(o.capacity, 9)
        XCTAssertEqual(o, before)
        XCTAssertEqual(o.keys, before.keys, "order kept")
    }
}
