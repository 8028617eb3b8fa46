import DiffuJSON
import Foundation
import Testing

/// The strict parser: integers apart from other numbers, objects in file order, typed errors, the
/// nesting cap; and the Codable round trip the `.diffu` metadata relies on.
@Suite struct JSONValueTests {
    static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    @Test func integersStayApartFromOtherNumbers() throws {
        let value = try Self.parse(#"[0, -7, 9223372036854775807, -9223372036854775808, 9223372036854775808, 1.0, 1e3, -0.5]"#)
        #expect(value == .array([.integer(0), .integer(-7), .integer(Int.max), .integer(Int.min), .number(9223372036854775808),
                                 .number(1), .number(1000), .number(-0.5)]))
        #expect(JSONValue.number(1).intValue == 1)
        #expect(JSONValue.number(0.5).intValue == nil)
        #expect(JSONValue.integer(3).doubleValue == 3)
    }

    @Test func objectsKeepFileOrderAndCompareAsDictionaries() throws {
        let value = try Self.parse(#"{"b": 1, "a": {"z": null, "y": true}, "b": 2}"#)
        #expect(value.members?.keys == ["b", "a", "b"])
        #expect(value["b"] == .integer(2))  // the last of a repeated key
        #expect(value["a"]?.members?.keys == ["z", "y"])
        #expect(value == .object(["a": .object(["y": .bool(true), "z": .null]), "b": .integer(2)]))
        #expect(value.objectValue?["b"] == .integer(2))
        let dictionary: [String: JSONValue] = ["k": .string("v")]
        #expect(JSONValue.object(dictionary)["k"] == .string("v"))
    }

    @Test func stringsAndEscapes() throws {
        #expect(try Self.parse(#""a\n\u00e9\ud83d\ude00\/""#) == .string("a\n\u{e9}\u{1F600}/"))
        #expect(try Self.parse(#""\ud800x""#) == .string("\u{FFFD}x"))  // a lone surrogate
        #expect(try JSONValue.parse([0xEF, 0xBB, 0xBF] + Array("null".utf8)) == .null)
    }

    @Test func malformedInputGetsOffsetAndReason() {
        #expect(throws: JSONSyntaxError(offset: 5, reason: "expected ':'")) { try Self.parse(#"{"a" 1}"#) }
        #expect(throws: JSONSyntaxError(offset: 5, reason: "trailing characters")) { try Self.parse("true x") }
        #expect(throws: JSONSyntaxError(offset: 1, reason: "unknown literal")) { try Self.parse(" nul!") }
        #expect(throws: JSONSyntaxError(offset: 2, reason: "invalid fraction")) { try Self.parse("1.") }
        #expect(throws: JSONSyntaxError(offset: 0, reason: "leading zero in a number")) { try Self.parse("01") }
        #expect(throws: JSONSyntaxError(offset: 2, reason: "leading zero in a number")) { try Self.parse("[-007]") }
        #expect(throws: Never.self) { _ = try Self.parse("[0, -0, 0.5, 10, 0e3]") }
        #expect(throws: JSONSyntaxError(offset: 4, reason: "invalid UTF-8 in string")) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func nestingIsCapped() throws {
        let depth = JSONSyntaxError.maximumDepth
        _ = try Self.parse(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
        #expect(throws: JSONSyntaxError(offset: depth, reason: "nesting deeper than \(depth)")) {
            try Self.parse(String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1))
        }
    }

    @Test func codableRoundTripSortsKeys() throws {
        let value = try Self.parse(#"{"z": [1, 2.5, "x"], "a": {"n": null, "t": false}}"#)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
        #expect(text == #"{"a":{"n":null,"t":false},"z":[1,2.5,"x"]}"#)
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) == value)
    }
}
