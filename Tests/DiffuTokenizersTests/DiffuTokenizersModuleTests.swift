import Testing
import DiffuTokenizers

@Test func DiffuTokenizersModuleLinks() {
    #expect(DiffuTokenizersModule.name == "DiffuTokenizers")
}
