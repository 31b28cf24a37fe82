//! The compiled register (sammanställningsregister): the one definition of its
//! schema, code lists, personnummer rules, on-disk layout and manifest, used by
//! every stage of utfall.

pub mod dictionary;
pub mod local;
pub mod mapping;
pub mod pnr;
pub mod scan;
pub mod schema;
pub mod specfile;
pub mod store;

pub use schema::{Column, DERIVED, DerivedTable, Kind, MODEL_OUTPUTS, SCHEMA_VERSION, TABLES, Table};
pub use store::{IndicatorRun, Manifest, Store, TableCounts};

/// The tool's version, stamped on manifests and outputs.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
