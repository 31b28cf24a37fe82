//! Integration tests of the `utfall` command: one binary, one module per concern.

mod support;

mod analyst;
mod bad_input;
mod cli;
mod cohort;
mod contract;
mod dashboard;
mod deliveries;
mod determinism;
mod disclosure;
mod indicators;
mod killed_build;
mod layers;
mod local;
mod lockfile;
mod model;
mod privacy;
mod reconcile;
mod synth_truth;
