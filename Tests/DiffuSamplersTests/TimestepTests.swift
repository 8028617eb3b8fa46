import Testing
import DiffuSamplers

/// Dream's timestep schedule is `torch.linspace(1, eps, steps + 1)`.
@Test func dreamTimestepsAreALinearSchedule() {
    let steps = 4, epsilon = 1e-3
    let timesteps = dreamTimesteps(steps: steps, epsilon: epsilon)
    #expect(timesteps.count == steps + 1)
    for (index, value) in timesteps.enumerated() {
        let expected = 1 + (epsilon - 1) * Double(index) / Double(steps)
        #expect(abs(Double(value) - expected) < 1e-6)
    }
}
