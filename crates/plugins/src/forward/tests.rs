//! Case tables for `forward`.
