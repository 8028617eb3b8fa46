import Testing
import Diffu

@Test func DiffuModuleLinks() {
    #expect(DiffuModule.name == "Diffu")
}
