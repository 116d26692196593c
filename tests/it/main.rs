//! Integration tests of the Lectern core.
