//! The routes outside the API: the customer pages of a link (`public`), the "Connect with
//! Greenhouse" callback (`connect`), health checks, static files, and the metrics listener.

pub mod connect;
pub mod console;
pub mod console_admin;
pub mod console_audit;
pub mod console_drops;
pub mod health;
pub mod metrics;
pub mod public;
pub mod static_files;
