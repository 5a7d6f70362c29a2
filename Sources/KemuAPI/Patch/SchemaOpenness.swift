extension PatchSchema {
    /// True when the schema does not enumerate its fields (e.g. `FieldsV1`, `RawExtension`),
    /// so any key is acceptable; used to spot unknown fields for `fieldValidation`.
    public var acceptsAnyField: Bool {
        guard let node = self as? PatchSchemaNode else { return true }
        return node.shape.fields.isEmpty && node.shape.additional == nil
    }
}
