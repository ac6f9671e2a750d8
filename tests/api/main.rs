//! Integration tests: the real HTTP API over a real database, on SQLite and PostgreSQL.

mod common;

mod auth;
mod autocalls;
mod carriers;
mod edge;
mod events;
mod faults;
mod ids;
mod inventory;
mod jobs;
mod lifecycle;
mod metrics;
mod migrations;
mod openapi;
mod plans;
mod query_names;
mod robustness;
mod text_input;
mod webhooks;
