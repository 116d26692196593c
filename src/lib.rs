//! Lectern core.
