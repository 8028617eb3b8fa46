/// Reads a SentencePiece `ModelProto` (`tokenizer.model`) with a minimal protobuf wire-format reader.
///
/// Fields used (sentencepiece_model.proto): ModelProto 1 = pieces (SentencePiece: 1 piece, 2 score,
/// 3 type), 2 = trainer_spec (3 model_type, 35 byte_fallback, 40 unk_id, 41 bos_id, 42 eos_id,
/// 43 pad_id), 3 = normalizer_spec (1 name, 2 precompiled_charsmap, 3 add_dummy_prefix,
/// 4 remove_extra_whitespaces, 5 escape_whitespaces).
enum SentencePieceLoader {
    static func load(_ bytes: [UInt8], configuration: HuggingFaceConfiguration?) throws(TokenizerError) -> TokenizerDefinition {
        var pieces: [String] = []
        var scores: [Float] = []
        var types: [Int32] = []
        var modelType: UInt64 = 1  // UNIGRAM is the proto default
        var byteFallback = false
        var unknownId: Int64 = 0, bosId: Int64 = 1, eosId: Int64 = 2, padId: Int64 = -1
        var normalizerName = "nmt_nfkc"
        var hasCharsMap = false
        var addDummyPrefix = true
        var removeExtraWhitespaces = true
        var escapeWhitespaces = true

        var reader = ProtobufReader(bytes[...])
        while let field = try reader.nextField() {
            switch (field.number, field.value) {
            case (1, .bytes(let message)):
                var piece = ProtobufReader(message)
                var text = ""
                var score: Float = 0
                var type: Int32 = 1
                while let pieceField = try piece.nextField() {
                    switch (pieceField.number, pieceField.value) {
                    case (1, .bytes(let raw)):
                        guard let decoded = String(validating: raw, as: UTF8.self) else {
                            throw .malformedProtobuf(reason: "piece \(pieces.count) is not UTF-8")
                        }
                        text = decoded
                    case (2, .fixed32(let bits)): score = Float(bitPattern: bits)
                    case (3, .varint(let value)): type = Int32(truncatingIfNeeded: value)
                    default: break
                    }
                }
                pieces.append(text)
                scores.append(score)
                types.append(type)
            case (2, .bytes(let message)):
                var trainer = ProtobufReader(message)
                while let trainerField = try trainer.nextField() {
                    guard case .varint(let value) = trainerField.value else { continue }
                    let signed = Int64(bitPattern: value)
                    switch trainerField.number {
                    case 3: modelType = value
                    case 35: byteFallback = value != 0
                    case 40: unknownId = signed
                    case 41: bosId = signed
                    case 42: eosId = signed
                    case 43: padId = signed
                    default: break
                    }
                }
            case (3, .bytes(let message)):
                var normalizer = ProtobufReader(message)
                while let normalizerField = try normalizer.nextField() {
                    switch (normalizerField.number, normalizerField.value) {
                    case (1, .bytes(let raw)): normalizerName = String(decoding: raw, as: UTF8.self)
                    case (2, .bytes(let raw)): hasCharsMap = !raw.isEmpty
                    case (3, .varint(let value)): addDummyPrefix = value != 0
                    case (4, .varint(let value)): removeExtraWhitespaces = value != 0
                    case (5, .varint(let value)): escapeWhitespaces = value != 0
                    default: break
                    }
                }
            default:
                break
            }
        }
        let file = "tokenizer.model"
        guard modelType == 2 else { throw .unsupported(file: file, feature: "SentencePiece model type \(modelType) (only BPE = 2)") }
        guard normalizerName == "identity" || (!hasCharsMap && normalizerName.isEmpty) else {
            throw .unsupported(file: file, feature: "SentencePiece normalizer '\(normalizerName)'")
        }
        guard escapeWhitespaces else { throw .unsupported(file: file, feature: "escape_whitespaces = false") }
        func id(_ value: Int64) -> Int32? { value >= 0 && value < Int64(pieces.count) ? Int32(value) : nil }
        let vocabulary = SentencePieceVocabulary(
            pieces: pieces, scores: scores, types: types, unknownId: id(unknownId), bosId: id(bosId), eosId: id(eosId),
            padId: id(padId), byteFallback: byteFallback, addDummyPrefix: addDummyPrefix,
            removeExtraWhitespaces: removeExtraWhitespaces, source: file)
        var definition = try vocabulary.makeDefinition()
        configuration?.apply(to: &definition)
        // LlamaTokenizer's defaults: add bos, not eos.
        VocabularyBuilder.applyBosEos(&definition, addBos: configuration?.addBosToken ?? true, addEos: configuration?.addEosToken ?? false)
        return definition
    }
}

/// Protobuf wire-format reader over a byte slice: varint, 64-bit, length-delimited and 32-bit fields.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    private let bytes: ArraySlice<UInt8>
    private var offset: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    private mutating func readVarint() throws(TokenizerError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.endIndex else { throw .malformedProtobuf(reason: "truncated varint at \(offset)") }
            guard shift < 64 else { throw .malformedProtobuf(reason: "varint longer than 10 bytes at \(offset)") }
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    private mutating func readFixed(_ count: Int) throws(TokenizerError) -> UInt64 {
        guard bytes.endIndex - offset >= count else { throw .malformedProtobuf(reason: "truncated fixed field at \(offset)") }
        var value: UInt64 = 0
        for index in 0..<count { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        offset += count
        return value
    }

    /// The next field, or nil at the end.
    mutating func nextField() throws(TokenizerError) -> (number: UInt64, value: Value)? {
        guard offset < bytes.endIndex else { return nil }
        let key = try readVarint()
        let number = key >> 3
        switch key & 7 {
        case 0: return (number, .varint(try readVarint()))
        case 1: return (number, .fixed64(try readFixed(8)))
        case 2:
            let length = try readVarint()
            guard length <= UInt64(bytes.endIndex - offset) else { throw .malformedProtobuf(reason: "field \(number) overruns the message") }
            let slice = bytes[offset..<(offset + Int(length))]
            offset += Int(length)
            return (number, .bytes(slice))
        case 5: return (number, .fixed32(UInt32(truncatingIfNeeded: try readFixed(4))))
        default:
            throw .malformedProtobuf(reason: "unsupported wire type \(key & 7) for field \(number)")
        }
    }
}
