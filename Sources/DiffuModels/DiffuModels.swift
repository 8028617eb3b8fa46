/// Namespace of the `DiffuModels` module (filled in by its owning issue).
public enum DiffuModelsModule {
    /// The module's name, for diagnostics.
    public static let name = "DiffuModels"
}
