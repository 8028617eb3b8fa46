import Testing
import DiffuSamplers

@Test func DiffuSamplersModuleLinks() {
    #expect(DiffuSamplersModule.name == "DiffuSamplers")
}
