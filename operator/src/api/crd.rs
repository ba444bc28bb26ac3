//! Final touches on the generated CRD (api step: pure transformation, no I/O).
//!
//! The derive emits JSON Schema integer formats (`uint16`, `uint32`, `uint64`) that the
//! API server does not know: it accepts them but warns on every `kubectl apply` and Helm
//! install. Their bounds are already in `minimum`/`maximum`, so the format is dropped.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

/// Formats the API server recognises for integers; anything else is dropped.
const KNOWN_INTEGER_FORMATS: [&str; 2] = ["int32", "int64"];

/// Applies the touches to every version's schema.
pub(crate) fn normalise(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            walk(schema);
        }
    }
    crd
}

fn walk(node: &mut JSONSchemaProps) {
    if node.type_.as_deref() == Some("integer")
        && node.format.as_deref().is_some_and(|f| !KNOWN_INTEGER_FORMATS.contains(&f))
    {
        node.format = None;
    }
    for child in node.properties.iter_mut().flat_map(|p| p.values_mut()) {
        walk(child);
    }
    match node.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(item)) => walk(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter_mut().for_each(walk),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(values)) = node.additional_properties.as_mut() {
        walk(values);
    }
    for branch in [&mut node.all_of, &mut node.any_of, &mut node.one_of].into_iter().flatten() {
        branch.iter_mut().for_each(walk);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_integer_formats_are_dropped_and_known_ones_kept() {
        let yaml = crate::api::crds_yaml().expect("serialises");
        for unknown in ["uint8", "uint16", "uint32", "uint64"] {
            assert!(!yaml.contains(&format!("format: {unknown}")), "{unknown} left in the CRD");
        }
        // observedGeneration (i64) keeps its recognised format.
        assert!(yaml.contains("format: int64"));
        // Bounds survive.
        assert!(yaml.contains("maximum: 65535.0"));
    }
}
