import Testing
import DiffuConvert

@Test func DiffuConvertModuleLinks() {
    #expect(DiffuConvertModule.name == "DiffuConvert")
}
