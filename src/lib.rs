//! numberd: a self-hosted service for a communications platform's phone numbers — inventory,
//! monthly billing periods, and release by kind, durably and exactly once.

pub mod carrier;
pub mod config;
pub mod domain;
pub mod error;
pub mod service;
pub mod store;
pub mod app;
pub mod http;
