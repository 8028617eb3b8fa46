/// How the elements of one tensor are encoded in a `.diffu` file.
///
/// The raw values are the codes written in the file's tensor directory (see `formats/diffu-v1.md`);
/// they never change meaning once released.
public enum StorageType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// IEEE 754 binary32, little-endian.
    case f32 = 0
    /// IEEE 754 binary16, little-endian.
    case f16 = 1
    /// bfloat16 (the upper 16 bits of a binary32), little-endian.
    case bf16 = 2
    /// Symmetric int8 blocks: 32 values along the input dimension share one f16 scale. Panel layout only.
    case q8 = 3
    /// Symmetric int4 blocks: 32 values along the input dimension share one f16 scale
    /// (llama.cpp Q4_0 rounding). Panel layout only.
    case q4 = 4
    /// Opaque bytes (embedded tokenizer files and other blobs). Row-major layout, rank 1.
    case bytes = 5

    /// The lower-case name used on the command line, in metadata and in `diffu inspect` (the codec's
    /// ``StorageCodec/name``).
    public var name: String { codec?.name ?? "bytes" }

    /// Same as ``name``.
    public var description: String { name }

    /// Parses a ``name``; `nil` for an unknown name.
    public init?(name: String) {
        guard let match = StorageType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Whether values are stored as integer blocks with scales (only valid in ``TensorLayout/panel16``):
    /// the types whose codec has a ``codeRange``.
    public var isQuantized: Bool { codeRange != nil }

    /// Whether the kernel variants' integer routes handle this type (its codec's
    /// ``StorageCodec/hasIntegerKernels``).
    public var hasIntegerKernels: Bool { codec?.hasIntegerKernels ?? false }

    /// For the quantized types, the integer codes a block can hold (value = f16 scale × code): q8 any
    /// int8, q4 −8…7. `nil` for the other types.
    public var codeRange: ClosedRange<Int>? { codec?.codeRange }

    /// Bytes per element in ``TensorLayout/rowMajor``; `nil` for the types with a panel layout only.
    public var elementByteCount: Int? { self == .bytes ? 1 : codec?.elementByteCount }

    /// Runs `visitor` with this type's codec (specialized for it when the call is compiled with a concrete
    /// visitor), or returns `nil` for ``bytes``, the one type without a codec (it has no panel layout).
    ///
    /// The codec registry: one line per storage type.
    @inlinable
    public func withCodec<Visitor: StorageCodecVisitor>(_ visitor: Visitor) -> Visitor.Result? {
        switch self {
        case .f32: visitor.visit(F32Codec.self)
        case .f16: visitor.visit(F16Codec.self)
        case .bf16: visitor.visit(BF16Codec.self)
        case .q8: visitor.visit(Q8Codec.self)
        case .q4: visitor.visit(Q4Codec.self)
        case .bytes: nil
        }
    }

    /// This type's codec, `nil` for ``bytes``. For the traits and the code that runs once per tensor;
    /// hot loops dispatch through ``withCodec(_:)`` instead (a call through the existential per block
    /// would not inline).
    public var codec: (any StorageCodec.Type)? { withCodec(CodecLookup()) }
}

/// The visitor behind ``StorageType/codec``.
private struct CodecLookup: StorageCodecVisitor {
    func visit<Codec: StorageCodec>(_ codec: Codec.Type) -> any StorageCodec.Type { codec }
}

/// How the elements of a tensor are ordered in its payload.
public enum TensorLayout: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Logical row-major order, the last dimension contiguous. Any rank; unquantized types only.
    case rowMajor = 0
    /// A weight matrix `[rows N (outputs), columns K (inputs)]` cut into panels of 16 rows, each panel
    /// stored input-major in blocks of 32 inputs — the order the matrix-multiply kernels read.
    /// See ``PanelGeometry`` for the exact byte layout.
    case panel16 = 1

    /// The name used in metadata and in `diffu inspect`.
    public var name: String {
        switch self {
        case .rowMajor: "row-major"
        case .panel16: "panel16"
        }
    }

    /// Same as ``name``.
    public var description: String { name }
}
