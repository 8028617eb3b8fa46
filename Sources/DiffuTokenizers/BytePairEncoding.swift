/// Merge rules keyed by the integer pair (left id, right id), in an open-addressing hash table.
///
/// Layout: `slots[2 * i] = UInt64(left) << 32 | UInt64(right)` (`emptyKey` when free) and
/// `slots[2 * i + 1] = UInt64(rank) << 32 | UInt64(result)`: key and value share a cache line, so a
/// lookup costs one memory access. A lower rank merges first. Linear probing, load factor at most 1/2.
struct PairTable: Sendable {
    private var slots: [UInt64]
    private var mask: Int
    private var shift: UInt64
    private(set) var count = 0
    /// `members[id]` is true when the id is the left or right side of some merge.
    private(set) var members: [Bool] = []

    static let emptyKey = UInt64.max
    /// Returned by `lookup` when a pair has no merge.
    static let noMerge = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Self.emptySlots(size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
    }

    private static func emptySlots(_ size: Int) -> [UInt64] {
        var slots = [UInt64](repeating: 0, count: 2 * size)
        for index in stride(from: 0, to: slots.count, by: 2) { slots[index] = emptyKey }
        return slots
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
        if (count + 1) * 2 > slots.count / 2 { grow() }
        let key = Self.key(left, right)
        var index = slot(for: key)
        while slots[2 * index] != Self.emptyKey {
            if slots[2 * index] == key { return }
            index = (index + 1) & mask
        }
        slots[2 * index] = key
        slots[2 * index + 1] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: result))
        count += 1
        let largest = Int(max(left, right))
        if largest >= members.count { members += [Bool](repeating: false, count: largest + 1 - members.count) }
        if left >= 0 { members[Int(left)] = true }
        if right >= 0 { members[Int(right)] = true }
    }

    private mutating func grow() {
        let old = slots
        let size = slots.count  // twice the slot count
        slots = Self.emptySlots(size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
        count = 0
        for index in stride(from: 0, to: old.count, by: 2) where old[index] != Self.emptyKey {
            let key = old[index]
            let value = old[index + 1]
            insert(left: Int32(truncatingIfNeeded: key >> 32), right: Int32(truncatingIfNeeded: key),
                   rank: Int32(truncatingIfNeeded: value >> 32), result: Int32(truncatingIfNeeded: value))
        }
    }

    /// `rank << 32 | result` for the pair, or `noMerge`.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = Self.key(left, right)
        return slots.withUnsafeBufferPointer { slots in
            var index = slot(for: key)
            while true {
                let stored = slots[2 * index]
                if stored == key { return slots[2 * index + 1] }
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
    /// `barriers[id]` marks symbols that take part in no merge: the word is cut there into parts that
    /// cannot interact, each merged on its own (same result, smaller heaps: LLaMA's newline is such a
    /// byte-fallback symbol, so a whole document is merged line by line).
    static func merge(_ workspace: inout MergeWorkspace, count: Int, pairs: PairTable, barriers: [Bool], output: inout [Int32]) {
        if count == 0 { return }
        if count == 1 { output.append(workspace.ids[0]); return }
        workspace.next.removeAll(keepingCapacity: true)
        workspace.previous.removeAll(keepingCapacity: true)
        workspace.next.reserveCapacity(count)
        workspace.previous.reserveCapacity(count)
        for position in 0..<count {
            workspace.next.append(Int32(position + 1))
            workspace.previous.append(Int32(position - 1))
        }
        var partStart = 0
        for position in 0..<count {
            let id = Int(workspace.ids[position])
            if id >= 0, id < barriers.count, barriers[id] {
                if position > partStart { mergePart(&workspace, partStart..<position, pairs: pairs, output: &output) }
                output.append(workspace.ids[position])
                partStart = position + 1
            }
        }
        if partStart < count { mergePart(&workspace, partStart..<count, pairs: pairs, output: &output) }
    }

    /// Merges the symbols in `part` (linked positions `part.lowerBound...`, the last one's `next` is
    /// treated as the end).
    private static func mergePart(_ workspace: inout MergeWorkspace, _ part: Range<Int>, pairs: PairTable, output: inout [Int32]) {
        if part.count == 1 { output.append(workspace.ids[part.lowerBound]); return }
        workspace.heap.removeAll(keepingCapacity: true)
        workspace.next[part.upperBound - 1] = -1
        workspace.previous[part.lowerBound] = -1
        workspace.ids.withUnsafeMutableBufferPointer { ids in
            workspace.next.withUnsafeMutableBufferPointer { next in
                workspace.previous.withUnsafeMutableBufferPointer { previous in
                    for position in part.lowerBound..<(part.upperBound - 1) {
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
                    var position = part.lowerBound
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
