//! The document against the mounted routes, and its shape.

use std::collections::BTreeSet;

use spiritus_app::config::LimitsConfig;
use utoipa::openapi::path::{Operation, PathItem};

use super::document;
use crate::routes::route_table;

/// Mounted paths left out of the document on purpose, each with its reason. Static files of
/// the dashboard belong here; an API route never does.
const UNDOCUMENTED: &[(&str, &str)] = &[
    ("/", "the dashboard's HTML page, not an API call"),
    (
        "/assets/{*file}",
        "the dashboard's embedded scripts, styles and icons",
    ),
];

type Route = (String, String);

fn mounted() -> BTreeSet<Route> {
    route_table(&LimitsConfig::default())
        .iter()
        .filter(|mount| !UNDOCUMENTED.iter().any(|(path, _)| *path == mount.path()))
        .map(|mount| (mount.method().to_string(), mount.path().to_owned()))
        .collect()
}

fn operations(item: &PathItem) -> Vec<(&'static str, &Operation)> {
    [
        ("GET", &item.get),
        ("POST", &item.post),
        ("PUT", &item.put),
        ("PATCH", &item.patch),
        ("DELETE", &item.delete),
        ("HEAD", &item.head),
        ("OPTIONS", &item.options),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|operation| (method, operation)))
    .collect()
}

fn documented() -> BTreeSet<Route> {
    document()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            operations(item)
                .into_iter()
                .map(|(method, _)| (method.to_owned(), path.clone()))
        })
        .collect()
}

#[test]
fn openapi_covers_every_route() {
    let mounted = mounted();
    let documented = documented();
    let missing: Vec<_> = mounted.difference(&documented).collect();
    let unmounted: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        missing.is_empty(),
        "mounted routes missing from the OpenAPI document: {missing:?}. Declare each with \
         #[utoipa::path] in its group's file under crates/server/src/openapi/ and list it in \
         that file's `Api`; static files may instead go into UNDOCUMENTED with a reason."
    );
    assert!(
        unmounted.is_empty(),
        "documented paths that no route mounts: {unmounted:?}. Remove the declaration, or \
         mount the route in crates/server/src/routes/mod.rs."
    );
}

#[test]
fn undocumented_paths_are_mounted_and_give_a_reason() {
    let table = route_table(&LimitsConfig::default());
    for (path, reason) in UNDOCUMENTED {
        assert!(!reason.trim().is_empty(), "{path} needs a reason");
        assert!(
            table.iter().any(|mount| mount.path() == *path),
            "{path} is listed as undocumented but not mounted"
        );
    }
}

#[test]
fn every_operation_documents_success_and_the_error_body() {
    for (path, item) in &document().paths.paths {
        for (method, operation) in operations(item) {
            let statuses: Vec<&String> = operation.responses.responses.keys().collect();
            assert!(
                statuses.iter().any(|status| status.starts_with('2')),
                "{method} {path} documents no success status: {statuses:?}"
            );
            let public = path == "/healthz";
            assert!(
                public || statuses.iter().any(|status| *status == "default"),
                "{method} {path} does not document the error body (add `ApiErrors`)"
            );
        }
    }
}

#[test]
fn path_parameters_are_declared() {
    for (path, item) in &document().paths.paths {
        let names: Vec<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, operation) in operations(item) {
            let declared: Vec<&str> = operation
                .parameters
                .iter()
                .flatten()
                .filter(|parameter| {
                    parameter.parameter_in == utoipa::openapi::path::ParameterIn::Path
                })
                .map(|parameter| parameter.name.as_str())
                .collect();
            for name in &names {
                assert!(
                    declared.contains(name),
                    "{method} {path} does not declare its path parameter {name}"
                );
            }
        }
    }
}

#[test]
fn document_has_version_schemes_and_error_body() {
    let json: serde_json::Value = serde_json::from_str(super::document_json()).unwrap_or_default();
    assert_eq!(json["openapi"], "3.1.0");
    let schemes = &json["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    let error = &json["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error"]));
    let detail = &json["components"]["schemas"]["ErrorDetail"];
    assert_eq!(detail["required"], serde_json::json!(["code", "message"]));
}

#[test]
fn operation_ids_are_unique() {
    let mut seen = BTreeSet::new();
    for (path, item) in &document().paths.paths {
        for (method, operation) in operations(item) {
            let id = operation.operation_id.clone().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operation id");
            assert!(seen.insert(id.clone()), "operation id {id} is used twice");
        }
    }
}
