/// Merge rules keyed by the integer pair (left id, right id), in an open-addressing hash table.
///
/// Layout: `keys[slot] = UInt64(left) << 32 | UInt64(right)` (`emptyKey` when free) and
/// `values[slot] = UInt64(rank) << 32 | UInt64(result)`. A lower rank merges first.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private var shift: UInt64
    private(set) var count = 0

    static let emptyKey = UInt64.max
    /// Returned by `lookup` when a pair has no merge.
    static let noMerge = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.emptyKey, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(for key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Adds a merge unless the pair already has one (the first, lowest-ranked rule wins, as in HF).
    mutating func insert(left: Int32, right: Int32, rank: Int32, result: Int32) {
        if (count + 1) * 2 > keys.count { grow() }
        let key = Self.key(left, right)
        var index = slot(for: key)
        while keys[index] != Self.emptyKey {
            if keys[index] == key { return }
            index = (index + 1) & mask
        }
        keys[index] = key
        values[index] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: result))
        count += 1
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldValues = values
        let size = keys.count * 2
        keys = [UInt64](repeating: Self.emptyKey, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
        count = 0
        for (key, value) in zip(oldKeys, oldValues) where key != Self.emptyKey {
            insert(left: Int32(truncatingIfNeeded: key >> 32), right: Int32(truncatingIfNeeded: key),
                   rank: Int32(truncatingIfNeeded: value >> 32), result: Int32(truncatingIfNeeded: value))
        }
    }

    /// `rank << 32 | result` for the pair, or `noMerge`.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = Self.key(left, right)
        return keys.withUnsafeBufferPointer { keys in
            var index = slot(for: key)
            while true {
                let stored = keys[index]
                if stored == key { return values.withUnsafeBufferPointer { $0[index] } }
                if stored == Self.emptyKey { return Self.noMerge }
                index = (index + 1) & mask
            }
        }
    }
}

/// Reusable buffers for merging one word: a doubly linked list of symbols over the initial positions and
/// a binary min-heap of candidate merges.
struct MergeWorkspace {
    /// Symbol id per position; `removed` once merged into its left neighbour.
    var ids: [Int32] = []
    var next: [Int32] = []
    var previous: [Int32] = []
    /// Heap entries `rank << 32 | position`: the lowest rank merges first, ties go to the leftmost pair.
    var heap: [UInt64] = []

    static let removed: Int32 = -2
}

/// The merge loop shared by all vocabularies. It repeatedly applies the best-ranked adjacent merge, like
/// HF `tokenizers`' `Word::merge_all` and SentencePiece's BPE: O(n log n) in the word length.
enum MergeEngine {
    /// Merges `workspace.ids[0..<count]` in place and appends the surviving symbols to `output`.
    static func merge(_ workspace: inout MergeWorkspace, count: Int, pairs: PairTable, output: inout [Int32]) {
        if count == 1 { output.append(workspace.ids[0]); return }
        if count == 0 { return }
        workspace.next.removeAll(keepingCapacity: true)
        workspace.previous.removeAll(keepingCapacity: true)
        workspace.heap.removeAll(keepingCapacity: true)
        for position in 0..<count {
            workspace.next.append(position + 1 < count ? Int32(position + 1) : -1)
            workspace.previous.append(Int32(position - 1))
        }
        workspace.ids.withUnsafeMutableBufferPointer { ids in
            workspace.next.withUnsafeMutableBufferPointer { next in
                workspace.previous.withUnsafeMutableBufferPointer { previous in
                    for position in 0..<(count - 1) {
                        let merge = pairs.lookup(ids[position], ids[position + 1])
                        if merge != PairTable.noMerge {
                            workspace.heap.append(merge & 0xFFFF_FFFF_0000_0000 | UInt64(position))
                        }
                    }
                    Heap.heapify(&workspace.heap)
                    while let top = Heap.popMinimum(&workspace.heap) {
                        let position = Int(top & 0xFFFF_FFFF)
                        let rank = top >> 32
                        let left = ids[position]
                        if left == MergeWorkspace.removed { continue }
                        let rightPosition = Int(next[position])
                        if rightPosition < 0 { continue }
                        // The entry is stale unless the pair now at this position still merges with this rank.
                        let merge = pairs.lookup(left, ids[rightPosition])
                        if merge == PairTable.noMerge || merge >> 32 != rank { continue }
                        ids[position] = Int32(truncatingIfNeeded: merge)
                        ids[rightPosition] = MergeWorkspace.removed
                        let after = next[rightPosition]
                        next[position] = after
                        if after >= 0 { previous[Int(after)] = Int32(position) }
                        let before = previous[position]
                        if before >= 0 {
                            let candidate = pairs.lookup(ids[Int(before)], ids[position])
                            if candidate != PairTable.noMerge {
                                Heap.push(&workspace.heap, candidate & 0xFFFF_FFFF_0000_0000 | UInt64(before))
                            }
                        }
                        if after >= 0 {
                            let candidate = pairs.lookup(ids[position], ids[Int(after)])
                            if candidate != PairTable.noMerge {
                                Heap.push(&workspace.heap, candidate & 0xFFFF_FFFF_0000_0000 | UInt64(position))
                            }
                        }
                    }
                    var position = 0
                    while position >= 0 {
                        output.append(ids[position])
                        position = Int(next[position])
                    }
                }
            }
        }
    }
}

/// A binary min-heap over `UInt64` keys stored in an array.
enum Heap {
    static func heapify(_ heap: inout [UInt64]) {
        guard heap.count > 1 else { return }
        heap.withUnsafeMutableBufferPointer { buffer in
            var index = buffer.count / 2 - 1
            while index >= 0 {
                siftDown(buffer, from: index)
                index -= 1
            }
        }
    }

    @inline(__always)
    static func push(_ heap: inout [UInt64], _ value: UInt64) {
        heap.append(value)
        heap.withUnsafeMutableBufferPointer { buffer in
            var child = buffer.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                if buffer[parent] <= value { break }
                buffer[child] = buffer[parent]
                child = parent
            }
            buffer[child] = value
        }
    }

    @inline(__always)
    static func popMinimum(_ heap: inout [UInt64]) -> UInt64? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        return heap.withUnsafeMutableBufferPointer { buffer in
            let top = buffer[0]
            buffer[0] = last
            siftDown(buffer, from: 0)
            return top
        }
    }

    @inline(__always)
    private static func siftDown(_ buffer: UnsafeMutableBufferPointer<UInt64>, from start: Int) {
        let count = buffer.count
        let value = buffer[start]
        var index = start
        while true {
            var child = 2 * index + 1
            if child >= count { break }
            if child + 1 < count, buffer[child + 1] < buffer[child] { child += 1 }
            if buffer[child] >= value { break }
            buffer[index] = buffer[child]
            index = child
        }
        buffer[index] = value
    }
}
