import Testing
import DiffuFormat

@Test func DiffuFormatModuleLinks() {
    #expect(DiffuFormatModule.name == "DiffuFormat")
}
