//! Empty on purpose: with a build script, cargo builds `common`'s `[build-dependencies]`, which align
//! the features of the proc macros' own dependencies (see the root `Cargo.toml`).

fn main() {}
