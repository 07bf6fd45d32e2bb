//! Shared checks for the fuzz targets (see README.md).

pub mod checks;
