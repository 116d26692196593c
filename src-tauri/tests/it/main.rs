//! The desktop app's tests: generated bindings up to date, the window's permissions, and the
//! real app driven end to end under Xvfb (`e2e`).

mod bindings;
mod e2e;
mod security;
