import DiffuModels
import DiffuStorage
import Testing

/// The architecture descriptors' tensor tables against the reference fixtures (written from the
/// transformers models by tools/fixtures/make_model_fixtures.py): the table the loader and the converter read
/// must name exactly the tensors a real checkpoint of the architecture has.
struct ArchitectureDescriptorTests {
    /// Every architecture has a reference fixture, so its table is checked below.
    @Test func everyArchitectureHasAFixture() throws {
        let covered = try Set(ModelFixture.names.map { try ModelFixture($0).configuration().architecture })
        #expect(covered == Set(Architecture.allCases))
    }

    /// The table's present tensors are the fixture's canonical tensors: same names, shapes and kinds,
    /// and no name twice.
    @Test(arguments: ModelFixture.names)
    func tablePresentTensorsAreTheFixtures(name: String) throws {
        let fixture = ModelFixture(name)
        let configuration = try fixture.configuration()
        let table = configuration.architecture.descriptor.tensors(for: configuration)
        #expect(Set(table.map(\.name)).count == table.count)
        let present = table.filter(\.isPresent)
        let reference = try fixture.canonicalTensors()
        #expect(Set(present.map(\.name)) == Set(reference.keys))
        for tensor in present {
            let expected = try #require(reference[tensor.name])
            #expect(tensor.shape == expected.shape, "\(tensor.name)")
            #expect((tensor.kind == .matrix ? "matrix" : "vector") == expected.kind, "\(tensor.name)")
        }
    }

    /// A tensor the table lists as absent (a bias LLaMA lacks, its position table, a tied head) is
    /// refused by name when a file holds it.
    @Test(arguments: ModelFixture.names)
    func absentTensorsAreRefused(name: String) throws {
        let fixture = ModelFixture(name)
        let configuration = try fixture.configuration()
        let absent = configuration.architecture.descriptor.tensors(for: configuration)
            .filter { !$0.isPresent && ($0.layer ?? 0) == 0 }
        for tensor in absent {
            let weights = try fixture.weights(storage: .f32)
            if tensor.kind == .matrix {
                try weights.addMatrix(tensor.name, rows: tensor.shape[0], columns: tensor.shape[1],
                                      values: [Float](repeating: 0, count: tensor.elementCount), storage: .f32)
            } else {
                weights.addVector(tensor.name, values: [Float](repeating: 0, count: tensor.elementCount))
            }
            #expect(throws: ModelError.unexpectedTensor(tensor.name)) {
                try TransformerModel(configuration: configuration, weights: weights)
            }
        }
    }
}
