import Foundation

/// A little-endian float32 `.npy` file (format 1.x or 2.x, C order) as written by `numpy.save`: the
/// reference values that the `tools/` scripts compute with numpy or gguf-py. Test support only.
public struct NumpyArray {
    /// Why a file could not be read.
    public struct ReadError: Error, CustomStringConvertible {
        /// What was wrong.
        public let description: String
    }

    /// The array's shape, outermost first.
    public let shape: [Int]
    /// The values in C order.
    public let values: [Float]

    /// Reads the file at `path`.
    /// - Throws: ``ReadError`` for a missing file, another dtype or order, or a size that disagrees with the shape.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReadError(description: "cannot read \(path)") }
        let bytes = [UInt8](data)
        guard bytes.count > 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw ReadError(description: "\(path) is not an npy file")
        }
        let headerStart = bytes[6] == 1 ? 10 : 12
        var headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        if bytes[6] != 1 { headerLength |= Int(bytes[10]) << 16 | Int(bytes[11]) << 24 }
        guard headerStart + headerLength <= bytes.count,
              let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .ascii),
              header.contains("'descr': '<f4'"), header.contains("'fortran_order': False"),
              let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")")
        else { throw ReadError(description: "\(path): not a little-endian float32 C-order npy header") }
        shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *), start = headerStart + headerLength
        guard bytes.count == start + 4 * count else { throw ReadError(description: "\(path): \(bytes.count - start) data bytes for shape \(shape)") }
        values = (0..<count).map { index in
            let offset = start + 4 * index
            return Float(bitPattern: UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        }
    }
}
