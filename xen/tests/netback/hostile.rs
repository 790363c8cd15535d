//! Hostile frontends.
