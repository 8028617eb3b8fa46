import Testing
import DiffuModels

@Test func DiffuModelsModuleLinks() {
    #expect(DiffuModelsModule.name == "DiffuModels")
}
