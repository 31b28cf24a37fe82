//! The workspace is a layering (ARCHITECTURE.md): the register at the bottom,
//! every dependency between the workspace's crates pointing down, never up
//! or sideways; nothing but the command depends on the notebooks, and only
//! the query surface and what stands on it links DataFusion. Read from
//! `cargo metadata`, so a new edge in any Cargo.toml is checked.

use std::collections::BTreeMap;

/// Each crate's layer: 0 is the ground floor.
const LAYERS: &[(&str, u32)] = &[
    ("utfall-register", 0),
    ("utfall-disclosure", 1),
    ("utfall-definitions", 1),
    ("utfall-report", 2),
    ("utfall-synth", 2),
    ("utfall-ingest", 2),
    ("utfall-indicators", 2),
    ("utfall-queries", 2),
    ("utfall-risk", 3),
    ("utfall-contracts", 3),
    ("utfall-notebooks", 4),
    ("utfall-dashboards", 4),
    ("utfall", 5),
];

/// Crates that may link DataFusion: the query surface and the pages built on its answers.
const DATAFUSION: &[&str] = &["utfall-queries", "utfall-notebooks", "utfall-dashboards", "utfall"];

#[test]
fn dependencies_point_down() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for package in meta["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        let Some(&own) = layer.get(name) else {
            problems.push(format!("{name} is in the workspace but has no layer in tests/it/layers.rs"));
            continue;
        };
        for dep in package["dependencies"].as_array().unwrap() {
            // Normal and build dependencies form the layering; tests may reach anywhere.
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            let d = dep["name"].as_str().unwrap();
            if d == "datafusion" && !DATAFUSION.contains(&name) {
                problems.push(format!("{name} (layer {own}) links datafusion"));
            }
            let Some(&theirs) = layer.get(d) else { continue };
            graph.entry(name.to_string()).or_default().push(format!("{d} ({theirs})"));
            if theirs >= own {
                problems
                    .push(format!("{name} (layer {own}) -> {d} (layer {theirs}): an arrow that does not point down"));
            }
            if d == "utfall-notebooks" && name != "utfall" {
                problems.push(format!("{name} depends on the notebooks; only the command may"));
            }
        }
    }
    for (name, deps) in &graph {
        println!("{name} ({}) -> {}", layer[name.as_str()], deps.join(", "));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
