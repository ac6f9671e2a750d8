//! Integration tests: the real HTTP API over a real database, on SQLite and PostgreSQL.

mod common;

mod auth;
mod autocalls;
mod edge;
mod ids;
mod inventory;
mod lifecycle;
mod openapi;
mod query_names;
mod robustness;
mod text_input;
