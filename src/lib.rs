//! numberd: a self-hosted service for a communications platform's phone numbers — inventory,
//! monthly billing periods, and release by kind, durably and exactly once.

pub mod app;
pub mod carrier;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod service;
pub mod store;
