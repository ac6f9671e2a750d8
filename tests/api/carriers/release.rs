//! Releases at the carrier.
